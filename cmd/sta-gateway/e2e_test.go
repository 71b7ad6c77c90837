package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/internal/devsites"
)

const testToken = "e2e-token-0123456789abcdef"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// mustBinary builds the real sta-gateway binary once per test run.
func mustBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sta-gateway-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sta-gateway")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// daemon is a running sta-gateway process.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	config string
	log    *bytes.Buffer
	logMu  *sync.Mutex
	dir    string
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDaemon writes a config for the dev sites into a new folder and starts the
// daemon on it.
func startDaemon(t *testing.T, env *devsites.Env) *daemon {
	t.Helper()
	return startDaemonWith(t, env, "")
}

// startDaemonWith is startDaemon with extra top-level configuration lines.
func startDaemonWith(t *testing.T, env *devsites.Env, extra string) *daemon {
	t.Helper()
	return startDaemonEdit(t, env, func(cfg []byte) []byte {
		if extra == "" {
			return cfg
		}
		return append([]byte(extra+"\n"), cfg...)
	})
}

// startDaemonEdit starts the daemon on the dev sites' configuration as edit
// rewrites it.
func startDaemonEdit(t *testing.T, env *devsites.Env, edit func([]byte) []byte) *daemon {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := env.WriteGatewayConfig(t, dir, addr, testToken, "1s")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, edit(b), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, url: "http://" + addr, config: cfg, log: &bytes.Buffer{}, logMu: &sync.Mutex{}, dir: dir}
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			d.logMu.Lock()
			t.Logf("daemon log:\n%s", tail(d.log.String(), 60))
			d.logMu.Unlock()
		}
	})
	return d
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (d *daemon) start() {
	d.t.Helper()
	d.cmd = exec.Command(mustBinary(d.t), "serve", "--config", d.config)
	d.cmd.Stderr = lockedWriter{d.logMu, d.log}
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var h api.Health
		if code := d.do("GET", "/v1/health", "", nil, &h); code == 200 && h.Status == "ok" {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("daemon not healthy after 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop ends the daemon with SIGTERM (a graceful shutdown) and checks it exits 0.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil || d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	err := d.cmd.Wait()
	if err != nil {
		d.t.Errorf("daemon exited %v after SIGTERM; want 0", err)
	}
}

// kill ends the daemon with SIGKILL.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.cmd.Wait()
}

// do sends a request as user (empty: no auth) and decodes the answer into out.
func (d *daemon) do(method, path, user string, body any, out any, hdr ...string) int {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.url+path, rd)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set(api.HeaderActAs, user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			d.t.Errorf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func (d *daemon) submit(user string, req api.SubmitRequest, key string) (api.Job, int, *api.Error) {
	var raw json.RawMessage
	var hdr []string
	if key != "" {
		hdr = []string{api.HeaderIdempotencyKey, key}
	}
	code := d.do("POST", "/v1/jobs", user, req, &raw, hdr...)
	if code == 0 {
		return api.Job{}, 0, &api.Error{Code: api.CodeUnavailable, Message: "no answer"}
	}
	if code >= 300 {
		var e api.Error
		json.Unmarshal(raw, &e)
		return api.Job{}, code, &e
	}
	var j api.Job
	if err := json.Unmarshal(raw, &j); err != nil {
		d.t.Fatalf("submit: %v: %s", err, raw)
	}
	return j, code, nil
}

func (d *daemon) job(user, id string) api.Job {
	var j api.Job
	if code := d.do("GET", "/v1/jobs/"+id, user, nil, &j); code != 200 {
		d.t.Fatalf("GET job %s: %d", id, code)
	}
	return j
}

// waitState polls the job until pred holds.
func (d *daemon) waitState(user, id string, timeout time.Duration, pred func(api.Job) bool) api.Job {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j := d.job(user, id)
		if pred(j) {
			return j
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("job %s: still %s (%s) after %v", id, j.State, j.Reason, timeout)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func final(j api.Job) bool { return j.State.Final() && (j.EndedAt != nil) }

// sacctRow reads one job's accounting on the site, as the site's administrator.
func sacctRow(t *testing.T, s devsites.Site, id string) map[string]string {
	t.Helper()
	fields := []string{"JobID", "State", "CPUTimeRAW", "Comment", "Account", "User", "ExitCode"}
	out := s.Slurm(t, t.Context(), "sacct", "-n", "-X", "-P", "-D", "-j", id, "-M", s.Cluster, "-o", strings.Join(fields, ","))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Fatalf("sacct -j %s on %s: %q, want one row", id, s.Name, out)
	}
	f := strings.Split(lines[0], "|")
	row := map[string]string{}
	for i, k := range fields {
		row[k] = f[i]
	}
	return row
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

const workScript = "#!/bin/bash\n#SBATCH --job-name=e2e-work\n#SBATCH --ntasks=2\n#SBATCH --time=2\necho start on $(hostname)\nsleep 3\necho end\n"

// TestSubmitCompletedCharged: through the real daemon, a job on each site goes
// to COMPLETED and is charged CPUTimeRAW x the site's rate, both read by the test
// from sacct and from the balance.
func TestSubmitCompletedCharged(t *testing.T) {
	env := devsites.Load(t)
	d := startDaemon(t, env)
	cases := []struct {
		site, project, jur string
		rate               int64 // thousandths
	}{
		{"ca-hydro", "climate-ca", "CA", 1000},
		{"de-hpc", "fusion", "DE", 1500},
	}
	for _, tc := range cases {
		t.Run(tc.site, func(t *testing.T) {
			site := env.Site(t, tc.site)
			var before []api.Balance
			d.do("GET", "/v1/balance?project="+tc.project, "alice", nil, &before)
			j, code, aerr := d.submit("alice", api.SubmitRequest{Script: workScript, Project: tc.project,
				Jurisdictions: []string{tc.jur}}, "")
			if aerr != nil {
				t.Fatalf("submit: %d %+v", code, aerr)
			}
			if code != http.StatusCreated || j.SiteJobID == "" || j.Site != tc.site || j.State == api.StateSubmitting {
				t.Fatalf("submit returned %d %+v; want 201 with a site job id on %s", code, j, tc.site)
			}
			j = d.waitState("alice", j.ID, 90*time.Second, final)
			if j.State != api.StateCompleted || j.ExitCode == nil || *j.ExitCode != 0 {
				t.Fatalf("job ended %s exit %v", j.State, j.ExitCode)
			}
			row := sacctRow(t, site, j.SiteJobID)
			cpu := atoi(t, row["CPUTimeRAW"])
			want := (cpu*tc.rate + 999) / 1000
			if cpu == 0 || j.CoreSeconds != want {
				t.Fatalf("charged %d core-seconds; sacct says CPUTimeRAW %d x rate %d/1000 = %d", j.CoreSeconds, cpu, tc.rate, want)
			}
			if row["Comment"] != "sta-"+j.ID || row["Account"] != j.Account || row["User"] != "alice" {
				t.Fatalf("sacct row %v does not carry the job's tag, account and user", row)
			}
			var after []api.Balance
			d.do("GET", "/v1/balance?project="+tc.project, "alice", nil, &after)
			var charged, held int64
			for i, b := range after {
				if b.Site == tc.site {
					charged = b.ChargedSeconds - before[i].ChargedSeconds
					held = b.HeldSeconds - before[i].HeldSeconds
				}
			}
			if charged != want || held != 0 {
				t.Fatalf("balance moved by charged %d held %d; want charged %d held 0", charged, held, want)
			}
			var out api.Output
			d.do("GET", "/v1/jobs/"+j.ID+"/output", "alice", nil, &out)
			if !strings.Contains(out.Data, "start on") || !strings.HasSuffix(out.Data, "end\n") || !out.EOF {
				t.Fatalf("output %+v", out)
			}
		})
	}
}

// TestAllocationTooSmall: a job whose hold exceeds the allocation is REJECTED
// (recorded with how much is left, holding nothing) before anything reaches Slurm.
func TestAllocationTooSmall(t *testing.T) {
	env := devsites.Load(t)
	d := startDaemon(t, env)
	name := fmt.Sprintf("e2e-toosmall-%d", time.Now().UnixNano())
	script := "#!/bin/bash\n#SBATCH --job-name=" + name + "\n#SBATCH --time=10\ntrue\n"
	j, code, aerr := d.submit("alice", api.SubmitRequest{Script: script, Project: "tiny"}, "")
	if aerr != nil || code != http.StatusCreated || j.State != api.StateRejected || j.HoldSeconds != 0 {
		t.Fatalf("submit to a tiny allocation: %d %+v %+v; want the job REJECTED, holding nothing", code, aerr, j)
	}
	if !strings.Contains(j.Reason, "exceeds the 0.01 left in project tiny's allocation") {
		t.Fatalf("refusal does not say how much is left: %q", j.Reason)
	}
	for _, s := range env.Sites {
		out := s.Slurm(t, t.Context(), "sacct", "-a", "-n", "-X", "-P", "-S", "now-600", "--name="+name, "-o", "JobID")
		if strings.TrimSpace(out) != "" {
			t.Fatalf("a refused job reached %s: %q", s.Name, out)
		}
	}
	var bal []api.Balance
	d.do("GET", "/v1/balance?project=tiny", "alice", nil, &bal)
	for _, b := range bal {
		if b.HeldSeconds != 0 || b.RemainingSeconds != b.GrantedSeconds {
			t.Fatalf("a refused job moved the balance: %+v", b)
		}
	}
}

// TestCancelAndFollowOutput: a job's output is followed while it writes it; the
// job is then cancelled and settles CANCELLED.
func TestCancelAndFollowOutput(t *testing.T) {
	env := devsites.Load(t)
	d := startDaemon(t, env)
	script := "#!/bin/bash\n#SBATCH --time=5\nfor i in 1 2 3 4 5 6; do echo line $i; sleep 1; done\nsleep 300\n"
	j, _, aerr := d.submit("bob", api.SubmitRequest{Script: script, Project: "fusion"}, "")
	if aerr != nil {
		t.Fatal(aerr)
	}
	t.Cleanup(func() { // whatever happens, leave the site free for the next tests
		env.Site(t, j.Site).Slurm(t, context.Background(), "scancel", j.SiteJobID)
	})
	var got strings.Builder
	var offset int64
	chunks := 0
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(got.String(), "line 6\n") {
		var out api.Output
		if code := d.do("GET", fmt.Sprintf("/v1/jobs/%s/output?offset=%d&wait=10", j.ID, offset), "bob", nil, &out); code != 200 {
			t.Fatalf("output: %d", code)
		}
		if out.Offset != offset {
			t.Fatalf("output at offset %d, asked %d", out.Offset, offset)
		}
		if out.Data != "" {
			chunks++
		}
		got.WriteString(out.Data)
		offset = out.Next
		if time.Now().After(deadline) {
			t.Fatalf("after 60s the output is %q", got.String())
		}
	}
	if want := "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\n"; got.String() != want {
		t.Fatalf("followed output %q, want %q", got.String(), want)
	}
	if chunks < 2 {
		t.Fatalf("the output came in %d chunk(s): it was not followed while written", chunks)
	}
	if code := d.do("POST", "/v1/jobs/"+j.ID+"/cancel", "alice", nil, nil); code != http.StatusOK {
		// alice is a member of fusion: she may cancel bob's job in it.
		t.Fatalf("cancel: %d", code)
	}
	j = d.waitState("bob", j.ID, 60*time.Second, final)
	if j.State != api.StateCancelled {
		t.Fatalf("after cancel: %s", j.State)
	}
	row := sacctRow(t, env.Site(t, j.Site), j.SiteJobID)
	if !strings.HasPrefix(row["State"], "CANCELLED") || j.CoreSeconds < atoi(t, row["CPUTimeRAW"]) {
		t.Fatalf("sacct %v; gateway charged %d", row, j.CoreSeconds)
	}
	if code := d.do("POST", "/v1/jobs/"+j.ID+"/cancel", "nobody", nil, nil); code != http.StatusForbidden {
		t.Fatalf("cancel by an unknown user: %d, want 403", code)
	}
}

// TestIdempotencyKeyAtOnce: the same Idempotency-Key sent twice at once gives
// one job; the same key with another body is a conflict.
func TestIdempotencyKeyAtOnce(t *testing.T) {
	env := devsites.Load(t)
	d := startDaemon(t, env)
	key := fmt.Sprintf("e2e-key-%d", time.Now().UnixNano())
	req := api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --time=1\nsleep 1\n", Project: "climate-ca"}
	type res struct {
		j    api.Job
		code int
		err  *api.Error
	}
	results := make(chan res, 2)
	for range 2 {
		go func() {
			j, code, err := d.submit("alice", req, key)
			results <- res{j, code, err}
		}()
	}
	a, b := <-results, <-results
	if a.err != nil || b.err != nil {
		t.Fatalf("submits: %+v %+v", a.err, b.err)
	}
	if a.j.ID != b.j.ID || a.j.SiteJobID != b.j.SiteJobID {
		t.Fatalf("two jobs for one key: %s/%s and %s/%s", a.j.ID, a.j.SiteJobID, b.j.ID, b.j.SiteJobID)
	}
	if codes := []int{a.code, b.code}; !(codes[0] == 201 && codes[1] == 200 || codes[0] == 200 && codes[1] == 201) {
		t.Fatalf("statuses %v, want one 201 and one 200", codes)
	}
	d.waitState("alice", a.j.ID, 60*time.Second, final)
	if n := tagCounts(t, env.Site(t, a.j.Site), []string{a.j.ID})[a.j.ID]; n != 1 {
		t.Fatalf("%d Slurm jobs carry the tag of %s, want 1", n, a.j.ID)
	}
	req.Script += "# changed\n"
	if _, code, err := d.submit("alice", req, key); code != http.StatusConflict || err == nil || err.Code != api.CodeConflict {
		t.Fatalf("same key, other body: %d %+v; want 409 conflict", code, err)
	}
}

// TestRestartAfterKill: SIGKILL the daemon while jobs are SUBMITTING (their sbatch
// waits on a stopped controller) and others run, then start it again on the same
// state: every accepted request maps to exactly one Slurm job (counted by tag in
// sacct) and every finished job is charged exactly once.
func TestRestartAfterKill(t *testing.T) {
	env := devsites.Load(t)
	site := env.Site(t, "ca-hydro")
	d := startDaemon(t, env)
	req := func(secs int) api.SubmitRequest {
		return api.SubmitRequest{Script: fmt.Sprintf("#!/bin/bash\n#SBATCH --time=2\nsleep %d\n", secs),
			Project: "climate-ca"}
	}
	var ids []string
	for range 2 {
		j, _, aerr := d.submit("alice", req(15), "")
		if aerr != nil {
			t.Fatal(aerr)
		}
		ids = append(ids, j.ID)
	}
	for _, id := range ids {
		d.waitState("alice", id, 60*time.Second, func(j api.Job) bool { return j.State == api.StateRunning })
	}
	resume := stopController(t, env, site)
	const hanging = 5
	for i := range hanging {
		go d.submit("alice", req(1), fmt.Sprintf("restart-%d-%d", time.Now().UnixNano(), i))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sub []api.Job
		d.do("GET", "/v1/jobs?state=SUBMITTING", "alice", nil, &sub)
		if len(sub) == hanging {
			for _, j := range sub {
				ids = append(ids, j.ID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs SUBMITTING after 30s, want %d", len(sub), hanging)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // their sbatch runs on the site, waiting for the controller
	d.kill()
	resume()
	d.start()
	for _, id := range ids {
		j := d.waitState("alice", id, 120*time.Second, final)
		if j.State != api.StateCompleted {
			t.Errorf("job %s ended %s (%s)", id, j.State, j.Reason)
		}
	}
	counts := tagCounts(t, site, ids)
	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("job %s: %d Slurm jobs carry its tag, want exactly 1", id, counts[id])
		}
	}
	d.stop()
	assertChargedOnce(t, filepath.Join(d.dir, "state", "sta-gateway.db"), ids)
}

// sdiagJobInfo reads the controller's REQUEST_JOB_INFO count from sdiag, as the
// site's administrator.
func sdiagJobInfo(t *testing.T, s devsites.Site) int64 {
	t.Helper()
	out := s.Slurm(t, t.Context(), "sdiag")
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "REQUEST_JOB_INFO ") {
			continue
		}
		_, after, ok := strings.Cut(l, "count:")
		if !ok {
			break
		}
		n, _, _ := strings.Cut(after, " ")
		return atoi(t, n)
	}
	t.Fatalf("sdiag on %s shows no REQUEST_JOB_INFO line:\n%s", s.Name, out)
	return 0
}

// polls reads the daemon's count of successful poll ticks of a site.
func (d *daemon) polls(site string) int64 {
	var s api.Site
	if code := d.do("GET", "/v1/sites/"+site, "alice", nil, &s); code != 200 {
		d.t.Fatalf("GET site %s: %d", site, code)
	}
	return s.Polls
}

// TestPollCostWithManyLiveJobs: with 1,000 live (pending) jobs of the gateway on a
// site, each poll tick costs the site's controller one REQUEST_JOB_INFO, as its
// own sdiag counts them. It must run alone on the site (packages run one at a
// time, and tests of this package one after another).
func TestPollCostWithManyLiveJobs(t *testing.T) {
	env := devsites.Load(t)
	site := env.Site(t, "de-hpc") // PrivateData=jobs: the monitor login sees all
	d := startDaemon(t, env)
	// A held job the others depend on keeps them pending.
	c, err := env.Dial(t, t.Context(), site, "alice", env.KeySigner(t, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("sbatch --parsable --hold --account=acct-b --time=1 --output=/dev/null --wrap true")
	sess.Close()
	if err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	sentinel := strings.TrimSpace(string(out))
	name := fmt.Sprintf("e2e-many-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		if s, err := c.NewSession(); err == nil {
			// Two calls: scancel with both a name and ids cancels only the ids of
			// that name.
			s.Run("scancel --name=" + name + "; scancel " + sentinel)
			s.Close()
		}
	})
	const jobs = 1000
	script := fmt.Sprintf("#!/bin/bash\n#SBATCH --job-name=%s\n#SBATCH --time=1\n#SBATCH --dependency=afterok:%s\n#SBATCH --output=/dev/null\ntrue\n", name, sentinel)
	start := time.Now()
	work := make(chan int)
	errs := make(chan error, jobs)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				_, _, aerr := d.submit("alice", api.SubmitRequest{Script: script, Project: "fusion",
					Jurisdictions: []string{"DE"}}, "")
				if aerr != nil {
					errs <- aerr
				}
			}
		}()
	}
	for i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("submit: %v", err)
	}
	t.Logf("%d jobs submitted through the gateway in %v", jobs, time.Since(start).Round(time.Millisecond))
	// Every job pending in the gateway's view.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var live []api.Job
		d.do("GET", "/v1/jobs?project=fusion&state=PENDING&limit=5000", "alice", nil, &live)
		if len(live) >= jobs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs PENDING after 60s, want %d", len(live), jobs)
		}
		time.Sleep(time.Second)
	}
	// Count over several ticks. A tick in flight while the counters are read may
	// land on either side: the two counts agree within one.
	p0, j0 := d.polls(site.Name), sdiagJobInfo(t, site)
	time.Sleep(8 * time.Second)
	p1, j1 := d.polls(site.Name), sdiagJobInfo(t, site)
	ticks, requests := p1-p0, j1-j0
	t.Logf("%d poll ticks, %d REQUEST_JOB_INFO on %s's controller, with %d live jobs", ticks, requests, site.Name, jobs)
	if ticks < 4 {
		t.Fatalf("only %d poll ticks in 8s with a 1s interval", ticks)
	}
	if requests < ticks-1 || requests > ticks+1 {
		t.Fatalf("%d REQUEST_JOB_INFO for %d ticks: want one per tick", requests, ticks)
	}
}

// TestArrayChargedPerTask: an array of 10 tasks is held for every task, each task
// is followed and charged its own usage (sacct's CPUTimeRAW of that task, read by
// the test), and the array ends when its last task does, with the highest exit
// code among its tasks.
func TestArrayChargedPerTask(t *testing.T) {
	env := devsites.Load(t)
	site := env.Site(t, "ca-hydro")
	d := startDaemon(t, env)
	script := "#!/bin/bash\n#SBATCH --array=1-10%5\n#SBATCH --time=1\n#SBATCH --output=/dev/null\n" +
		"sleep $((SLURM_ARRAY_TASK_ID % 3 + 1))\nif [ $SLURM_ARRAY_TASK_ID = 7 ]; then exit 3; fi\n"
	j, _, aerr := d.submit("alice", api.SubmitRequest{Script: script, Project: "climate-ca"}, "")
	if aerr != nil {
		t.Fatal(aerr)
	}
	if j.Array == nil || j.Array.Total != 10 {
		t.Fatalf("array summary %+v, want 10 tasks", j.Array)
	}
	if want := int64(10 * 60); j.HoldSeconds != want {
		t.Fatalf("hold %d core-seconds, want %d (10 tasks x 1 CPU x 1 minute)", j.HoldSeconds, want)
	}
	sawRunning := false
	j = d.waitState("alice", j.ID, 120*time.Second, func(j api.Job) bool {
		if j.Array != nil && j.Array.ByState[api.StateRunning] > 0 {
			sawRunning = true
		}
		return final(j)
	})
	if !sawRunning {
		t.Error("no task was ever seen RUNNING in the array's task counts")
	}
	if j.State != api.StateFailed || j.ExitCode == nil || *j.ExitCode != 3 {
		t.Fatalf("array ended %s exit %v; want FAILED with exit code 3 (task 7)", j.State, j.ExitCode)
	}
	if j.Array.ByState[api.StateCompleted] != 9 || j.Array.ByState[api.StateFailed] != 1 {
		t.Fatalf("task counts %v, want 9 COMPLETED and 1 FAILED", j.Array.ByState)
	}
	out := site.Slurm(t, t.Context(), "sacct", "-n", "-X", "-P", "-j", j.SiteJobID, "-M", site.Cluster, "-o", "JobID,CPUTimeRAW")
	usage := map[string]int64{}
	var total int64
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		id, cpu, _ := strings.Cut(l, "|")
		_, task, _ := strings.Cut(id, "_")
		usage[task] = atoi(t, cpu)
		total += usage[task]
	}
	if len(usage) != 10 || j.CoreSeconds != total {
		t.Fatalf("sacct shows %d tasks using %d core-seconds; the array was charged %d", len(usage), total, j.CoreSeconds)
	}
	d.stop()
	l, err := accounting.Open(t.Context(), filepath.Join(d.dir, "state", "sta-gateway.db"), accounting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for task, cpu := range usage {
		rec, err := l.Job(t.Context(), j.ID+"_"+task)
		if err != nil {
			t.Fatalf("task %s: %v", task, err)
		}
		if rec.Charge == nil || rec.Charge.CoreSeconds != cpu || !rec.Released {
			t.Errorf("task %s: ledger %+v; want charged %d (its CPUTimeRAW) and released", task, rec.Charge, cpu)
		}
	}
}

// TestAdminProjectAtRunTime: an admin creates a project and grants it core-hours
// without a restart; its member's job runs and is charged; the project survives a
// restart; a non-admin may not create one.
func TestAdminProjectAtRunTime(t *testing.T) {
	env := devsites.Load(t)
	d := startDaemon(t, env)
	proj := api.Project{Name: "rt-proj", Members: []string{"bob"}, Jurisdictions: []string{"CA"},
		Accounts: map[string]string{"ca-hydro": "acct-b"}}
	if code := d.do("POST", "/v1/admin/projects", "bob", proj, nil); code != http.StatusForbidden {
		t.Fatalf("non-admin created a project: %d", code)
	}
	bad := proj
	bad.Accounts = map[string]string{"de-hpc": "acct-b"}
	if code := d.do("POST", "/v1/admin/projects", "admin", bad, nil); code != http.StatusBadRequest {
		t.Fatalf("a CA-only project with an account in DE: %d, want 400", code)
	}
	if code := d.do("POST", "/v1/admin/projects", "admin", proj, nil); code != http.StatusCreated {
		t.Fatalf("create project: %d", code)
	}
	if code := d.do("POST", "/v1/admin/projects", "admin", proj, nil); code != http.StatusConflict {
		t.Fatalf("create it twice: %d, want 409", code)
	}
	if code := d.do("POST", "/v1/admin/allocations", "admin", api.Grant{Project: "rt-proj", Site: "ca-hydro", CoreHours: 2}, nil); code != http.StatusCreated {
		t.Fatalf("grant: %d", code)
	}
	j, _, aerr := d.submit("bob", api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --time=1\nsleep 1\n", Project: "rt-proj"}, "")
	if aerr != nil {
		t.Fatal(aerr)
	}
	j = d.waitState("bob", j.ID, 60*time.Second, final)
	if j.State != api.StateCompleted || j.Account != "acct-b" || j.CoreSeconds <= 0 {
		t.Fatalf("job %s on %s, account %s, charged %d", j.State, j.Site, j.Account, j.CoreSeconds)
	}
	d.stop()
	d.start()
	var ps []api.Project
	d.do("GET", "/v1/admin/projects", "admin", nil, &ps)
	found := false
	for _, p := range ps {
		found = found || p.Name == "rt-proj"
	}
	if !found {
		t.Fatalf("the project did not survive a restart: %+v", ps)
	}
	var bals []api.Balance
	d.do("GET", "/v1/balance?project=rt-proj", "bob", nil, &bals)
	if len(bals) != 1 || bals[0].ChargedSeconds != j.CoreSeconds {
		t.Fatalf("balance %+v, want the job's %d core-seconds charged", bals, j.CoreSeconds)
	}
}

// TestHoldRecheck: the hold of a job pending longer than pending_recheck is
// re-checked; once its allocation has ended, the job says so (hold_problem).
func TestHoldRecheck(t *testing.T) {
	env := devsites.Load(t)
	site := env.Site(t, "ca-hydro")
	d := startDaemonWith(t, env, `pending_recheck = "3s"`)
	proj := api.Project{Name: "rc-proj", Members: []string{"alice"}, Jurisdictions: []string{"CA"},
		Accounts: map[string]string{"ca-hydro": "acct-a"}}
	if code := d.do("POST", "/v1/admin/projects", "admin", proj, nil); code != http.StatusCreated {
		t.Fatalf("create project: %d", code)
	}
	end := time.Now().Add(15 * time.Second).UTC().Truncate(time.Second)
	if code := d.do("POST", "/v1/admin/allocations", "admin",
		api.Grant{Project: "rc-proj", Site: "ca-hydro", CoreHours: 1, End: &end}, nil); code != http.StatusCreated {
		t.Fatalf("grant: %d", code)
	}
	c, err := env.Dial(t, t.Context(), site, "alice", env.KeySigner(t, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("sbatch --parsable --hold --account=acct-a --time=1 --output=/dev/null --wrap true")
	sess.Close()
	if err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	sentinel := strings.TrimSpace(string(out))
	t.Cleanup(func() { site.Slurm(t, context.Background(), "scancel", sentinel) })
	script := "#!/bin/bash\n#SBATCH --time=1\n#SBATCH --dependency=afterok:" + sentinel + "\ntrue\n"
	j, _, aerr := d.submit("alice", api.SubmitRequest{Script: script, Project: "rc-proj"}, "")
	if aerr != nil {
		t.Fatal(aerr)
	}
	t.Cleanup(func() { d.do("POST", "/v1/jobs/"+j.ID+"/cancel", "alice", nil, nil) })
	time.Sleep(6 * time.Second) // pending for longer than pending_recheck, allocation still valid
	if j = d.job("alice", j.ID); j.State != api.StatePending || j.HoldProblem != "" {
		t.Fatalf("before the allocation ends: %s, hold problem %q", j.State, j.HoldProblem)
	}
	j = d.waitState("alice", j.ID, 40*time.Second, func(j api.Job) bool { return j.HoldProblem != "" })
	if !strings.Contains(j.HoldProblem, "no_allocation") || time.Now().Before(end) {
		t.Fatalf("hold problem %q at %v (allocation ended %v)", j.HoldProblem, time.Now().UTC(), end)
	}
}

// TestControllerDownChangesNoState: while a site's controller does not answer
// (SIGSTOP), its poll fails: the running job keeps its state and is flagged
// site_unreachable, the site shows unreachable with the error in health; when the
// controller answers again the flag clears and the job finishes normally.
func TestControllerDownChangesNoState(t *testing.T) {
	env := devsites.Load(t)
	site := env.Site(t, "ca-hydro")
	d := startDaemon(t, env)
	j, _, aerr := d.submit("alice", api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --time=2\nsleep 25\n",
		Project: "climate-ca"}, "")
	if aerr != nil {
		t.Fatal(aerr)
	}
	d.waitState("alice", j.ID, 60*time.Second, func(j api.Job) bool { return j.State == api.StateRunning })
	resume := stopController(t, env, site)
	j = d.waitState("alice", j.ID, 60*time.Second, func(j api.Job) bool { return j.Unreachable })
	if j.State != api.StateRunning {
		t.Fatalf("with the controller down the job became %s", j.State)
	}
	var h api.Health
	d.do("GET", "/v1/health", "", nil, &h)
	if h.Status != "degraded" || h.Sites[site.Name] == "ok" || h.Sites[site.Name] == "" {
		t.Fatalf("health %+v; want degraded with %s's error", h, site.Name)
	}
	var s api.Site
	d.do("GET", "/v1/sites/"+site.Name, "alice", nil, &s)
	if s.Reachable || s.PollErrors == 0 {
		t.Fatalf("site %+v; want unreachable with poll errors counted", s)
	}
	resume()
	j = d.waitState("alice", j.ID, 90*time.Second, final)
	if j.State != api.StateCompleted || j.Unreachable {
		t.Fatalf("after the controller came back: %s, unreachable %v", j.State, j.Unreachable)
	}
}

// TestCancelDuringSubmission: a cancel that arrives while sbatch runs (the
// controller stopped for a moment) is not lost: whichever of the cancel and
// the recording of the submission comes second sends scancel, and the job
// ends CANCELLED instead of running its 60 seconds.
func TestCancelDuringSubmission(t *testing.T) {
	env := devsites.Load(t)
	site := env.Site(t, "ca-hydro")
	d := startDaemon(t, env)
	resume := stopController(t, env, site)
	submitted := make(chan api.Job, 1)
	go func() {
		j, _, _ := d.submit("alice", api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --time=2\nsleep 60\n", Project: "climate-ca"}, "")
		submitted <- j
	}()
	var id string
	for deadline := time.Now().Add(10 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var js []api.Job
		d.do("GET", "/v1/jobs?state=SUBMITTING", "alice", nil, &js)
		if len(js) > 0 {
			id = js[0].ID
		}
	}
	if id == "" {
		t.Fatal("no job in SUBMITTING while the controller is stopped")
	}
	var c api.Job
	if code := d.do("POST", "/v1/jobs/"+id+"/cancel", "alice", nil, &c); code != 200 || c.State != api.StateSubmitting {
		t.Fatalf("cancel during sbatch: %d %s", code, c.State)
	}
	resume()
	if j := <-submitted; j.ID != id {
		t.Fatalf("submission answered with job %q, cancelled %q", j.ID, id)
	}
	j := d.waitState("alice", id, 50*time.Second, final)
	if j.State != api.StateCancelled {
		t.Fatalf("job cancelled during its submission ended %s (%s), site job %s", j.State, j.Reason, j.SiteJobID)
	}
	t.Logf("cancelled during sbatch: Slurm job %q, ended %s after %v", j.SiteJobID, j.State, j.EndedAt.Sub(j.CreatedAt).Round(time.Second))
}

// stopController SIGSTOPs the site's slurmctld (it takes requests and answers
// none) and returns the function that resumes it, once; the test's cleanup
// resumes it too.
func stopController(t *testing.T, env *devsites.Env, site devsites.Site) (resume func()) {
	t.Helper()
	ctld := env.PID(t, site.Name+"-slurmctld")
	if err := syscall.Kill(ctld, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	resume = func() { once.Do(func() { syscall.Kill(ctld, syscall.SIGCONT) }) }
	t.Cleanup(resume)
	return resume
}

// tagCounts counts, in the site's accounting (read as its administrator), the Slurm
// jobs that carry each gateway job's tag. A job that just ended can take a moment
// to show in a time-window sacct query: it reads again, for up to a minute, until
// every tag shows at least once.
func tagCounts(t *testing.T, site devsites.Site, ids []string) map[string]int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := site.Slurm(t, t.Context(), "sacct", "-a", "-n", "-X", "-P", "-D", "-S", "now-3600", "-E", "now+60",
			"-M", site.Cluster, "-o", "JobID,Comment")
		counts := map[string]int{}
		for _, l := range strings.Split(out, "\n") {
			if _, c, ok := strings.Cut(l, "|"); ok {
				counts[strings.TrimPrefix(c, "sta-")]++
			}
		}
		missing := 0
		for _, id := range ids {
			if counts[id] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return counts
		}
		time.Sleep(time.Second)
	}
}
