package slurm_test

// Recorded fixtures: the output of the real Slurm 22.05 of the dev sites
// (scripts/dev-sites.sh), kept in testdata/slurm-22.05/<site>/ and read by the
// parser tests. `go test ./slurm/ -run TestRecordFixtures -update` re-records
// them from the live sites (about three minutes: it waits for a job to time out);
// a normal run reads testdata only.
//
// Each site folder holds NAME.out (stdout) and NAME.err (stderr) of every command,
// and manifest.json: the jobs submitted (scenario -> job id, from sbatch
// --parsable) and, per command, who ran it, its argument vector and exit status.
// The tests derive what they expect from fxScenarios (what was asked of Slurm) and
// from the sites' slurm.conf and topology.conf, never from the parsers.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sta-federation/sta-gateway/internal/devsites"
	"github.com/sta-federation/sta-gateway/slurm"
)

var fxUpdate = flag.Bool("update", false, "re-record slurm/testdata/slurm-22.05 from the live dev sites")

const fxRoot = "testdata/slurm-22.05"

// fxScenario is one job the recorder submits on ca-hydro, and what was asked.
type fxScenario struct {
	Key       string
	Login     string
	Account   string
	Partition string
	Name      string
	Comment   string
	Time      string   // --time
	Extra     []string // further sbatch options
	Wrap      string
}

// fxEvilName and fxEvilComment hold what users may put in names and comments:
// the unit separator, line breaks and text that imitates fields and rows.
const (
	fxEvilName    = "ev\nil\x1fname Account=evil"
	fxEvilComment = "sta:evil\x1f Account=evil UserId=root(0)\n1\x1fRUNNING\x1f\nlast"
)

var fxScenarios = []fxScenario{
	{Key: "done", Login: "alice", Account: "acct-a", Partition: "short", Name: "sta-done",
		Comment: "sta:done tag with spaces", Time: "5", Extra: []string{"--nodes=1", "--ntasks=2"}, Wrap: "true"},
	{Key: "fail", Login: "alice", Account: "acct-a", Partition: "batch", Name: "sta-fail",
		Comment: "sta:fail", Time: "5", Wrap: "exit 3"},
	{Key: "signal", Login: "alice", Account: "acct-b", Partition: "batch", Name: "sta-signal",
		Comment: "sta:signal", Time: "5", Wrap: "kill -9 $$"},
	{Key: "cancel-pending", Login: "alice", Account: "acct-a", Partition: "batch", Name: "sta-cancel-pending",
		Comment: "sta:cancel-pending", Time: "10", Extra: []string{"--hold"}, Wrap: "true"},
	{Key: "array", Login: "alice", Account: "acct-a", Partition: "short", Name: "sta-array",
		Comment: "sta:array", Time: "5", Extra: []string{"--array=1-3"}, Wrap: "sleep 1"},
	{Key: "requeue", Login: "alice", Account: "acct-b", Partition: "batch", Name: "sta-requeue",
		Comment: "sta:requeue", Time: "5", Extra: []string{"--ntasks=2"}, Wrap: "sleep 8"},
	{Key: "timeout", Login: "alice", Account: "acct-a", Partition: "short", Name: "sta-timeout",
		Comment: "sta:timeout", Time: "1", Wrap: "sleep 300"},
	// Live while the queue is recorded, then cancelled.
	{Key: "running", Login: "bob", Account: "acct-b", Partition: "batch", Name: "sta-running",
		Comment: "sta:running", Time: "10", Extra: []string{"--nodes=2", "--ntasks=3"}, Wrap: "sleep 300"},
	{Key: "suspended", Login: "alice", Account: "acct-a", Partition: "batch", Name: "sta-suspended",
		Comment: "sta:suspended", Time: "10", Wrap: "sleep 300"},
	{Key: "cancel-running", Login: "alice", Account: "acct-a", Partition: "batch", Name: "sta-cancel-running",
		Comment: "sta:cancel-running", Time: "10", Wrap: "sleep 300"},
	{Key: "array-throttled", Login: "alice", Account: "acct-a", Partition: "batch", Name: "sta-array-throttled",
		Comment: "sta:array-throttled", Time: "10", Extra: []string{"--array=1-4%1"}, Wrap: "sleep 300"},
	{Key: "held", Login: "alice", Account: "acct-a", Partition: "short", Name: "sta-held",
		Comment: "sta:held", Time: "5", Extra: []string{"--hold"}, Wrap: "true"},
	{Key: "begin", Login: "alice", Account: "acct-a", Partition: "batch", Name: "sta-begin",
		Comment: "sta:begin", Time: "5", Extra: []string{"--begin=now+3600"}, Wrap: "true"},
	{Key: "dependency", Login: "alice", Account: "acct-a", Partition: "batch", Name: "sta-dependency",
		Comment: "sta:dependency", Time: "5", Extra: []string{"--dependency=afterok:{cancel-running}"}, Wrap: "true"},
	{Key: "evil", Login: "alice", Account: "acct-a", Partition: "short", Name: fxEvilName,
		Comment: fxEvilComment, Time: "5", Extra: []string{"--hold"}, Wrap: "true"},
	{Key: "cluster-flag", Login: "alice", Account: "acct-a", Partition: "short", Name: "sta-cluster-flag",
		Comment: "sta:cluster-flag", Time: "5", Extra: []string{"--hold", "--clusters=ca-hydro"}, Wrap: "true"},
}

func fxScenarioOf(key string) fxScenario {
	for _, s := range fxScenarios {
		if s.Key == key {
			return s
		}
	}
	panic("no scenario " + key)
}

// fxManifest is manifest.json of one site folder.
type fxManifest struct {
	Site     string               `json:"site"`
	Cluster  string               `json:"cluster"`
	Slurm    string               `json:"slurm"`
	Recorded string               `json:"recorded"`
	Jobs     map[string]string    `json:"jobs"`
	Commands map[string]fxCommand `json:"commands"`
}

type fxCommand struct {
	Login string   `json:"login"` // ssh login, or "root" for a local command
	Args  []string `json:"args"`
	Exit  int      `json:"exit"`
}

// fxLoad reads a site's manifest.
func fxLoad(tb testing.TB, site string) *fxManifest {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(fxRoot, site, "manifest.json"))
	if err != nil {
		tb.Fatalf("fixtures: %v (re-record with: go test ./slurm/ -run TestRecordFixtures -update)", err)
	}
	var m fxManifest
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("fixtures: manifest of %s: %v", site, err)
	}
	return &m
}

// fxOpen returns a recorded stdout (ext "out") or stderr (ext "err").
func fxOpen(tb testing.TB, site, name, ext string) *bytes.Reader {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(fxRoot, site, name+"."+ext))
	if err != nil {
		tb.Fatalf("fixtures: %v", err)
	}
	return bytes.NewReader(b)
}

func fxString(tb testing.TB, site, name, ext string) string {
	tb.Helper()
	r := fxOpen(tb, site, name, ext)
	b := make([]byte, r.Len())
	r.Read(b)
	return string(b)
}

// ---------------------------------------------------------------------------------
// The recorder.
// ---------------------------------------------------------------------------------

// TestRecordFixtures re-records the fixtures when -update is given; otherwise it
// only checks that the recorded fixtures are there.
func TestRecordFixtures(t *testing.T) {
	if !*fxUpdate {
		for _, site := range []string{"ca-hydro", "de-hpc"} {
			m := fxLoad(t, site)
			for name := range m.Commands {
				fxOpen(t, site, name, "out")
				fxOpen(t, site, name, "err")
			}
		}
		return
	}
	env := devsites.Load(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	fxRecordHydro(t, ctx, env, env.Site(t, "ca-hydro"))
	fxRecordDE(t, ctx, env, env.Site(t, "de-hpc"))
}

// fxRec records into one site folder.
type fxRec struct {
	t     *testing.T
	ctx   context.Context
	env   *devsites.Env
	site  devsites.Site
	dir   string
	m     fxManifest
	conns map[string]*ssh.Client
}

func fxNewRec(t *testing.T, ctx context.Context, env *devsites.Env, site devsites.Site) *fxRec {
	dir := filepath.Join(fxRoot, site.Name)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ver := strings.TrimSpace(site.Slurm(t, ctx, "sinfo", "--version"))
	return &fxRec{t: t, ctx: ctx, env: env, site: site, dir: dir, conns: map[string]*ssh.Client{},
		m: fxManifest{Site: site.Name, Cluster: site.Cluster, Slurm: ver,
			Recorded: time.Now().UTC().Format(time.RFC3339), Jobs: map[string]string{},
			Commands: map[string]fxCommand{}}}
}

func fxQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// ssh runs argv on the site's login node as login and returns stdout, stderr and
// the exit status.
func (r *fxRec) ssh(login string, args []string) (stdout, stderr []byte, code int) {
	r.t.Helper()
	c := r.conns[login]
	if c == nil {
		var err error
		c, err = r.env.Dial(r.t, r.ctx, r.site, login, r.env.KeySigner(r.t, login))
		if err != nil {
			r.t.Fatalf("ssh %s@%s: %v", login, r.site.Name, err)
		}
		r.conns[login] = c
	}
	s, err := c.NewSession()
	if err != nil {
		r.t.Fatalf("ssh session: %v", err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fxQuote(a)
	}
	err = s.Run("SLURM_TIME_FORMAT=%s " + strings.Join(q, " "))
	var ee *ssh.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitStatus()
	case err != nil:
		r.t.Fatalf("ssh %s: %s: %v", login, args[0], err)
	}
	return out.Bytes(), errb.Bytes(), code
}

// local runs argv on this machine as root against the site, with conf as
// SLURM_CONF (the site's own when empty).
func (r *fxRec) local(conf string, args []string) (stdout, stderr []byte, code int) {
	r.t.Helper()
	if conf == "" {
		conf = r.site.SlurmConf
	}
	cmd := exec.CommandContext(r.ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "SLURM_CONF="+conf, "SLURM_TIME_FORMAT=%s")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		r.t.Fatalf("%s: %v", args[0], err)
	}
	return out.Bytes(), errb.Bytes(), code
}

// record runs a command (over ssh as login, or locally as root with conf when
// login is "root") and keeps its output as fixture name.
func (r *fxRec) record(name, login, conf string, args []string) ([]byte, []byte, int) {
	r.t.Helper()
	var out, errb []byte
	var code int
	if login == "root" {
		out, errb, code = r.local(conf, args)
	} else {
		out, errb, code = r.ssh(login, args)
	}
	for ext, b := range map[string][]byte{"out": out, "err": errb} {
		if err := os.WriteFile(filepath.Join(r.dir, name+"."+ext), b, 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.m.Commands[name] = fxCommand{Login: login, Args: args, Exit: code}
	r.t.Logf("%s/%s: exit %d, %d bytes, stderr %q", r.site.Name, name, code, len(out), bytes.TrimSpace(errb))
	return out, errb, code
}

func (r *fxRec) finish() {
	b, err := json.MarshalIndent(&r.m, "", "  ")
	if err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		r.t.Fatal(err)
	}
	for _, c := range r.conns {
		c.Close()
	}
}

// submit submits a scenario (recording its sbatch output as sbatch-KEY) and
// returns the job id.
func (r *fxRec) submit(s fxScenario) string {
	r.t.Helper()
	args := []string{"sbatch", "--parsable", "--job-name=" + s.Name, "--account=" + s.Account,
		"--partition=" + s.Partition, "--time=" + s.Time, "--comment=" + s.Comment, "--output=/dev/null"}
	for _, e := range s.Extra {
		for k, id := range r.m.Jobs {
			e = strings.ReplaceAll(e, "{"+k+"}", id)
		}
		args = append(args, e)
	}
	args = append(args, "--wrap="+s.Wrap)
	out, errb, code := r.record("sbatch-"+s.Key, s.Login, "", args)
	if code != 0 {
		r.t.Fatalf("sbatch %s: exit %d: %s", s.Key, code, errb)
	}
	id, _, err := slurm.ParseSbatchParsable(bytes.NewReader(out))
	if err != nil {
		r.t.Fatalf("sbatch %s: %v", s.Key, err)
	}
	r.m.Jobs[s.Key] = id
	return id
}

// state reads a job's squeue state as root (not with the code under test).
func (r *fxRec) state(id string) string {
	out, _, _ := r.local("", []string{"squeue", "--noheader", "--states=all", "--jobs=" + id, "--format=%T"})
	return strings.Join(strings.Fields(string(out)), ",")
}

// waitFor polls until ok(state of every id) or fails the test.
func (r *fxRec) waitFor(what string, ids []string, ok func(states []string) bool) {
	r.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var states []string
		for _, id := range ids {
			states = append(states, r.state(id))
		}
		if ok(states) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for %s: states %v", what, states)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func fxAll(want ...string) func([]string) bool {
	return func(states []string) bool {
		for _, s := range states {
			hit := false
			for _, w := range want {
				for _, part := range strings.Split(s, ",") {
					if part == w {
						hit = true
					}
				}
			}
			if !hit {
				return false
			}
		}
		return true
	}
}

var fxEnded = []string{"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
	"PREEMPTED", "BOOT_FAIL", "DEADLINE"}

func fxRecordHydro(t *testing.T, ctx context.Context, env *devsites.Env, site devsites.Site) {
	r := fxNewRec(t, ctx, env, site)
	start := time.Now()
	var all []string
	cleanup := func() {
		// Cancel whatever of ours is still queued, even when the test failed.
		if len(all) > 0 {
			r.local("", append([]string{"scancel"}, all...))
		}
	}
	defer cleanup()
	sub := func(key string) string {
		id := r.submit(fxScenarioOf(key))
		all = append(all, id)
		return id
	}

	// Phase A: a live queue.
	timeout := sub("timeout")
	for _, k := range []string{"held", "begin", "evil", "cluster-flag", "running", "suspended",
		"cancel-running", "array-throttled", "dependency"} {
		sub(k)
	}
	j := r.m.Jobs
	r.waitFor("running jobs", []string{j["running"], j["suspended"], j["cancel-running"], j["array-throttled"] + "_1", timeout},
		fxAll("RUNNING"))
	r.local("", []string{"scontrol", "suspend", j["suspended"]})
	r.waitFor("suspension", []string{j["suspended"]}, fxAll("SUSPENDED"))
	live := []string{j["held"], j["begin"], j["evil"], j["cluster-flag"], j["running"], j["suspended"],
		j["cancel-running"], j["array-throttled"], j["dependency"], timeout}
	args, err := slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: live})
	if err != nil {
		t.Fatal(err)
	}
	r.record("squeue-live", site.Monitor, "", args)
	args, _ = slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: live, ExpandArrays: true})
	r.record("squeue-live-expanded", site.Monitor, "", args)
	args, _ = slurm.SqueueArgs(slurm.SqueueQuery{Users: []string{"bob"}})
	r.record("squeue-user", "bob", "", args)
	for name, key := range map[string]string{"scontrol-job-running": "running",
		"scontrol-job-held": "held", "scontrol-job-array": "array-throttled", "scontrol-job-evil": "evil"} {
		args, _ := slurm.JobDetailArgs(j[key])
		r.record(name, site.Monitor, "", args)
	}

	// Phase B: jobs that end at once, read from squeue before MinJobAge purges them.
	var quick []string
	for _, k := range []string{"done", "fail", "signal", "array", "cancel-pending"} {
		quick = append(quick, sub(k))
	}
	r.ssh("alice", []string{"scancel", j["cancel-pending"], j["cancel-running"]})
	quickTasks := []string{j["done"], j["fail"], j["signal"], j["array"] + "_1", j["array"] + "_2",
		j["array"] + "_3", j["cancel-pending"], j["cancel-running"]}
	// "" is a job already purged from the controller: the snapshot then lacks it
	// and the tests say so.
	r.waitFor("quick jobs", quickTasks, fxAll(append(fxEnded, "")...))
	args, _ = slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: append(quick, j["cancel-running"])})
	r.record("squeue-ended", site.Monitor, "", args)

	// Phase C: a requeued job; its second run is started at once.
	rq := sub("requeue")
	r.waitFor("requeue job running", []string{rq}, fxAll("RUNNING"))
	time.Sleep(2 * time.Second)
	r.local("", []string{"scontrol", "requeue", rq})
	r.waitFor("requeue job pending", []string{rq}, fxAll("PENDING"))
	args, _ = slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: []string{rq}})
	r.record("squeue-requeued", site.Monitor, "", args)
	r.local("", []string{"scontrol", "update", "jobid=" + rq, "StartTime=now"})
	r.waitFor("requeue job done", []string{rq}, fxAll("COMPLETED"))

	// Phase D: cancel what is still live, wait for every job's end in accounting.
	r.local("", []string{"scontrol", "resume", j["suspended"]})
	for _, k := range []string{"held", "begin", "evil", "cluster-flag", "running", "suspended", "array-throttled", "dependency"} {
		login := fxScenarioOf(k).Login
		r.ssh(login, []string{"scancel", j[k]})
	}
	for _, id := range all {
		site.WaitJobState(t, ctx, id, 3*time.Minute)
	}
	for task := 1; task <= 3; task++ {
		site.WaitJobState(t, ctx, fmt.Sprintf("%s_%d", j["array"], task), time.Minute)
	}
	time.Sleep(time.Second) // NodeList read right at the end can be incomplete
	args, _ = slurm.SacctArgs(slurm.SacctQuery{JobIDs: all, Cluster: site.Cluster, Runs: true,
		Since: start.Add(-5 * time.Minute), Now: time.Now()})
	r.record("sacct-runs", site.Monitor, "", args)
	args, _ = slurm.SacctArgs(slurm.SacctQuery{JobIDs: all, Cluster: site.Cluster,
		Since: start.Add(-5 * time.Minute), Now: time.Now()})
	r.record("sacct-latest", site.Monitor, "", args)
	args, _ = slurm.SacctArgs(slurm.SacctQuery{JobIDs: []string{j["done"], j["fail"], j["signal"], j["array"]},
		Cluster: site.Cluster, Steps: true, Since: start.Add(-5 * time.Minute), Now: time.Now()})
	r.record("sacct-steps", site.Monitor, "", args)

	// Phase E: failures.
	args, _ = slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: []string{"99999999"}})
	r.record("squeue-unknown-one", site.Monitor, "", args)
	args, _ = slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: []string{"99999998", "99999999"}})
	r.record("squeue-unknown-two", site.Monitor, "", args)
	args, _ = slurm.JobDetailArgs("99999999")
	r.record("scontrol-job-unknown", site.Monitor, "", args)
	closed := fxClosedPort(t)
	silent := fxSilentPort(t, ctx)
	confClosed := fxConfWith(t, site.SlurmConf, "SlurmctldPort", closed)
	confSilent := fxConfWith(t, site.SlurmConf, "SlurmctldPort", silent)
	confNoDBD := fxConfWith(t, site.SlurmConf, "AccountingStoragePort", closed)
	args, _ = slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: []string{j["done"]}})
	r.record("squeue-unreachable", "root", confClosed, args)
	r.record("squeue-timeout", "root", confSilent, args)
	args, _ = slurm.SacctArgs(slurm.SacctQuery{JobIDs: []string{j["done"]}, Cluster: site.Cluster})
	r.record("sacct-unreachable", "root", confNoDBD, args)

	// Phase F: discovery.
	r.record("scontrol-partitions", site.Monitor, "", slurm.PartitionsArgs())
	r.record("scontrol-nodes", site.Monitor, "", slurm.NodesArgs())
	r.record("scontrol-topology", site.Monitor, "", slurm.TopologyArgs())
	r.finish()
}

func fxRecordDE(t *testing.T, ctx context.Context, env *devsites.Env, site devsites.Site) {
	r := fxNewRec(t, ctx, env, site)
	var all []string
	defer func() {
		if len(all) > 0 {
			r.local("", append([]string{"scancel"}, all...))
		}
	}()
	for _, who := range []string{"alice", "bob"} {
		acct := map[string]string{"alice": "acct-a", "bob": "acct-b"}[who]
		s := fxScenario{Key: "held-" + who, Login: who, Account: acct, Partition: "short",
			Name: "sta-held-" + who, Comment: "sta:held-" + who, Time: "5", Extra: []string{"--hold"}, Wrap: "true"}
		all = append(all, r.submit(s))
	}
	a, b := r.m.Jobs["held-alice"], r.m.Jobs["held-bob"]
	args, _ := slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: []string{a}})
	r.record("squeue-private-other", "bob", "", args)
	args, _ = slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: []string{a, b}})
	r.record("squeue-private-mixed", "bob", "", args)
	r.record("squeue-monitor", site.Monitor, "", args)
	args, _ = slurm.JobDetailArgs(a)
	r.record("scontrol-job-private-other", "bob", "", args)
	r.record("scontrol-partitions", site.Monitor, "", slurm.PartitionsArgs())
	r.record("scontrol-nodes", site.Monitor, "", slurm.NodesArgs())
	r.record("scontrol-topology", site.Monitor, "", slurm.TopologyArgs())
	r.ssh("alice", []string{"scancel", a})
	r.ssh("bob", []string{"scancel", b})
	r.finish()
}

// fxClosedPort returns a loopback port nothing listens on.
func fxClosedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// fxSilentPort returns a loopback port that accepts connections and never
// answers: a controller that hangs.
func fxSilentPort(t *testing.T, ctx context.Context) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// fxConfWith copies slurm.conf with one key set to value (and the controller's
// address on loopback when the port changes), in a temporary folder.
func fxConfWith(t *testing.T, conf, key, value string) string {
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^` + key + `=.*$`)
	out := re.ReplaceAllString(string(b), key+"="+value)
	if key == "SlurmctldPort" {
		out = regexp.MustCompile(`(?m)^SlurmctldHost=.*$`).ReplaceAllString(out, "SlurmctldHost=vm(127.0.0.1)")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "slurm.conf")
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	// slurm.conf includes topology.conf from its own folder when the plugin is on.
	if tb, err := os.ReadFile(filepath.Join(filepath.Dir(conf), "topology.conf")); err == nil {
		os.WriteFile(filepath.Join(dir, "topology.conf"), tb, 0o644)
	}
	return p
}
