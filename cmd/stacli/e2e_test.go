package main_test

// End-to-end tests: the real stacli binary, built once into a temporary
// folder, run as a user would run it.
//
// Offline commands (placement, topology, completion, version, config show,
// script errors, usage errors, a gateway that is down) need nothing else.
// Commands that talk to a gateway run the same scenarios against two
// backends: "fake", the wire-contract fake of package fakegateway, and
// "real", the real sta-gateway daemon (built from cmd/sta-gateway) on the
// real Slurm dev sites (scripts/dev-sites.sh; scripts/test.sh starts them).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/fakegateway"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/internal/devsites"
)

var (
	binDir string // holds the built stacli (and sta-gateway, when built)
	stacli string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stacli-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir, stacli = dir, filepath.Join(dir, "stacli")
	out, err := exec.Command("go", "build", "-o", stacli, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build stacli: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs stacli with a clean environment: HOME in a temporary folder, no
// config file unless env names one.
type cli struct {
	t   *testing.T
	env []string
}

func newCLI(t *testing.T, env ...string) *cli {
	home := t.TempDir()
	base := []string{"PATH=" + binDir + ":/usr/bin:/bin", "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	return &cli{t: t, env: append(base, env...)}
}

// withConfig writes a config file and returns a cli that uses it.
func withConfig(t *testing.T, text string, env ...string) *cli {
	p := filepath.Join(t.TempDir(), "stacli.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return newCLI(t, append([]string{"STACLI_CONFIG=" + p}, env...)...)
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	return c.runIn("", args...)
}

func (c *cli) runIn(stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, stacli, args...)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("stacli %v: %v", args, err)
	}
	return result{out.String(), errOut.String(), code}
}

func (r result) check(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("stderr shows a stack:\n%s", r.stderr)
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOfflineVersionAndHelp(t *testing.T) {
	c := newCLI(t)
	c.run("version").check(t, 0, []string{"stacli ", "go1."}, nil)
	r := c.run("version", "--json")
	var v struct{ Version, Go, OS, Arch string }
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Version == "" || v.OS == "" {
		t.Errorf("version --json: %v %q", err, r.stdout)
	}
	c.run("--help").check(t, 0, []string{"Common commands:", "submit", "Exit codes:", "6  the gateway cannot be reached"}, nil)
	c.run("job", "submit", "--help").check(t, 0, []string{"Examples:", "--dry-run", "sbatch --wait"}, nil)
}

func TestOfflineUsageErrors(t *testing.T) {
	c := newCLI(t, "STACLI_GATEWAY="+closedPort(t))
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"job", "list", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"job", "status"}, "needs a job ID"},
		{[]string{"status", "a", "b"}, "takes only a job ID"},
		{[]string{"usage", "--format", "xml"}, "--format"},
		{[]string{"completion", "tcsh"}, "--shell"},
		{[]string{"placement", "plan", "--topology", "x"}, "--free"},
		{[]string{"job", "submit", "x.sbatch", "--project", "p", "--time", "later"}, "--time"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c.run(tt.args...).check(t, 2, nil, []string{tt.stderr, "--help' for usage"})
		})
	}
}

func TestOfflineGatewayDown(t *testing.T) {
	down := closedPort(t)
	c := newCLI(t, "STACLI_GATEWAY="+down, "STACLI_TOKEN=t")
	for _, args := range [][]string{{"site", "list"}, {"job", "status", "j-1"}, {"job", "list", "--json"}} {
		r := c.run(args...)
		r.check(t, 6, nil, []string{"unreachable", "Is the gateway running at " + down})
		if r.stdout != "" {
			t.Errorf("%v printed %q on stdout", args, r.stdout)
		}
	}
	// A submission that never reached the gateway is not "maybe accepted".
	r := c.run("submit", writeFile(t, "job.sbatch", "#!/bin/bash\nhostname\n"), "--project", "p")
	r.check(t, 6, nil, []string{"unreachable"})
	if strings.Contains(r.stderr, "may have been accepted") {
		t.Errorf("refused connection, yet: %s", r.stderr)
	}
}

func TestOfflineScriptErrors(t *testing.T) {
	// The script is checked before anything is sent: the gateway is down.
	c := newCLI(t, "STACLI_GATEWAY="+closedPort(t), "STACLI_TOKEN=t")
	tests := []struct {
		name, script string
		code         int
		stderr       []string
	}{
		{"clusters forbidden", "#!/bin/bash\n#SBATCH -N 1\n#SBATCH --clusters=x\nhostname\n", 1, []string{"line 3", "-M/--clusters"}},
		{"unknown option", "#!/bin/bash\n#SBATCH --nodez=2\nhostname\n", 1, []string{"line 2", "--nodez"}},
		{"no shebang", "hostname\n", 1, []string{"#!"}},
		{"hetjob", "#!/bin/bash\n#SBATCH -N 1\n#SBATCH hetjob\n#SBATCH -N 2\nhostname\n", 1, []string{"line 3", "heterogeneous"}},
		{"infinite time", "#!/bin/bash\n#SBATCH --time=UNLIMITED\nhostname\n", 1, []string{"line 2", "INFINITE"}},
		{"not UTF-8", "#!/bin/bash\n#SBATCH -N 1\necho 'Gr\xfc\xdfe'\n", 1, []string{"line 3", "not UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "job.sbatch", tt.script)
			c.run("submit", p, "--project", "p", "--dry-run").check(t, tt.code, nil, append(tt.stderr, "job.sbatch"))
		})
	}
	// From stdin too.
	c.runIn("#!/bin/bash\n#SBATCH --uid=0\nid\n", "job", "submit", "-", "--project", "p", "--dry-run").
		check(t, 1, nil, []string{"line 2", "--uid"})
	c.run("submit", "/nonexistent/job.sbatch", "--project", "p").check(t, 1, nil, []string{"cannot read script /nonexistent/job.sbatch"})
}

func TestOfflineConfigShow(t *testing.T) {
	c := withConfig(t, "gateway = \"http://gw.example:8473\"\ntoken = \"very-secret-token\"\nproject = \"climate-ca\"\nformat = \"table\"\n",
		"STACLI_GATEWAY=https://override.example")
	r := c.run("config", "show")
	r.check(t, 0, []string{"https://override.example", "env STACLI_GATEWAY", "(set, hidden)", "climate-ca", "file "}, nil)
	if strings.Contains(r.stdout+r.stderr, "very-secret-token") {
		t.Fatal("config show printed the token")
	}
	c = withConfig(t, "gatewy = \"x\"\n")
	c.run("config", "show").check(t, 1, nil, []string{"gatewy", "unknown key"})
	c.run("version").check(t, 0, []string{"stacli "}, nil) // offline commands ignore the config

	c = newCLI(t, "STACLI_TOKEN=from-env-secret")
	r = c.run("config", "show", "--json")
	var v struct {
		File     string `json:"file"`
		Searched []string
		Values   []struct{ Key, Value, Source string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.File != "" || len(v.Searched) != 2 {
		t.Fatalf("config show --json: %v\n%s", err, r.stdout)
	}
	if strings.Contains(r.stdout, "from-env-secret") {
		t.Fatal("config show --json printed the token")
	}
	i := slices.IndexFunc(v.Values, func(x struct{ Key, Value, Source string }) bool { return x.Key == "gateway" })
	if i < 0 || v.Values[i].Value != "http://127.0.0.1:8473" || v.Values[i].Source != "default" {
		t.Errorf("default gateway: %+v", v.Values)
	}
}

func TestOfflinePlacement(t *testing.T) {
	c := newCLI(t)
	topo, _ := filepath.Abs("testdata/hydro.topology.conf")
	// ca-hydro with one node of each leaf busy: a 2-node plan spans both leaves.
	r := c.run("placement", "plan", "--topology", topo, "--free", "hydro[01,03]", "--nodes", "2", "--format", "json")
	r.check(t, 0, nil, nil)
	var p struct {
		Nodes             []string `json:"nodes"`
		LeavesSpanned     int      `json:"leaves_spanned"`
		LeavesLowerBound  int      `json:"leaves_lower_bound"`
		RingLeafCrossings int      `json:"ring_leaf_crossings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !slices.Equal(p.Nodes, []string{"hydro01", "hydro03"}) || p.LeavesSpanned != 2 || p.LeavesLowerBound != 2 || p.RingLeafCrossings != 2 {
		t.Errorf("plan %+v", p)
	}
	// A 4-node job's hostfile: leaf by leaf, each node's ranks contiguous.
	c.run("placement", "plan", "--topology", topo, "--free", "hydro[01-04]", "--nodes", "4", "--ntasks-per-node", "2").
		check(t, 0, []string{"hydro01\nhydro01\nhydro02\nhydro02\nhydro03\nhydro03\nhydro04\nhydro04\n"}, nil)
	c.run("placement", "plan", "--topology", topo, "--free", "hydro[01-04]", "--nodes", "2", "--ntasks-per-node", "2", "--format", "rankfile").
		check(t, 0, []string{"rank 0=hydro01 slot=0\nrank 1=hydro01 slot=1\nrank 2=hydro02 slot=0\n"}, nil)
	c.run("placement", "plan", "--topology", topo, "--free", "hydro[01-04]", "--nodes", "3", "--format", "mpich").
		check(t, 0, []string{"hydro01:1\n"}, nil)
	c.run("placement", "plan", "--topology", topo, "--free", "hydro[01-04]", "--nodes", "3", "--format", "nodelist").
		check(t, 0, []string{"hydro[0"}, nil)
	// Bad input: a clear error, non-zero.
	broken, _ := filepath.Abs("testdata/broken.topology.conf")
	c.run("placement", "plan", "--topology", broken, "--free", "hydro[01-04]", "--nodes", "2").check(t, 1, nil, []string{"broken.topology.conf", ":2:"})
	c.run("placement", "plan", "--topology", topo, "--free", "hydro[01-05]", "--nodes", "2").check(t, 1, nil, []string{"hydro05"})
	c.run("placement", "plan", "--topology", topo, "--free", "hydro[01-02]", "--nodes", "3").check(t, 1, nil, []string{"not enough free nodes"})
	c.run("placement", "plan", "--topology", topo, "--free", "hydro[01-", "--nodes", "1").check(t, 2, nil, []string{"--free"})
	c.run("placement", "plan", "--topology", "/nonexistent", "--free", "hydro01", "--nodes", "1").check(t, 1, nil, []string{"cannot read topology"})

	// From ibnetdiscover output.
	ib, _ := filepath.Abs("testdata/fattree.ibnetdiscover")
	c.run("placement", "plan", "--from", "ibnetdiscover", "--topology", ib, "--free", "node[01-16]", "--nodes", "4", "--format", "nodelist").
		check(t, 0, []string{"node["}, nil)
}

func TestOfflineTopologyConvert(t *testing.T) {
	c := newCLI(t)
	ib, _ := filepath.Abs("testdata/fattree.ibnetdiscover")
	r := c.run("topology", "convert", "--from", "ibnetdiscover", ib)
	r.check(t, 0, []string{"SwitchName=leaf01 Nodes=node[01-04]", "Switches=leaf[01-04]", "# left out"}, nil)
	// What it prints is a topology.conf that plans read back.
	conf := writeFile(t, "topology.conf", r.stdout)
	c.run("placement", "plan", "--topology", conf, "--free", "node[01-08]", "--nodes", "4", "--format", "nodelist").check(t, 0, []string{"node[0"}, nil)
	r = c.run("topology", "convert", "--from", "ibnetdiscover", "--json", ib)
	var sw []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sw); err != nil || len(sw) < 5 {
		t.Errorf("convert --json: %v %s", err, r.stdout)
	}
	data, _ := os.ReadFile(ib)
	c.runIn(string(data), "topology", "convert", "-").check(t, 0, []string{"SwitchName="}, nil)
	c.runIn("Switch 36 \"S-1\"\n[1] garbage\n", "topology", "convert", "-").check(t, 1, nil, []string{"ibnetdiscover"})
}

func TestOfflineCompletionScripts(t *testing.T) {
	c := newCLI(t)
	c.run("completion", "bash").check(t, 0, []string{"__start_stacli", "complete -o default -F __start_stacli stacli"}, nil)
	c.run("completion", "zsh").check(t, 0, []string{"#compdef stacli"}, nil)
	c.run("completion", "fish").check(t, 0, []string{"complete -c stacli"}, nil)
}

// TestBashCompletion loads `stacli completion bash` into a real bash and
// asks it to complete command lines as bash would on Tab.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed for this test")
	}
	tests := []struct {
		line string
		want []string
		not  []string
	}{
		{"stacli jo", []string{"job"}, nil},
		{"stacli ", []string{"job", "site", "submit", "usage", "completion", "version"}, []string{"gen-man", "__complete"}},
		{"stacli job su", []string{"submit"}, nil},
		{"stacli job ", []string{"submit", "status", "list", "cancel", "logs", "wait", "explain"}, nil},
		{"stacli admin allocation ", []string{"grant"}, nil},
		{"stacli job list --st", []string{"--state"}, nil},
		{"stacli job list --state RU", []string{"RUNNING"}, nil},
		{"stacli placement plan --format ", []string{"hostfile", "rankfile", "mpich", "nodelist", "json"}, nil},
		{"stacli usage --by ", []string{"user", "site", "partition", "month"}, nil},
		{"stacli completion ", []string{"bash", "zsh", "fish"}, nil},
		{"stacli submit x --placement ", []string{"none", "topology"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			// Not set -e: compopt fails outside a real Tab press, harmlessly.
			script := bashCompletionLib(t) + `
source <(stacli completion bash) || exit 3
complete -p stacli | grep -q -- '-F __start_stacli' || exit 4
COMP_LINE="$LINE"
COMP_POINT=${#COMP_LINE}
read -r -a COMP_WORDS <<< "$COMP_LINE"
if [[ "$COMP_LINE" == *" " ]]; then COMP_WORDS+=(""); fi
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
__start_stacli stacli "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
			cmd := exec.CommandContext(t.Context(), bash, "--norc", "--noprofile", "-c", script)
			cmd.Env = []string{"PATH=" + binDir + ":/usr/bin:/bin", "HOME=" + t.TempDir(), "LINE=" + tt.line, "STACLI_GATEWAY=" + closedPort(t)}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("completing %q: no %q in %q", tt.line, w, got)
				}
			}
			for _, w := range tt.not {
				if slices.Contains(got, w) {
					t.Errorf("completing %q offers %q", tt.line, w)
				}
			}
		})
	}
}

// bashCompletionLib returns the bash code that provides what cobra's bash
// completion needs from the bash-completion package (_get_comp_words_by_ref):
// the package itself when it is installed (as on a user's machine), else a
// minimal stand-in that splits words as COMP_WORDS has them.
func bashCompletionLib(t *testing.T) string {
	for _, p := range []string{"/usr/share/bash-completion/bash_completion", "/etc/bash_completion"} {
		if _, err := os.Stat(p); err == nil {
			return "source " + p
		}
	}
	t.Log("bash-completion is not installed: using a minimal _get_comp_words_by_ref")
	return `_get_comp_words_by_ref() {
  while [[ $1 == -* ]]; do shift 2 || shift; done
  cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
  words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
}`
}

// backend is a gateway the scenarios run against.
type backend struct {
	url, token, user, project string
	// cleanup of a daemon, when there is one
}

// fakeBackend starts the fake of the wire contract in this process. Jobs
// print one line a second, like the scenario scripts on real Slurm.
func fakeBackend(t *testing.T) backend {
	g := fakegateway.New(t)
	g.SetTiming(fakegateway.Timing{Pending: 300 * time.Millisecond, Line: time.Second})
	return backend{url: g.URL, token: fakegateway.AliceToken, project: "climate-ca"}
}

var (
	gatewayOnce sync.Once
	gatewayBin  string
	gatewayErr  error
)

// realBackend builds and starts the real sta-gateway daemon on the dev sites,
// with the configuration internal/devsites writes for them, and stops it
// (SIGTERM) at the end of the test.
func realBackend(t *testing.T) backend {
	env := devsites.Load(t)
	gatewayOnce.Do(func() {
		gatewayBin = filepath.Join(binDir, "sta-gateway")
		out, err := exec.Command("go", "build", "-o", gatewayBin, "../sta-gateway").CombinedOutput()
		if err != nil {
			gatewayErr = fmt.Errorf("go build sta-gateway: %v\n%s", err, out)
		}
	})
	if gatewayErr != nil {
		t.Fatal(gatewayErr)
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const token = "stacli-e2e-token-0123456789"
	cfg := env.WriteGatewayConfig(t, dir, addr, token, "1s")
	var log bytes.Buffer
	var logMu sync.Mutex
	cmd := exec.Command(gatewayBin, "serve", "--config", cfg)
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return log.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("sta-gateway exited %v after SIGTERM", err)
		}
		if t.Failed() {
			logMu.Lock()
			lines := strings.Split(log.String(), "\n")
			logMu.Unlock()
			t.Logf("sta-gateway log (tail):\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/v1/health")
		if err == nil {
			var h api.Health
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h.Status == "ok" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sta-gateway not healthy after 60s")
		}
		time.Sleep(300 * time.Millisecond)
	}
	return backend{url: url, token: token, user: "alice", project: "climate-ca"}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (b backend) cli(t *testing.T, extraEnv ...string) *cli {
	text := fmt.Sprintf("gateway = %q\ntoken = %q\nproject = %q\n", b.url, b.token, b.project)
	if b.user != "" {
		text += fmt.Sprintf("user = %q\n", b.user)
	}
	return withConfig(t, text, extraEnv...)
}

// Scenario scripts: the same on the fake and on Slurm.
const (
	exit3Script = "#!/bin/bash\n#SBATCH --job-name=stacli-e2e-exit3\n#SBATCH --ntasks=1\n#SBATCH --time=1\necho computing\nexit 3\n"
	linesScript = "#!/bin/bash\n#SBATCH --job-name=stacli-e2e-lines\n#SBATCH --ntasks=1\n#SBATCH --time=1\necho first\nsleep 2\necho second\nsleep 2\necho third\n"
)

func TestGatewayFake(t *testing.T) { gatewayScenarios(t, fakeBackend(t)) }

func TestGatewayReal(t *testing.T) { gatewayScenarios(t, realBackend(t)) }

// gatewayScenarios are issue 9's end-to-end checks: submit a real batch
// script with #SBATCH lines, --wait returns the job's exit code, logs -f
// shows the output as it appears, --json parses, and the exit codes of each
// failure class.
func gatewayScenarios(t *testing.T, b backend) {
	c := b.cli(t)
	exit3 := writeFile(t, "exit3.sbatch", exit3Script)
	lines := writeFile(t, "lines.sbatch", linesScript)

	t.Run("dry run routes to a CA site", func(t *testing.T) {
		c.run("submit", exit3, "--dry-run").check(t, 0, []string{"Site: ca-hydro", "CANDIDATE", "de-hpc"}, nil)
	})

	t.Run("wait returns the job's exit code", func(t *testing.T) {
		r := c.run("submit", exit3, "--wait")
		r.check(t, 3, nil, []string{"FAILED", "exit code 3"})
		id := strings.TrimSpace(r.stdout)
		if id == "" || strings.Contains(id, "\n") {
			t.Fatalf("stdout %q: want only the job id", r.stdout)
		}
		r = c.run("job", "status", id, "--json")
		var j api.Job
		if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
			t.Fatalf("status --json: %v\n%s", err, r.stdout)
		}
		if j.ID != id || j.State != api.StateFailed || j.ExitCode == nil || *j.ExitCode != 3 || j.Site != "ca-hydro" ||
			j.SiteJobID == "" || len(j.Nodes) == 0 || j.EndedAt == nil || j.Name != "stacli-e2e-exit3" {
			t.Errorf("status --json: %+v", j)
		}
		c.run("job", "wait", id).check(t, 3, nil, []string{"exit code 3"})
		c.run("logs", id).check(t, 0, []string{"computing\n"}, nil)
	})

	t.Run("logs -f shows the output as it appears", func(t *testing.T) {
		r := c.run("submit", lines)
		r.check(t, 0, nil, nil)
		id := strings.TrimSpace(r.stdout)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, stacli, "job", "logs", id, "-f")
		cmd.Env = c.env
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var got []string
		var at []time.Time
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			got = append(got, sc.Text())
			at = append(at, time.Now())
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("logs -f: %v\n%s", err, errOut.String())
		}
		if !slices.Equal(got, []string{"first", "second", "third"}) {
			t.Fatalf("logs -f printed %q", got)
		}
		// The job sleeps 2 s between lines: printed as they appear, the first
		// and the last are about 2 s apart or more (not all at once at the end).
		if gap := at[2].Sub(at[0]); gap < 1500*time.Millisecond {
			t.Errorf("first and last line %v apart: not followed as they appeared", gap)
		}
		c.run("job", "wait", id).check(t, 0, nil, []string{"COMPLETED", "exit code 0"})
	})

	t.Run("json parses", func(t *testing.T) {
		for _, args := range [][]string{{"job", "list", "--json"}, {"site", "list", "--json"}, {"balance", "--json"}, {"usage", "--json", "--by", "site"}} {
			r := c.run(args...)
			var v []map[string]any
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil {
				t.Errorf("%v: exit %d, not a JSON array: %s %s", args, r.code, r.stdout, r.stderr)
			}
		}
		c.run("site", "show", "ca-hydro", "--json").check(t, 0, []string{`"jurisdiction": "CA"`}, nil)
	})

	t.Run("exit codes of failure classes", func(t *testing.T) {
		c.run("job", "list", "--no-such-flag").check(t, 2, nil, []string{"unknown flag"})
		b.cli(t, "STACLI_TOKEN=wrong-token-wrong-token").run("job", "list").check(t, 4, nil, []string{"token"})
		c.run("job", "status", "no-such-job").check(t, 5, nil, []string{"no-such-job"})
		c.run("site", "show", "no-such-site").check(t, 5, nil, nil)
		b.cli(t, "STACLI_GATEWAY="+closedPort(t)).run("job", "status", "x").check(t, 6, nil, []string{"unreachable"})
		c.run("submit", exit3, "--jurisdiction", "DE").check(t, 1, nil, []string{"was rejected: no site may and can run", "stacli job explain"})
	})

	if b.user != "" { // the real daemon (the fake has no audit trail)
		t.Run("admin audit trail", func(t *testing.T) {
			b.cli(t, "STACLI_USER=admin").run("admin", "audit", "--json").check(t, 0,
				[]string{`"action": "job.accepted"`, `"action": "job.submitted"`, `"action": "job.settled"`, `"action": "job.rejected"`, `"mac": "`}, nil)
			b.cli(t, "STACLI_USER=admin").run("admin", "audit", "--after", "1", "--limit", "2").check(t, 0, []string{"SEQ", "job.submitted"}, nil)
			c.run("admin", "audit").check(t, 4, nil, []string{"admin only"})
		})
	}
}
