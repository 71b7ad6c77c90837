package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/internal/devsites"
)

// startDaemonTables starts the daemon with TOML tables (such as [routing])
// appended to the dev sites' configuration.
func startDaemonTables(t *testing.T, env *devsites.Env, tables string) *daemon {
	t.Helper()
	return startDaemonEdit(t, env, func(cfg []byte) []byte { return append(cfg, []byte("\n"+tables+"\n")...) })
}

func (d *daemon) explain(user, id string) api.Decision {
	d.t.Helper()
	var dec api.Decision
	if code := d.do("GET", "/v1/jobs/"+id+"/explain", user, nil, &dec); code != 200 {
		d.t.Fatalf("explain %s: %d", id, code)
	}
	return dec
}

func candidate(t *testing.T, dec api.Decision, site string) api.SiteCandidate {
	t.Helper()
	for _, c := range dec.Candidates {
		if c.Site == site {
			return c
		}
	}
	t.Fatalf("decision has no candidate %s: %+v", site, dec)
	return api.SiteCandidate{}
}

// TestRoutingKeepsJurisdiction: a CA-only project's job goes to ca-hydro; named
// de-hpc it is REJECTED (recorded, nothing reaches de-hpc); with #SBATCH -M or
// --clusters in its script it is refused as invalid, naming the line.
func TestRoutingKeepsJurisdiction(t *testing.T) {
	env := devsites.Load(t)
	de := env.Site(t, "de-hpc")
	d := startDaemon(t, env)
	script := "#!/bin/bash\n#SBATCH --time=1\nhostname\n"

	j, code, aerr := d.submit("alice", api.SubmitRequest{Script: script, Project: "climate-ca"}, "")
	if aerr != nil || code != http.StatusCreated || j.Site != "ca-hydro" || j.SiteJobID == "" {
		t.Fatalf("climate-ca job: %d %+v %+v; want it on ca-hydro", code, aerr, j)
	}
	dec := d.explain("alice", j.ID)
	if c := candidate(t, dec, "de-hpc"); c.Eligible || !strings.Contains(strings.Join(c.Reasons, ";"), "jurisdiction DE is not allowed") {
		t.Errorf("de-hpc in the decision: %+v", c)
	}
	if c := candidate(t, dec, "ca-hydro"); !c.Eligible || len(c.Parts) != 3 {
		t.Errorf("ca-hydro in the decision: %+v", c)
	}

	named, code, aerr := d.submit("alice", api.SubmitRequest{Script: script, Project: "climate-ca", Site: "de-hpc"}, "")
	if aerr != nil || code != http.StatusCreated || named.State != api.StateRejected || named.SiteJobID != "" ||
		!strings.Contains(named.Reason, "de-hpc: jurisdiction DE is not allowed for project climate-ca") {
		t.Fatalf("climate-ca job named to de-hpc: %d %+v %+v; want REJECTED for its jurisdiction", code, aerr, named)
	}
	if dec := d.explain("alice", named.ID); !dec.Named || candidate(t, dec, "ca-hydro").Eligible {
		t.Errorf("decision of the named job: %+v", dec)
	}
	// Nothing reached de-hpc: no job there carries the tag, and the daemon ran
	// no sbatch there.
	if out := de.Slurm(t, t.Context(), "sacct", "-a", "-n", "-X", "-P", "-D", "-S", "now-3600", "-E", "now+60",
		"-M", de.Cluster, "-o", "JobID,Comment"); strings.Contains(out, named.ID) {
		t.Fatalf("a job on de-hpc carries the tag of a job refused there:\n%s", out)
	}
	if n, ok := scrapeMetrics(t, d)[`sta_gateway_ssh_command_duration_seconds_count{command="sbatch",site="de-hpc"}`]; ok {
		t.Fatalf("the daemon ran sbatch on de-hpc %v times", n)
	}

	for _, line := range []string{"#SBATCH -M de-hpc", "#SBATCH --clusters=de-hpc", "#SBATCH --cluster de-hpc"} {
		_, code, aerr := d.submit("alice", api.SubmitRequest{Script: "#!/bin/bash\n" + line + "\nhostname\n", Project: "climate-ca"}, "")
		if code != http.StatusBadRequest || aerr == nil || aerr.Field != "script" || !strings.Contains(aerr.Message, "line 2") {
			t.Errorf("%s: %d %+v; want 400 naming script line 2", line, code, aerr)
		} else {
			t.Logf("%s: %s", line, aerr.Message)
		}
	}
	d.waitState("alice", j.ID, 60*time.Second, final)
}

// TestFitsNowhereRejected: a job too big for every site is REJECTED, and its
// reason and decision give every site's reason.
func TestFitsNowhereRejected(t *testing.T) {
	env := devsites.Load(t)
	d := startDaemon(t, env)
	j, code, aerr := d.submit("bob", api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --nodes=9\n#SBATCH --time=1\nhostname\n",
		Project: "fusion"}, "")
	if aerr != nil || code != http.StatusCreated || j.State != api.StateRejected {
		t.Fatalf("9-node job: %d %+v %+v; want REJECTED", code, aerr, j)
	}
	for _, want := range []string{"ca-hydro: 9 nodes, the partition has 4", "de-hpc: 9 nodes, the partition has 4"} {
		if !strings.Contains(j.Reason, want) {
			t.Errorf("reason %q lacks %q", j.Reason, want)
		}
	}
	dec := d.explain("bob", j.ID)
	if len(dec.Candidates) != 2 || dec.Site != "" {
		t.Fatalf("decision: %+v", dec)
	}
	for _, c := range dec.Candidates {
		if c.Eligible || len(c.Reasons) != 1 {
			t.Errorf("candidate %+v", c)
		}
	}
	if j.HoldSeconds != 0 {
		t.Errorf("a rejected job holds %d core-seconds", j.HoldSeconds)
	}
	// A dry run of the same says no_site (422) and stores nothing.
	_, code, aerr = d.submit("bob", api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --nodes=9\nhostname\n", Project: "fusion", DryRun: true}, "")
	if code != http.StatusUnprocessableEntity || aerr == nil || aerr.Code != api.CodeNoSite {
		t.Errorf("dry run: %d %+v", code, aerr)
	}
}

// TestJobSizing: the gateway sizes a job as Slurm will (dry runs on
// ca-hydro, 4 nodes of 8 CPUs): --ntasks without --nodes spreads over as many
// nodes as its CPUs need, or as --ntasks-per-node says; --exclusive takes whole
// nodes, --oversubscribe does not; a job no partition has nodes for fits
// nowhere.
func TestJobSizing(t *testing.T) {
	env := devsites.Load(t)
	d := startDaemon(t, env)
	for _, tc := range []struct{ directives, want string }{
		{"--ntasks=12", "2 nodes x 6 CPUs"},
		{"--ntasks=12\n#SBATCH --ntasks-per-node=4", "3 nodes x 4 CPUs"},
		{"--ntasks=6\n#SBATCH --cpus-per-task=2", "2 nodes x 6 CPUs"},
		{"--ntasks=1\n#SBATCH --oversubscribe", "1 nodes x 1 CPUs"},
		{"--ntasks=1\n#SBATCH --exclusive", "1 nodes x 8 CPUs"},
		{"--ntasks=40", "5 nodes, the partition has 4"},
	} {
		script := "#!/bin/bash\n#SBATCH " + tc.directives + "\n#SBATCH --time=10\nsrun hostname\n"
		j, code, aerr := d.submit("alice", api.SubmitRequest{Script: script, Project: "climate-ca", DryRun: true}, "")
		var said string // ca-hydro's reasons
		switch {
		case code == http.StatusOK && aerr == nil && j.Decision != nil:
			said = strings.Join(candidate(t, *j.Decision, "ca-hydro").Reasons, "; ")
		case code == http.StatusUnprocessableEntity && aerr != nil && aerr.Code == api.CodeNoSite:
			said = aerr.Message // every site's reasons
		default:
			t.Fatalf("%s: %d %+v", tc.directives, code, aerr)
		}
		if !strings.Contains(said, tc.want) {
			t.Errorf("%q: ca-hydro says %q, want %q in it", tc.directives, said, tc.want)
		}
	}
}

// TestWeightsDecideBetweenSites: fusion may run at ca-hydro (30 gCO2/kWh, 0.02 per
// core-hour) and de-hpc (380 gCO2/kWh, 0.01). Weighing carbon sends its jobs to
// ca-hydro, weighing cost to de-hpc, every time; the job runs where the decision
// says, and the metrics show it.
func TestWeightsDecideBetweenSites(t *testing.T) {
	env := devsites.Load(t)
	req := api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --time=1\n#SBATCH --ntasks=1\nsleep 1\n", Project: "fusion"}
	for _, tc := range []struct {
		weights string
		want    string
	}{
		{"wait_weight = 0\ncarbon_weight = 1\ncost_weight = 0", "ca-hydro"},
		{"wait_weight = 0\ncarbon_weight = 0\ncost_weight = 1000", "de-hpc"},
		{"wait_weight = 0\ncarbon_weight = 0.02\ncost_weight = 1000", "de-hpc"},   // 0.6+20 vs 7.6+10
		{"wait_weight = 0\ncarbon_weight = 0.05\ncost_weight = 1000", "ca-hydro"}, // 1.5+20 vs 19+10
	} {
		d := startDaemonTables(t, env, "[routing]\n"+tc.weights)
		for i := range 3 {
			dry := req
			dry.DryRun = true
			j, code, aerr := d.submit("bob", dry, "")
			if aerr != nil || code != http.StatusOK || j.Site != tc.want {
				t.Fatalf("[routing] %q, dry run %d: %d %+v site %q; want %s", tc.weights, i, code, aerr, j.Site, tc.want)
			}
		}
		j, code, aerr := d.submit("bob", req, "")
		if aerr != nil || code != http.StatusCreated || j.Site != tc.want {
			t.Fatalf("[routing] %q: %d %+v site %q; want %s", tc.weights, code, aerr, j.Site, tc.want)
		}
		dec := d.explain("bob", j.ID)
		c := candidate(t, dec, tc.want)
		t.Logf("[routing] %s -> %s: %v", strings.ReplaceAll(tc.weights, "\n", ", "), dec.Site, c.Reasons)
		if dec.Weights == nil || len(c.Parts) != 3 {
			t.Errorf("decision without weights or score parts: %+v", dec)
		}
		sum := 0.0
		for _, p := range c.Parts {
			if p.Points != p.Value*p.Weight {
				t.Errorf("score part %+v: points != value x weight", p)
			}
			sum += p.Points
		}
		if sum != c.Score {
			t.Errorf("score %v, parts add up to %v", c.Score, sum)
		}
		done := d.waitState("bob", j.ID, 90*time.Second, final)
		if done.State != api.StateCompleted {
			t.Fatalf("job at %s ended %s (%s)", tc.want, done.State, done.Reason)
		}
		// The metrics scrape (no token) shows the submission, the job's state,
		// the poller's queries, the SSH command timings and the ledger.
		m := scrapeMetrics(t, d)
		s := tc.want
		for _, want := range []struct {
			series string
			min    float64
		}{
			{`sta_gateway_submissions_total{result="accepted",site="` + s + `"}`, 1},
			{`sta_gateway_submissions_total{result="submitted",site="` + s + `"}`, 1},
			{`sta_gateway_jobs{site="` + s + `",state="COMPLETED"}`, 1},
			{`sta_gateway_slurm_queries_total{command="squeue",site="` + s + `"}`, 1},
			{`sta_gateway_slurm_queries_total{command="sacct",site="` + s + `"}`, 1},
			{`sta_gateway_ssh_command_duration_seconds_count{command="sbatch",site="` + s + `"}`, 1},
			{`sta_gateway_ledger_holds_total{site="` + s + `"}`, 1},
			{`sta_gateway_ledger_charges_total{site="` + s + `"}`, 1},
			{`sta_gateway_site_reachable{jurisdiction="CA",site="ca-hydro"}`, 1},
			{`sta_gateway_site_reachable{jurisdiction="DE",site="de-hpc"}`, 1},
			{`sta_gateway_poll_ticks_total{result="ok",site="de-hpc"}`, 1},
		} {
			if got, ok := m[want.series]; !ok || got < want.min {
				t.Errorf("metric %s = %v (present %v), want >= %v", want.series, got, ok, want.min)
			}
		}
		if got := m[`sta_gateway_ledger_charged_core_seconds_total{site="`+s+`"}`]; got != float64(done.CoreSeconds) {
			t.Errorf("charged core-seconds metric %v, the job was charged %d", got, done.CoreSeconds)
		}
		for _, p := range []string{"/healthz", "/readyz"} {
			if code := d.do("GET", p, "", nil, nil); code != 200 {
				t.Errorf("GET %s: %d", p, code)
			}
		}
		d.stop()
	}
}

// scrapeMetrics reads /metrics (no token) into "name{labels}" -> value.
func scrapeMetrics(t *testing.T, d *daemon) map[string]float64 {
	t.Helper()
	resp, err := http.Get(d.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	b := new(strings.Builder)
	if _, err := io.Copy(b, resp.Body); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(b.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// stopSSHD kills a site's sshd and every connection it serves (the processes
// descended from the PID dev-sites recorded), so the site cannot be reached;
// restoreSSHD brings it back with dev-sites.
func stopSSHD(t *testing.T, env *devsites.Env, site string) {
	t.Helper()
	root := env.PID(t, site+"-sshd")
	pids := descendants(root)
	for _, p := range append([]int{root}, pids...) {
		syscall.Kill(p, syscall.SIGKILL)
	}
	t.Logf("killed %s's sshd %d and %d processes under it", site, root, len(pids))
}

func restoreSSHD(t *testing.T, site string) {
	t.Helper()
	out, err := exec.Command(filepath.Join("..", "..", "scripts", "dev-sites.sh"), "up", site).CombinedOutput()
	if err != nil {
		t.Fatalf("dev-sites up %s: %v\n%s", site, err, out)
	}
}

// descendants lists the processes under pid (from /proc/*/stat).
func descendants(pid int) []int {
	children := map[int][]int{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+2:]
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// TestSiteDownRoutesElsewhere: with routing weighted to de-hpc, a fusion job
// runs there; with de-hpc's sshd stopped, that job stays (flagged
// site_unreachable, not failed) and new fusion jobs go to ca-hydro, with de-hpc
// excluded as unreachable; once sshd is back the flag clears and the first job
// completes.
func TestSiteDownRoutesElsewhere(t *testing.T) {
	env := devsites.Load(t)
	d := startDaemonTables(t, env, "[routing]\nwait_weight = 0\ncarbon_weight = 0\ncost_weight = 1000")
	long, code, aerr := d.submit("bob", api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --time=2\nsleep 25\n", Project: "fusion"}, "")
	if aerr != nil || code != http.StatusCreated || long.Site != "de-hpc" {
		t.Fatalf("first job: %d %+v %+v; want de-hpc", code, aerr, long)
	}
	d.waitState("bob", long.ID, 60*time.Second, func(j api.Job) bool { return j.State == api.StateRunning })
	stopSSHD(t, env, "de-hpc")
	restored := false
	t.Cleanup(func() {
		if !restored {
			restoreSSHD(t, "de-hpc")
		}
	})
	// The poller notices at its next tick.
	d.waitState("bob", long.ID, 30*time.Second, func(j api.Job) bool { return j.Unreachable })
	if j := d.job("bob", long.ID); j.State != api.StateRunning {
		t.Fatalf("the job on the unreachable site is %s, want it left RUNNING", j.State)
	}
	var sites []api.Site
	d.do("GET", "/v1/sites", "bob", nil, &sites)
	for _, s := range sites {
		if s.Name == "de-hpc" && (s.Reachable || s.LastError == "") {
			t.Errorf("de-hpc in /v1/sites: %+v", s)
		}
	}
	for i := range 2 {
		j, code, aerr := d.submit("bob", api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --time=1\nhostname\n", Project: "fusion"}, "")
		if aerr != nil || code != http.StatusCreated || j.Site != "ca-hydro" || j.SiteJobID == "" {
			t.Fatalf("job %d with de-hpc down: %d %+v %+v; want ca-hydro", i, code, aerr, j)
		}
		c := candidate(t, d.explain("bob", j.ID), "de-hpc")
		if c.Eligible || !strings.Contains(strings.Join(c.Reasons, ";"), "site unreachable") {
			t.Errorf("de-hpc while down: %+v", c)
		}
		d.waitState("bob", j.ID, 60*time.Second, final)
	}
	restoreSSHD(t, "de-hpc")
	restored = true
	done := d.waitState("bob", long.ID, 120*time.Second, final)
	if done.State != api.StateCompleted || done.Unreachable {
		t.Fatalf("the de-hpc job after sshd came back: %s unreachable=%v (%s)", done.State, done.Unreachable, done.Reason)
	}
}

// TestTopologyAwareJob: a 4-node job with placement topology on ca-hydro (leaves
// cabled across: leaf1 hydro01,hydro03; leaf2 hydro02,hydro04) is submitted with
// --switches and the gateway's preamble; srun under the hostfile the job found
// places its 8 ranks leaf by leaf, each node's ranks contiguous: hydro01 x2,
// hydro03 x2, hydro02 x2, hydro04 x2 (Slurm's own order would be by name). The
// job keeps the SHA-256 of the user's script and of the one Slurm ran.
func TestTopologyAwareJob(t *testing.T) {
	env := devsites.Load(t)
	site := env.Site(t, "ca-hydro")
	d := startDaemon(t, env)
	script := "#!/bin/bash\n#SBATCH --nodes=4\n#SBATCH --ntasks-per-node=2\n#SBATCH --time=2\n#SBATCH --job-name=topo\n" +
		"echo hostfile=$STA_HOSTFILE\n" +
		"srun --distribution=arbitrary -l printenv SLURMD_NODENAME | sort -n\n" +
		"echo rankfile:\ncat \"$STA_RANKFILE\"\n"
	j, code, aerr := d.submit("alice", api.SubmitRequest{Script: script, Project: "climate-ca", Placement: "topology"}, "")
	if aerr != nil || code != http.StatusCreated || j.Site != "ca-hydro" || j.SiteJobID == "" {
		t.Fatalf("topology job: %d %+v %+v", code, aerr, j)
	}
	p := d.explain("alice", j.ID).Placement
	if p == nil || p.Switches != "2@00:05:00" || p.Leaves != 2 || p.LowerBound != 2 || p.Pinned {
		t.Fatalf("placement %+v; want 2 leaves, --switches=2@00:05:00, not pinned", p)
	}
	// Asked to pin, the plan's nodes go to --nodelist (a dry run: nothing runs).
	pinned, code, aerr := d.submit("alice", api.SubmitRequest{Script: script, Project: "climate-ca", Placement: "topology",
		PinNodes: true, DryRun: true}, "")
	if aerr != nil || code != http.StatusOK || pinned.Decision == nil || pinned.Decision.Placement == nil ||
		!pinned.Decision.Placement.Pinned || len(pinned.Decision.Placement.Nodes) != 4 {
		t.Fatalf("pinned dry run: %d %+v %+v", code, aerr, pinned.Decision)
	}
	// Not a shell script: refused, the preamble could not run.
	_, code, aerr = d.submit("alice", api.SubmitRequest{Script: "#!/usr/bin/env python3\n#SBATCH --nodes=2\nprint(1)\n",
		Project: "climate-ca", Placement: "topology"}, "")
	if code != http.StatusBadRequest || aerr == nil || aerr.Field != "placement" {
		t.Errorf("python script with placement topology: %d %+v; want 400 on placement", code, aerr)
	}
	sum := sha256.Sum256([]byte(script))
	if j.ScriptSHA256 != hex.EncodeToString(sum[:]) || j.SubmittedSHA256 == "" || j.SubmittedSHA256 == j.ScriptSHA256 {
		t.Errorf("script sums: user %s submitted %s; the user's script hashes to %x", j.ScriptSHA256, j.SubmittedSHA256, sum)
	}
	// What Slurm holds: the submitted script (its hash) and the switch count.
	ran := site.Slurm(t, t.Context(), "scontrol", "write", "batch_script", j.SiteJobID, "-")
	if got := sha256.Sum256([]byte(ran)); hex.EncodeToString(got[:]) != j.SubmittedSHA256 {
		t.Errorf("Slurm's copy of the script hashes to %x, the gateway recorded %s", got, j.SubmittedSHA256)
	}
	if !strings.Contains(ran, "sta-gateway topology preamble") || !strings.HasPrefix(ran, "#!/bin/bash\n#SBATCH --nodes=4\n") {
		t.Errorf("submitted script:\n%s", ran)
	}
	show := site.Slurm(t, t.Context(), "scontrol", "show", "job", j.SiteJobID)
	if !regexp.MustCompile(`Switches=2@00:05:00`).MatchString(show) {
		t.Errorf("scontrol show job: no Switches=2@00:05:00:\n%s", show)
	}
	done := d.waitState("alice", j.ID, 120*time.Second, final)
	if done.State != api.StateCompleted {
		t.Fatalf("topology job ended %s (%s)", done.State, done.Reason)
	}
	var out api.Output
	if code := d.do("GET", "/v1/jobs/"+j.ID+"/output", "alice", nil, &out); code != 200 {
		t.Fatalf("output: %d", code)
	}
	t.Logf("job output:\n%s", out.Data)
	var ranks, rankfile []string
	inRankfile := false
	for _, l := range strings.Split(strings.TrimSpace(out.Data), "\n") {
		switch {
		case l == "rankfile:":
			inRankfile = true
		case inRankfile:
			rankfile = append(rankfile, l)
		case strings.Contains(l, ": "):
			r, node, _ := strings.Cut(l, ": ")
			if r != strconv.Itoa(len(ranks)) {
				t.Fatalf("srun -l rank %s out of order in %q", r, out.Data)
			}
			ranks = append(ranks, node)
		}
	}
	// The preamble's folder is gone with the job (ca-hydro's nodes share
	// this machine's /tmp).
	hf := regexp.MustCompile(`(?m)^hostfile=(/\S+/sta-gateway\.` + j.SiteJobID + `\.\w{6}/hostfile)$`).FindStringSubmatch(out.Data)
	if hf == nil {
		t.Fatalf("no hostfile=.../sta-gateway.%s.XXXXXX/hostfile line in the output", j.SiteJobID)
	}
	if _, err := os.Stat(filepath.Dir(hf[1])); !os.IsNotExist(err) {
		t.Errorf("the preamble's folder %s is left behind after the job: %v", filepath.Dir(hf[1]), err)
	}
	want := []string{"hydro01", "hydro01", "hydro03", "hydro03", "hydro02", "hydro02", "hydro04", "hydro04"}
	if strings.Join(ranks, ",") != strings.Join(want, ",") {
		t.Fatalf("ranks ran on %v; want leaf by leaf %v", ranks, want)
	}
	var wantRF []string
	for i, n := range want {
		wantRF = append(wantRF, fmt.Sprintf("rank %d=%s slot=%d", i, n, i%2))
	}
	if strings.Join(rankfile, "\n") != strings.Join(wantRF, "\n") {
		t.Errorf("rankfile:\n%s\nwant:\n%s", strings.Join(rankfile, "\n"), strings.Join(wantRF, "\n"))
	}

	// The audit trail holds the job's life, and the daemon's binary verifies
	// it against the head the metrics exported.
	var recs []api.AuditRecord
	if code := d.do("GET", "/v1/admin/audit", "admin", nil, &recs); code != 200 {
		t.Fatalf("GET /v1/admin/audit: %d", code)
	}
	var actions []string
	for _, r := range recs {
		if r.Subject == j.ID {
			actions = append(actions, r.Action)
		}
	}
	if strings.Join(actions, ",") != "job.accepted,job.submitted,job.settled" {
		t.Errorf("audit records of %s: %v", j.ID, actions)
	}
	var head string
	for k := range scrapeMetrics(t, d) {
		if m := regexp.MustCompile(`^sta_gateway_audit_head_info\{mac="([0-9a-f]{64})",seq="(\d+)"\}$`).FindStringSubmatch(k); m != nil {
			head = m[2] + ":" + m[1]
		}
	}
	if head == "" {
		t.Fatal("no sta_gateway_audit_head_info in the metrics")
	}
	d.stop()
	verified, err := exec.Command(mustBinary(t), "audit", "verify", "--config", d.config, "--head", head).CombinedOutput()
	if err != nil || !strings.Contains(string(verified), "audit trail ok") {
		t.Fatalf("sta-gateway audit verify --head %s: %v\n%s", head, err, verified)
	}
	t.Logf("%s", verified)
}

// TestExpectedWaitSteersJobs: with ca-hydro's four nodes held by hour-long
// exclusive jobs, the site view's expected start there is about an hour, which
// outweighs its cleaner power at the default weights: a fusion job goes to
// de-hpc, and the decision says why. Once they are cancelled it goes back.
func TestExpectedWaitSteersJobs(t *testing.T) {
	env := devsites.Load(t)
	d := startDaemon(t, env)
	fusion := api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --time=1\nhostname\n", Project: "fusion", DryRun: true}
	if j, code, aerr := d.submit("bob", fusion, ""); aerr != nil || code != 200 || j.Site != "ca-hydro" {
		t.Fatalf("idle federation: %d %+v site %q; want ca-hydro (cleaner power)", code, aerr, j.Site)
	}
	var busy []string
	for range 4 {
		j, code, aerr := d.submit("alice", api.SubmitRequest{Script: "#!/bin/bash\n#SBATCH --exclusive\n#SBATCH --time=60\nsleep 600\n",
			Project: "climate-ca"}, "")
		if aerr != nil || code != http.StatusCreated || j.Site != "ca-hydro" {
			t.Fatalf("filler job: %d %+v %+v", code, aerr, j)
		}
		busy = append(busy, j.ID)
	}
	t.Cleanup(func() {
		for _, id := range busy {
			d.do("POST", "/v1/jobs/"+id+"/cancel", "alice", nil, nil)
		}
	})
	for _, id := range busy {
		d.waitState("alice", id, 60*time.Second, func(j api.Job) bool { return j.State == api.StateRunning })
	}
	// The next poller tick reads the nodes allocated.
	deadline := time.Now().Add(30 * time.Second)
	var j api.Job
	for {
		var code int
		var aerr *api.Error
		j, code, aerr = d.submit("bob", fusion, "")
		if aerr != nil || code != 200 {
			t.Fatalf("dry run: %d %+v", code, aerr)
		}
		if j.Site == "de-hpc" || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if j.Site != "de-hpc" {
		t.Fatalf("with ca-hydro full for an hour the job still goes to %s: %+v", j.Site, j.Decision)
	}
	c := candidate(t, *j.Decision, "ca-hydro")
	t.Logf("ca-hydro while full: score %.1f, %v", c.Score, c.Reasons)
	if c.ExpectedWaitSeconds == nil || *c.ExpectedWaitSeconds < 50*60 || *c.ExpectedWaitSeconds > 61*60 {
		t.Errorf("ca-hydro's expected wait %v s, want about an hour", c.ExpectedWaitSeconds)
	}
	for _, id := range busy {
		d.do("POST", "/v1/jobs/"+id+"/cancel", "alice", nil, nil)
	}
	for _, id := range busy {
		d.waitState("alice", id, 60*time.Second, final)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		j, _, _ = d.submit("bob", fusion, "")
		if j.Site == "ca-hydro" || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if j.Site != "ca-hydro" {
		t.Fatalf("with ca-hydro idle again the job goes to %s", j.Site)
	}
}
