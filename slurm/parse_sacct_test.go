package slurm_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/slurm"
)

func fxSacct(tb testing.TB, site, name string) []slurm.AcctJob {
	tb.Helper()
	rows, err := slurm.ParseSacct(fxOpen(tb, site, name, "out"))
	if err != nil {
		tb.Fatalf("%s/%s: %v", site, name, err)
	}
	return rows
}

// fxRowsOf returns the rows of one job id (allocation rows of its runs, and its
// steps when the query had them).
func fxRowsOf(rows []slurm.AcctJob, jobID string) []slurm.AcctJob {
	var out []slurm.AcctJob
	for _, r := range rows {
		if id, _, _ := strings.Cut(r.JobID, "."); id == jobID {
			out = append(out, r)
		}
	}
	return out
}

// TestParseSacctRuns: sacct --duplicates --allocations for every job the recorder
// submitted, read once all had ended.
func TestParseSacctRuns(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	rows := fxSacct(t, "ca-hydro", "sacct-runs")
	id := m.Jobs
	tests := []struct {
		key, jobID   string
		state        slurm.JobState
		slurmState   string
		code, signal int
		ran          bool // got nodes and a start time
	}{
		{"done", id["done"], slurm.StateCompleted, "COMPLETED", 0, 0, true},
		{"fail", id["fail"], slurm.StateFailed, "FAILED", 3, 0, true},
		{"signal", id["signal"], slurm.StateFailed, "FAILED", 0, 9, true},
		{"timeout", id["timeout"], slurm.StateTimeout, "TIMEOUT", 0, 0, true},
		{"cancel-running", id["cancel-running"], slurm.StateCancelled, "CANCELLED by 1001", 0, 0, true},
		{"running", id["running"], slurm.StateCancelled, "CANCELLED by 1002", 0, 0, true},
		{"suspended", id["suspended"], slurm.StateCancelled, "CANCELLED by 1001", 0, 0, true},
		{"held", id["held"], slurm.StateCancelled, "CANCELLED by 1001", 0, 0, false},
		{"begin", id["begin"], slurm.StateCancelled, "CANCELLED by 1001", 0, 0, false},
		{"dependency", id["dependency"], slurm.StateCancelled, "CANCELLED by 1001", 0, 0, false},
		{"evil", id["evil"], slurm.StateCancelled, "CANCELLED by 1001", 0, 0, false},
		{"cluster-flag", id["cluster-flag"], slurm.StateCancelled, "CANCELLED by 1001", 0, 0, false},
		{"array", id["array"] + "_1", slurm.StateCompleted, "COMPLETED", 0, 0, true},
		{"array", id["array"] + "_2", slurm.StateCompleted, "COMPLETED", 0, 0, true},
		{"array", id["array"] + "_3", slurm.StateCompleted, "COMPLETED", 0, 0, true},
		{"array-throttled", id["array-throttled"] + "_1", slurm.StateCancelled, "CANCELLED by 1001", 0, 0, true},
		{"array-throttled", id["array-throttled"] + "_[2-4%1]", slurm.StateCancelled, "CANCELLED by 1001", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.jobID, func(t *testing.T) {
			runs := fxRowsOf(rows, tt.jobID)
			if len(runs) != 1 {
				t.Fatalf("%d rows, want 1", len(runs))
			}
			j := runs[0]
			s := fxScenarioOf(tt.key)
			if j.User != s.Login || j.Account != s.Account || j.Partition != s.Partition ||
				j.Name != s.Name || j.Comment != s.Comment || j.Cluster != m.Cluster {
				t.Errorf("user %q account %q partition %q name %q comment %q cluster %q; asked %+v",
					j.User, j.Account, j.Partition, j.Name, j.Comment, j.Cluster, s)
			}
			if j.TimeLimit != fxMinutes(t, s.Time) || j.Step != "" {
				t.Errorf("time limit %v step %q", j.TimeLimit, j.Step)
			}
			if j.State != tt.state || j.SlurmState != tt.slurmState || j.ExitCode != tt.code || j.ExitSignal != tt.signal {
				t.Errorf("%s (%q) %d:%d, want %s (%q) %d:%d", j.State, j.SlurmState, j.ExitCode,
					j.ExitSignal, tt.state, tt.slurmState, tt.code, tt.signal)
			}
			if tt.ran != (j.NodeList != "") || tt.ran == (j.CPUTimeRaw == 0 && j.Elapsed == 0 && j.Start.IsZero()) {
				t.Errorf("ran=%v: nodes %q elapsed %d start %v", tt.ran, j.NodeList, j.Elapsed, j.Start)
			}
			// Slurm's own arithmetic: CPUTimeRAW = ElapsedRaw x AllocCPUS.
			if j.CPUTimeRaw != j.Elapsed*int64(j.AllocCPUs) {
				t.Errorf("CPUTimeRAW %d != ElapsedRaw %d x AllocCPUS %d", j.CPUTimeRaw, j.Elapsed, j.AllocCPUs)
			}
			if j.Submit.IsZero() || j.End.IsZero() || j.End.Before(j.Submit) || j.Submit.Location() != time.UTC {
				t.Errorf("submit %v end %v", j.Submit, j.End)
			}
			if !j.Start.IsZero() && (j.Start.Before(j.Submit) || j.End.Before(j.Start)) {
				t.Errorf("submit %v start %v end %v", j.Submit, j.Start, j.End)
			}
		})
	}
	// The timeout job ran past its one-minute limit before it was killed.
	if j := fxRowsOf(rows, id["timeout"])[0]; j.Elapsed < 60 {
		t.Errorf("timeout: elapsed %ds, want at least its 60s limit", j.Elapsed)
	}
	// --ntasks=2 gets two CPUs; --nodes=2 --ntasks=3 three on two nodes.
	if j := fxRowsOf(rows, id["done"])[0]; j.AllocCPUs != 2 || j.NumNodes != 1 {
		t.Errorf("done: %d cpus on %d nodes", j.AllocCPUs, j.NumNodes)
	}
	if j := fxRowsOf(rows, id["running"])[0]; j.AllocCPUs != 3 || j.NumNodes != 2 || j.NodeList != "hydro[01-02]" {
		t.Errorf("running: %d cpus on %d nodes %q", j.AllocCPUs, j.NumNodes, j.NodeList)
	}
	// Array tasks: each has its own raw id, the array's id and its index.
	for task := 1; task <= 3; task++ {
		j := fxRowsOf(rows, fmt.Sprintf("%s_%d", id["array"], task))[0]
		if j.ArrayJobID != id["array"] || j.ArrayTaskID != fmt.Sprint(task) {
			t.Errorf("task %d: array %q task %q raw %q", task, j.ArrayJobID, j.ArrayTaskID, j.JobIDRaw)
		}
	}
}

// TestParseSacctRequeued: a job requeued while it ran has two runs under
// --duplicates, each with its own submit time; the charge is over both.
func TestParseSacctRequeued(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	runs := fxRowsOf(fxSacct(t, "ca-hydro", "sacct-runs"), m.Jobs["requeue"])
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2: %+v", len(runs), runs)
	}
	first, second := runs[0], runs[1]
	if first.State != slurm.StateRequeued || second.State != slurm.StateCompleted {
		t.Errorf("runs %s, %s; want REQUEUED, COMPLETED", first.State, second.State)
	}
	if !second.Submit.After(first.Submit) || second.Start.Before(first.End) {
		t.Errorf("second run submitted %v started %v; first submitted %v ended %v",
			second.Submit, second.Start, first.Submit, first.End)
	}
	latest, ok := slurm.LatestRun(slices.Clone(runs))
	if !ok || latest.State != slurm.StateCompleted || !latest.Submit.Equal(second.Submit) {
		t.Errorf("LatestRun = %+v, %v", latest, ok)
	}
	// Reversed order changes nothing.
	if latest, _ := slurm.LatestRun([]slurm.AcctJob{second, first}); latest.State != slurm.StateCompleted {
		t.Errorf("LatestRun (reversed) = %s", latest.State)
	}
	want := first.Elapsed*int64(first.AllocCPUs) + second.Elapsed*int64(second.AllocCPUs)
	if got := slurm.SumCPUTimeRaw(runs); got != want || got == 0 {
		t.Errorf("SumCPUTimeRaw = %d, want %d (ElapsedRaw x AllocCPUS over both runs)", got, want)
	}
	// Without --duplicates sacct shows the latest run only.
	latestOnly := fxRowsOf(fxSacct(t, "ca-hydro", "sacct-latest"), m.Jobs["requeue"])
	if len(latestOnly) != 1 || latestOnly[0].State != slurm.StateCompleted {
		t.Errorf("without --duplicates: %+v", latestOnly)
	}
}

// TestParseSacctSteps: with steps, SumCPUTimeRaw still counts the allocation only.
func TestParseSacctSteps(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	rows := fxSacct(t, "ca-hydro", "sacct-steps")
	for _, key := range []string{"done", "fail", "signal"} {
		job := fxRowsOf(rows, m.Jobs[key])
		var alloc, steps int
		var allocCPU int64
		for _, r := range job {
			if r.Step == "" {
				alloc++
				allocCPU += r.CPUTimeRaw
				continue
			}
			steps++
			if r.JobIDRaw != m.Jobs[key]+"."+r.Step || r.Step != "batch" {
				t.Errorf("%s: step row %q raw %q step %q", key, r.JobID, r.JobIDRaw, r.Step)
			}
		}
		if alloc != 1 || steps == 0 {
			t.Errorf("%s: %d allocation rows, %d steps", key, alloc, steps)
		}
		if got := slurm.SumCPUTimeRaw(job); got != allocCPU {
			t.Errorf("%s: SumCPUTimeRaw = %d, want the allocation's %d", key, got, allocCPU)
		}
	}
	// The signalled job: the allocation FAILED, its batch step CANCELLED, both 0:9.
	for _, r := range fxRowsOf(rows, m.Jobs["signal"]) {
		want := map[string]slurm.JobState{"": slurm.StateFailed, "batch": slurm.StateCancelled}[r.Step]
		if r.State != want || r.ExitSignal != 9 {
			t.Errorf("signal %q: %s %d:%d", r.Step, r.State, r.ExitCode, r.ExitSignal)
		}
	}
	// Array task steps carry the task's raw id.
	for _, r := range rows {
		if r.ArrayJobID == m.Jobs["array"] && r.Step == "batch" && !strings.HasSuffix(r.JobIDRaw, ".batch") {
			t.Errorf("array step %q raw %q", r.JobID, r.JobIDRaw)
		}
	}
}

func TestSacctStderr(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	for name, want := range map[string]error{"sacct-runs": nil, "sacct-unreachable": slurm.ErrSlurmUnavailable} {
		stderr := fxString(t, "ca-hydro", name, "err")
		err := slurm.ClassifySacctStderr(stderr)
		if (err == nil) != (want == nil) || !errors.Is(err, want) {
			t.Errorf("%s: ClassifySacctStderr = %v, want %v", name, err, want)
		}
		if qerr := slurm.CheckQuery("sacct", m.Commands[name].Exit, stderr); (qerr == nil) != (want == nil) {
			t.Errorf("%s: CheckQuery = %v", name, qerr)
		}
	}
}

// fxSacctRow builds one sacct row of SacctArgs' layout.
func fxSacctRow(f map[string]string) string {
	order := []string{"JobID", "JobIDRaw", "Cluster", "Account", "User", "Partition", "QOS", "State",
		"ExitCode", "Reason", "ElapsedRaw", "AllocCPUS", "CPUTimeRAW", "NNodes", "Submit",
		"Start", "End", "Timelimit", "NodeList", "JobName", "Comment"}
	def := map[string]string{"JobID": "42", "JobIDRaw": "42", "Cluster": "c1", "Account": "a",
		"User": "u", "Partition": "p", "QOS": "normal", "State": "COMPLETED", "ExitCode": "0:0",
		"Reason": "None", "ElapsedRaw": "10", "AllocCPUS": "4", "CPUTimeRAW": "40", "NNodes": "1",
		"Submit": "1795700000", "Start": "1795700001", "End": "1795700011", "Timelimit": "00:10:00",
		"NodeList": "n1", "JobName": "j", "Comment": "sta:x"}
	var b strings.Builder
	for _, k := range order {
		v, ok := f[k]
		if !ok {
			v = def[k]
		}
		b.WriteString(v + "\x1f" + fxMark + "\x1f")
	}
	return b.String() + "\n"
}

func TestParseSacctValues(t *testing.T) {
	tests := []struct {
		name  string
		f     map[string]string
		ok    bool
		check func(j slurm.AcctJob) bool
	}{
		{"running: no end", map[string]string{"State": "RUNNING", "End": "Unknown"}, true,
			func(j slurm.AcctJob) bool { return j.End.IsZero() && j.State == slurm.StateRunning }},
		{"never started", map[string]string{"Start": "None", "NodeList": "None assigned"}, true,
			func(j slurm.AcctJob) bool { return j.Start.IsZero() && j.NodeList == "" }},
		{"oom", map[string]string{"State": "OUT_OF_MEMORY", "ExitCode": "0:125"}, true,
			func(j slurm.AcctJob) bool { return j.State == slurm.StateOutOfMemory && j.ExitSignal == 125 }},
		{"node fail", map[string]string{"State": "NODE_FAIL", "ExitCode": "1:0"}, true,
			func(j slurm.AcctJob) bool { return j.State == slurm.StateNodeFail && j.ExitCode == 1 }},
		{"partition limit", map[string]string{"Timelimit": "Partition_Limit"}, true,
			func(j slurm.AcctJob) bool { return !j.TimeLimit.IsSet() }},
		{"unlimited", map[string]string{"Timelimit": "UNLIMITED"}, true,
			func(j slurm.AcctJob) bool { return j.TimeLimit.Infinite }},
		{"step", map[string]string{"JobID": "42.0", "JobIDRaw": "42.0"}, true,
			func(j slurm.AcctJob) bool { return j.Step == "0" }},
		{"extern step of task", map[string]string{"JobID": "42_3.extern", "JobIDRaw": "45.extern"}, true,
			func(j slurm.AcctJob) bool { return j.Step == "extern" && j.ArrayTaskID == "3" && j.ArrayJobID == "42" }},
		{"hetjob step", map[string]string{"JobID": "42+1.0", "JobIDRaw": "43.0"}, true,
			func(j slurm.AcctJob) bool { return j.Step == "0" }},
		{"large cpu time", map[string]string{"CPUTimeRAW": "9223372036854775807"}, true,
			func(j slurm.AcctJob) bool { return j.CPUTimeRaw == 1<<63-1 }},
		{"step mismatch", map[string]string{"JobID": "42.batch", "JobIDRaw": "42"}, false, nil},
		{"raw not numeric", map[string]string{"JobIDRaw": "x"}, false, nil},
		{"negative", map[string]string{"ElapsedRaw": "-1"}, false, nil},
		{"bad exit", map[string]string{"ExitCode": "x"}, false, nil},
		{"local time", map[string]string{"End": "2026-11-26T10:00:00"}, false, nil},
		{"bad step", map[string]string{"JobID": "42.a b", "JobIDRaw": "42.a b"}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := slurm.ParseSacct(strings.NewReader(fxSacctRow(nil) + fxSacctRow(tt.f)))
			if !tt.ok {
				var pe *slurm.ParseError
				if !errors.As(err, &pe) || pe.Line != 2 || pe.Field == "" {
					t.Fatalf("got %v, %v; want a ParseError on line 2 naming the field", rows, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || !tt.check(rows[1]) {
				t.Errorf("got %+v", rows[1])
			}
		})
	}
}

func TestSacctArgs(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	args, err := slurm.SacctArgs(slurm.SacctQuery{JobIDs: []string{"12", "13_2"}, Cluster: "ca-hydro",
		Runs: true, Since: now.Add(-90 * time.Minute), Now: now, Mark: fxMark})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sacct", "--noheader", "--parsable", "--delimiter=\x1f" + fxMark + "\x1f",
		"--clusters=ca-hydro", "--allocations", "--duplicates", "--jobs=12,13_2", "--starttime=now-5400seconds"}
	if !slices.Equal(args[:len(want)], want) || !strings.HasPrefix(args[len(want)], "--format=JobID,JobIDRaw,") {
		t.Errorf("args %q", args)
	}
	args, _ = slurm.SacctArgs(slurm.SacctQuery{Cluster: "c", Steps: true, AllUsers: true})
	if slices.Contains(args, "--allocations") || !slices.Contains(args, "--allusers") {
		t.Errorf("steps, all users: %q", args)
	}
	args, _ = slurm.SacctArgs(slurm.SacctQuery{Cluster: "c", Users: []string{"alice", "bob"}})
	if !slices.Contains(args, "--user=alice,bob") {
		t.Errorf("users: %q", args)
	}
	for _, bad := range []slurm.SacctQuery{
		{}, {Cluster: "-M"}, {Cluster: "c", JobIDs: []string{"1,2"}}, {Cluster: "c", Users: []string{"-a"}},
		{Cluster: "c", Since: now}, {Cluster: "c", Mark: "bad"},
	} {
		if args, err := slurm.SacctArgs(bad); err == nil {
			t.Errorf("SacctArgs(%+v) = %q, want an error", bad, args)
		}
	}
}

func ExampleSumCPUTimeRaw() {
	// Two runs of a requeued job (sacct --duplicates) and a step of the second.
	runs := []slurm.AcctJob{
		{JobID: "391", State: slurm.StateRequeued, CPUTimeRaw: 4},
		{JobID: "391", State: slurm.StateCompleted, CPUTimeRaw: 16},
		{JobID: "391.batch", Step: "batch", CPUTimeRaw: 16},
	}
	fmt.Println(slurm.SumCPUTimeRaw(runs), "core-seconds")
	// Output: 20 core-seconds
}
