package root_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/root"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdtest"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/fakegateway"
	"github.com/sta-federation/sta-gateway/gateway/api"
)

// Scripts that behave the same on the fake gateway and on real Slurm.
const (
	helloScript = "#!/bin/bash\n#SBATCH --job-name=hello\n#SBATCH --nodes=1\n#SBATCH --time=1\necho hello\necho world\necho oops >&2\nexit 0\n"
	exit3Script = "#!/bin/bash\n#SBATCH --time=1\necho going to fail\nexit 3\n"
	killScript  = "#!/bin/bash\n#SBATCH --time=1\necho about to be killed\nkill -9 $$\n"
	arrayScript = "#!/bin/bash\n#SBATCH --time=1\n#SBATCH --array=0-4\necho task $SLURM_ARRAY_TASK_ID\nexit $SLURM_ARRAY_TASK_ID\n"
	badScript   = "#!/bin/bash\n#SBATCH --nodes=1\n#SBATCH --clusters=other\necho hi\n"
)

// MustScript writes a script into the test's folder and returns its path.
func MustScript(tb testing.TB, name, text string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// run runs one stacli command line in-process against a gateway.
func run(t *testing.T, gateway, token, project string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	env := cmdtest.MustEnv(t, gateway, token, project)
	env.F.PollMin = 20 * time.Millisecond
	code = root.Run(t.Context(), env.F, args)
	return env.Out.String(), env.Err.String(), code
}

func closedPort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestCommandsAgainstFakeGateway(t *testing.T) {
	g := fakegateway.New(t)
	hello := MustScript(t, "hello.sbatch", helloScript)
	exit3 := MustScript(t, "exit3.sbatch", exit3Script)
	kill := MustScript(t, "kill.sbatch", killScript)
	array := MustScript(t, "array.sbatch", arrayScript)
	bad := MustScript(t, "bad.sbatch", badScript)
	down := closedPort(t)
	a, admin := fakegateway.AliceToken, fakegateway.AdminToken

	tests := []struct {
		name      string
		gateway   string
		token     string
		args      []string
		code      int
		stdout    []string // substrings
		stderr    []string
		notStdout []string
	}{
		// sites
		{"site list", "", a, []string{"site", "list"}, 0, []string{"NAME", "ca-hydro", "de-hpc", "NO"}, nil, nil},
		{"site show", "", a, []string{"site", "show", "de-hpc"}, 0, []string{"ssh: connection refused", "DE"}, nil, nil},
		{"site show unknown", "", a, []string{"site", "show", "mars"}, 5, nil, []string{"no site", "stacli job list"}, nil},
		{"sites alias", "", a, []string{"sites", "ls"}, 0, []string{"ca-hydro"}, nil, nil},
		// auth
		{"bad token", "", "wrong", []string{"site", "list"}, 4, nil, []string{"missing or unknown token", "STACLI_TOKEN"}, nil},
		{"no token", "", "", []string{"job", "list"}, 4, nil, []string{"Check your token"}, nil},
		{"not an admin", "", a, []string{"admin", "project", "list"}, 4, nil, []string{"not an admin"}, nil},
		// gateway down
		{"gateway down", down, a, []string{"site", "list"}, 6, nil, []string{"unreachable", "Is the gateway running at " + down}, nil},
		{"gateway down status", down, a, []string{"status", "j-1"}, 6, nil, []string{"unreachable"}, nil},
		// usage errors
		{"unknown command", "", a, []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`, "stacli --help"}, nil},
		{"unknown sub-command", "", a, []string{"job", "sbumit"}, 2, nil, []string{`unknown command "sbumit"`, "did you mean submit"}, nil},
		{"unknown flag", "", a, []string{"job", "list", "--colour"}, 2, nil, []string{"unknown flag: --colour", "stacli job list --help"}, nil},
		{"missing argument", "", a, []string{"job", "status"}, 2, nil, []string{"needs a job ID"}, nil},
		{"extra argument", "", a, []string{"site", "list", "x"}, 2, nil, []string{"takes no arguments"}, nil},
		{"bad state", "", a, []string{"job", "list", "--state", "DONE"}, 2, nil, []string{"--state", "RUNNING"}, nil},
		{"bad by", "", a, []string{"usage", "--by", "planet"}, 2, nil, []string{"--by"}, nil},
		{"bad since", "", a, []string{"usage", "--since", "2026/01/01"}, 2, nil, []string{"--since"}, nil},
		{"bad int", "", a, []string{"submit", hello, "--nodes", "two"}, 2, nil, []string{"invalid argument"}, nil},
		{"grant without hours", "", admin, []string{"admin", "allocation", "grant", "--project", "p", "--site", "s"}, 2, nil, []string{"--core-hours"}, nil},
		{"bad account", "", admin, []string{"admin", "project", "create", "p", "--account", "nosep"}, 2, nil, []string{"SITE=ACCOUNT"}, nil},
		// submit
		{"submit prints the id", "", a, []string{"submit", hello, "--project", "climate-ca"}, 0, []string{"j-"}, nil, []string{"Submitted"}},
		{"submit dry run", "", a, []string{"job", "submit", hello, "--project", "climate-ca", "--dry-run"}, 0,
			[]string{"Site: ca-hydro", "CANDIDATE", "de-hpc", "jurisdiction DE not allowed"}, nil, nil},
		{"submit not a member", "", a, []string{"submit", hello, "--project", "climate-de"}, 4, nil, []string{"may not charge"}, nil},
		{"submit unknown project", "", a, []string{"submit", hello, "--project", "nope"}, 5, nil, []string{"no project"}, nil},
		{"submit no site", "", a, []string{"submit", hello, "--project", "climate-ca", "--jurisdiction", "DE"}, 1, nil, []string{"no site", "stacli job explain j-"}, nil},
		{"submit refused script", "", a, []string{"submit", bad, "--project", "climate-ca"}, 1, nil, []string{"bad.sbatch", "line 3", "--clusters"}, nil},
		{"submit infinite time", "", a, []string{"submit", hello, "--project", "climate-ca", "--time", "INFINITE"}, 2, nil, []string{"INFINITE"}, nil},
		{"submit zero nodes", "", a, []string{"submit", hello, "--project", "climate-ca", "--nodes", "0"}, 2, nil, []string{"--nodes"}, nil},
		{"submit bad time", "", a, []string{"submit", hello, "--project", "climate-ca", "--time", "soon"}, 2, nil, []string{"--time"}, nil},
		{"submit bad placement", "", a, []string{"submit", hello, "--project", "climate-ca", "--placement", "best"}, 2, nil, []string{"--placement"}, nil},
		{"submit missing script", "", a, []string{"submit", "/nonexistent.sbatch", "--project", "climate-ca"}, 1, nil, []string{"cannot read script"}, nil},
		{"submit wait success", "", a, []string{"submit", hello, "--project", "climate-ca", "--wait"}, 0, []string{"j-"}, []string{"COMPLETED", "exit code 0"}, nil},
		{"submit wait exit 3", "", a, []string{"submit", exit3, "--project", "climate-ca", "--wait"}, 3, nil, []string{"FAILED", "exit code 3"}, nil},
		{"submit wait killed", "", a, []string{"job", "submit", kill, "--project", "climate-ca", "--wait"}, 1, nil, []string{"FAILED", "signal 9"}, nil},
		{"submit wait array", "", a, []string{"submit", array, "--project", "climate-ca", "--wait"}, 4, nil, []string{"5 tasks", "highest exit code 4"}, nil},
		// admin
		{"admin project list", "", admin, []string{"admin", "project", "list"}, 0, []string{"climate-ca", "ca-hydro=def-climate"}, nil, nil},
		{"admin project create", "", admin, []string{"admin", "project", "create", "newp", "--member", "alice,bob", "--jurisdiction", "ca", "--account", "ca-hydro=acct"}, 0, []string{"Created project newp"}, nil, nil},
		{"admin project exists", "", admin, []string{"admin", "project", "create", "climate-ca"}, 1, nil, []string{"exists"}, nil},
		{"admin grant", "", admin, []string{"admin", "allocation", "grant", "--project", "climate-ca", "--site", "ca-hydro", "--core-hours", "10", "--start", "2026-01-01", "--end", "2026-02-01"}, 0,
			[]string{"Granted 10.00 core-hours to climate-ca at ca-hydro", "2026-01-01 to 2026-02-01"}, nil, nil},
		{"admin grant unknown project", "", admin, []string{"admin", "allocation", "grant", "--project", "nope", "--site", "ca-hydro", "--core-hours", "1"}, 5, nil, []string{"no project"}, nil},
		// usage and balance
		{"usage", "", a, []string{"usage"}, 0, []string{"PROJECT", "climate-ca", "2.50", "9000"}, nil, nil},
		{"usage by month", "", a, []string{"usage", "--by", "month"}, 0, []string{"MONTH", "2026-01", "2026-02", "TOTAL"}, nil, nil},
		{"usage csv", "", a, []string{"usage", "--by", "user", "--format", "csv"}, 0,
			[]string{"project,user,site,partition,month,jobs,core_seconds,core_hours\n", "climate-ca,alice,,,,3,7200,2\n"}, nil, nil},
		{"balance", "", a, []string{"balance", "--project", "climate-ca"}, 0, []string{"a-1", "96.50", "2027-01-01"}, nil, nil},
		// jobs
		{"status unknown", "", a, []string{"job", "status", "j-999"}, 5, nil, []string{"no job"}, nil},
		{"cancel unknown", "", a, []string{"job", "cancel", "j-999"}, 5, nil, []string{"no job"}, nil},
		{"logs unknown", "", a, []string{"logs", "j-999"}, 5, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := g.URL
			if tt.gateway != "" {
				gw = tt.gateway
			}
			out, errOut, code := run(t, gw, tt.token, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.notStdout {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q:\n%s", s, out)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
				t.Errorf("stderr shows a stack:\n%s", errOut)
			}
			if code != 0 && strings.TrimSpace(out) != "" && !strings.Contains(strings.Join(tt.args, " "), "--wait") {
				t.Errorf("a failing command printed data on stdout: %q", out)
			}
		})
	}
}

// TestJobLifecycle submits, follows, reads logs, lists, explains and cancels
// through the commands, checking the JSON forms.
func TestJobLifecycle(t *testing.T) {
	g := fakegateway.New(t)
	hello := MustScript(t, "hello.sbatch", helloScript)
	a := fakegateway.AliceToken

	out, errOut, code := run(t, g.URL, a, "climate-ca", "submit", hello, "--json")
	if code != 0 {
		t.Fatalf("submit: %d %s", code, errOut)
	}
	var j api.Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("submit --json: %v\n%s", err, out)
	}
	if j.ID == "" || j.Project != "climate-ca" || j.Site != "ca-hydro" || j.SiteJobID == "" {
		t.Errorf("submitted job %+v", j)
	}

	// The status JSON has the fields issue 9 requires.
	out, _, code = run(t, g.URL, a, "", "status", j.ID, "--json")
	var m map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil {
		t.Fatalf("status --json: %d %s", code, out)
	}
	for _, k := range []string{"id", "state", "reason", "project", "user", "site", "cluster", "site_job_id", "nodes",
		"exit_code", "exit_signal", "core_seconds", "core_hours", "submitted_at", "started_at", "ended_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status --json lacks %q", k)
		}
	}
	if _, ok := m["nodes"].([]any); !ok {
		t.Errorf("nodes is not an array: %v", m["nodes"])
	}

	// Follow the output as it appears, then wait.
	out, errOut, code = run(t, g.URL, a, "", "job", "logs", j.ID, "-f")
	if code != 0 || out != "hello\nworld\n" {
		t.Errorf("logs -f: %d %q %s", code, out, errOut)
	}
	out, errOut, code = run(t, g.URL, a, "", "job", "wait", j.ID, "--json")
	if code != 0 || !strings.Contains(errOut, "COMPLETED") {
		t.Errorf("wait: %d %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.State != api.StateCompleted || j.ExitCode == nil || *j.ExitCode != 0 {
		t.Errorf("wait --json: %v %+v", err, j)
	}
	out, _, _ = run(t, g.URL, a, "", "logs", j.ID)
	if out != "hello\nworld\n" {
		t.Errorf("logs after the end: %q", out)
	}
	out, _, _ = run(t, g.URL, a, "", "logs", j.ID, "--stderr", "--json")
	var c struct {
		Data string `json:"data"`
		EOF  bool   `json:"eof"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Data != "oops\n" || !c.EOF {
		t.Errorf("logs --stderr --json: %v %q", err, out)
	}

	// Human status and list.
	out, _, _ = run(t, g.URL, a, "", "job", "status", j.ID)
	for _, s := range []string{"state", "COMPLETED", "site_job_id", j.SiteJobID, "hydro1", "exit_code"} {
		if !strings.Contains(out, s) {
			t.Errorf("status lacks %q:\n%s", s, out)
		}
	}
	out, _, _ = run(t, g.URL, a, "", "job", "list", "--json")
	var list []api.Job
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].ID != j.ID {
		t.Errorf("list --json: %v %s", err, out)
	}
	out, _, _ = run(t, g.URL, a, "", "job", "list", "--state", "running", "--json")
	if strings.TrimSpace(out) != "[]" {
		t.Errorf("list of no jobs is not []: %q", out)
	}
	out, _, _ = run(t, g.URL, a, "", "job", "list")
	if !strings.Contains(out, "ID") || !strings.Contains(out, j.ID) || !strings.Contains(out, "COMPLETED") {
		t.Errorf("list:\n%s", out)
	}

	// Explain.
	out, _, code = run(t, g.URL, a, "", "job", "explain", j.ID, "--json")
	var d api.Decision
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Site != "ca-hydro" || len(d.Candidates) != 2 {
		t.Errorf("explain --json: %d %s", code, out)
	}

	// Cancel a pending job; waiting for it then exits 1.
	g.SetTiming(fakegateway.Timing{Pending: time.Hour, Line: time.Second})
	out, _, _ = run(t, g.URL, a, "climate-ca", "submit", hello)
	id := strings.TrimSpace(out)
	out, errOut, code = run(t, g.URL, a, "", "cancel", id, "--json")
	var cancelled []api.Job
	if code != 0 || json.Unmarshal([]byte(out), &cancelled) != nil || len(cancelled) != 1 || cancelled[0].State != api.StateCancelled {
		t.Errorf("cancel --json: %d %s %s", code, out, errOut)
	}
	_, errOut, code = run(t, g.URL, a, "", "wait", id)
	if code != 1 || !strings.Contains(errOut, "CANCELLED") {
		t.Errorf("wait on a cancelled job: %d %s", code, errOut)
	}
}

// TestSubmitRetriesWithOneKey checks that a submission retried through
// proxy errors is sent with one Idempotency-Key and makes one job, and that
// --idempotency-key makes a repeated run return the same job.
func TestSubmitRetriesWithOneKey(t *testing.T) {
	g := fakegateway.New(t)
	hello := MustScript(t, "hello.sbatch", helloScript)
	g.FailNext(502, 503)
	out, errOut, code := run(t, g.URL, fakegateway.AliceToken, "climate-ca", "submit", hello)
	if code != 0 {
		t.Fatalf("submit: %d %s", code, errOut)
	}
	var keys []string
	for _, r := range g.Requests() {
		if r.Method == "POST" && r.Path == "/v1/jobs" {
			keys = append(keys, r.IdempotencyKey)
		}
	}
	if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("POST /v1/jobs keys %q, want 3 equal", keys)
	}
	first := strings.TrimSpace(out)

	for range 2 {
		out, _, code = run(t, g.URL, fakegateway.AliceToken, "climate-ca", "submit", hello, "--idempotency-key", "run-42")
		if code != 0 {
			t.Fatal(code)
		}
	}
	second := strings.TrimSpace(out)
	out, _, _ = run(t, g.URL, fakegateway.AliceToken, "", "job", "list", "--json")
	var list []api.Job
	_ = json.Unmarshal([]byte(out), &list)
	if len(list) != 2 || first == second {
		t.Errorf("jobs %d (%s, %s), want 2: one per logical request", len(list), first, second)
	}
	other := MustScript(t, "other.sbatch", exit3Script)
	_, errOut, code = run(t, g.URL, fakegateway.AliceToken, "climate-ca", "submit", other, "--idempotency-key", "run-42")
	if code != 1 || !strings.Contains(errOut, "another request") {
		t.Errorf("key reused for another script: %d %s", code, errOut)
	}

	// A proxy that never recovers: unreachable.
	g.FailNext(502, 502, 502, 502, 502)
	_, errOut, code = run(t, g.URL, fakegateway.AliceToken, "", "site", "list")
	if code != 6 {
		t.Errorf("persistent 502: exit %d, want 6: %s", code, errOut)
	}
}

func TestSubmitProjectFromConfig(t *testing.T) {
	g := fakegateway.New(t)
	hello := MustScript(t, "hello.sbatch", helloScript)
	if _, errOut, code := run(t, g.URL, fakegateway.AliceToken, "", "submit", hello); code != 2 || !strings.Contains(errOut, "no project") {
		t.Errorf("no project: %d %s", code, errOut)
	}
	if _, errOut, code := run(t, g.URL, fakegateway.AliceToken, "climate-ca", "submit", hello); code != 0 {
		t.Errorf("project from config: %d %s", code, errOut)
	}
}

func TestSubmitFromStdinAndTerminal(t *testing.T) {
	g := fakegateway.New(t)
	env := cmdtest.MustEnv(t, g.URL, fakegateway.AliceToken, "climate-ca")
	env.In.WriteString(helloScript)
	env.IO.SetStdoutTTY(true)
	if code := root.Run(t.Context(), env.F, []string{"submit", "-"}); code != 0 {
		t.Fatalf("exit %d: %s", code, env.Err.String())
	}
	if !strings.HasPrefix(env.Out.String(), "Submitted job j-1 to ca-hydro as Slurm job ") {
		t.Errorf("terminal output %q", env.Out.String())
	}
}

func TestWaitProgressOnTerminal(t *testing.T) {
	g := fakegateway.New(t)
	hello := MustScript(t, "hello.sbatch", helloScript)
	env := cmdtest.MustEnv(t, g.URL, fakegateway.AliceToken, "climate-ca")
	env.F.PollMin = 20 * time.Millisecond
	env.IO.SetStderrTTY(true)
	if code := root.Run(t.Context(), env.F, []string{"submit", hello, "--wait"}); code != 0 {
		t.Fatalf("exit %d: %s", code, env.Err.String())
	}
	for _, s := range []string{"PENDING (Priority)", "RUNNING", "job j-1 COMPLETED on ca-hydro"} {
		if !strings.Contains(env.Err.String(), s) {
			t.Errorf("progress lacks %q:\n%s", s, env.Err.String())
		}
	}
}

func TestConfigShowNeverPrintsTheToken(t *testing.T) {
	out, errOut, code := run(t, "http://gw.example:8473", "s3cr3t-token", "climate-ca", "config", "show")
	if code != 0 {
		t.Fatal(code, errOut)
	}
	if strings.Contains(out+errOut, "s3cr3t-token") {
		t.Fatalf("config show printed the token:\n%s%s", out, errOut)
	}
	for _, s := range []string{"gateway", "http://gw.example:8473", "file ", "token", "(set, hidden)", "format", "table", "default", "project", "climate-ca"} {
		if !strings.Contains(out, s) {
			t.Errorf("config show lacks %q:\n%s", s, out)
		}
	}
	out, _, _ = run(t, "", "s3cr3t-token", "", "config", "show", "--json")
	var v struct {
		File   string `json:"file"`
		Values []struct{ Key, Value, Source string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.File == "" || len(v.Values) != 6 || strings.Contains(out, "s3cr3t") {
		t.Errorf("config show --json: %v %s", err, out)
	}
}

func TestOfflineCommandsNeedNoConfig(t *testing.T) {
	env := cmdtest.MustEnv(t, "", "", "")
	if err := os.WriteFile(env.ConfigFile, []byte("bogus_key = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := root.Run(t.Context(), env.F, []string{"version"}); code != 0 || !strings.HasPrefix(env.Out.String(), "stacli test (go") {
		t.Errorf("version with a broken config: %d %q %s", code, env.Out.String(), env.Err.String())
	}
	env.Out.Reset()
	if code := root.Run(t.Context(), env.F, []string{"site", "list"}); code != 1 || !strings.Contains(env.Err.String(), "bogus_key") {
		t.Errorf("gateway command with a broken config: %d %s", code, env.Err.String())
	}
}

// walk visits every command of the tree.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, s := range c.Commands() {
		walk(s, fn)
	}
}

// TestEveryHelpHasExampleAndExitCodes checks every command's --help.
func TestEveryHelpHasExampleAndExitCodes(t *testing.T) {
	env := cmdtest.MustEnv(t, "", "", "")
	tree := root.NewCmdRoot(env.F)
	n := 0
	walk(tree, func(c *cobra.Command) {
		n++
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(c.CommandPath(), func(t *testing.T) {
			e := cmdtest.MustEnv(t, "", "", "")
			code := root.Run(t.Context(), e.F, append(path, "--help"))
			help := e.Out.String()
			if code != 0 {
				t.Fatalf("--help exit %d: %s", code, e.Err.String())
			}
			if !strings.Contains(help, "Examples:\n  ") {
				t.Errorf("no example in:\n%s", help)
			}
			if !strings.Contains(help, "Exit codes:\n  0  success\n  1  ") || !strings.Contains(help, "6  the gateway cannot be reached") {
				t.Errorf("no exit codes in:\n%s", help)
			}
			wait := c.Name() == "wait" || c.Name() == "submit"
			if strings.Contains(help, "sbatch --wait): the job's exit code") != wait {
				t.Errorf("--wait exit codes shown: %v, want %v", !wait, wait)
			}
		})
	})
	if n < 30 {
		t.Errorf("only %d commands", n)
	}
}

// TestCommandTree pins the command tree of issue 9.
func TestCommandTree(t *testing.T) {
	env := cmdtest.MustEnv(t, "", "", "")
	var got []string
	walk(root.NewCmdRoot(env.F), func(c *cobra.Command) { got = append(got, c.CommandPath()) })
	for _, want := range []string{
		"stacli submit", "stacli status", "stacli cancel", "stacli logs", "stacli wait", "stacli usage", "stacli balance",
		"stacli job submit", "stacli job status", "stacli job list", "stacli job cancel", "stacli job logs", "stacli job wait", "stacli job explain",
		"stacli site list", "stacli site show",
		"stacli admin project create", "stacli admin project list", "stacli admin allocation grant",
		"stacli placement plan", "stacli topology convert",
		"stacli config show", "stacli completion", "stacli version", "stacli gen-man", "stacli help",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no %q in %v", want, got)
		}
	}
}

func TestGenMan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	_, errOut, code := run(t, "", "", "", "gen-man", dir)
	if code != 0 {
		t.Fatal(code, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "stacli-job-submit.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{".TH \"STACLI\" \"1\" \"Jan 2026\" \"stacli test\" \"STA Gateway\"", "Idempotency-Key", `\fB--dry-run\fP`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("man page lacks %q", s)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "stacli-gen-man.1")); err == nil {
		t.Error("the hidden gen-man got a man page")
	}
}
