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

// fxMinutes is a scenario's --time in minutes as a TimeLimit.
func fxMinutes(tb testing.TB, s string) slurm.TimeLimit {
	tb.Helper()
	l, err := slurm.ParseTimeLimit(s)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// fxSqueue parses a recorded squeue fixture, indexed by job id.
func fxSqueue(tb testing.TB, site, name string) map[string]slurm.QueueJob {
	tb.Helper()
	jobs, err := slurm.ParseSqueue(fxOpen(tb, site, name, "out"))
	if err != nil {
		tb.Fatalf("%s/%s: %v", site, name, err)
	}
	m := map[string]slurm.QueueJob{}
	for _, j := range jobs {
		m[j.JobID] = j
	}
	return m
}

// fxCheckAsked checks what every row must show of the scenario it was submitted as.
func fxCheckAsked(t *testing.T, j slurm.QueueJob, s fxScenario, cluster string) {
	t.Helper()
	if j.User != s.Login || j.Account != s.Account || j.Partition != s.Partition ||
		j.Name != s.Name || j.Comment != s.Comment || j.Cluster != cluster {
		t.Errorf("job %s: user %q account %q partition %q name %q comment %q cluster %q; asked %q %q %q %q %q on %q",
			j.JobID, j.User, j.Account, j.Partition, j.Name, j.Comment, j.Cluster,
			s.Login, s.Account, s.Partition, s.Name, s.Comment, cluster)
	}
	if want := fxMinutes(t, s.Time); j.TimeLimit != want {
		t.Errorf("job %s: time limit %v, asked %v", j.JobID, j.TimeLimit, want)
	}
	if j.SubmitTime.IsZero() || j.SubmitTime.Location() != time.UTC {
		t.Errorf("job %s: submit time %v, want a UTC time", j.JobID, j.SubmitTime)
	}
}

// TestParseSqueueLive: one squeue call, recorded as the monitor login while jobs
// pended (held, begin time, dependency, array throttle), ran (one on two nodes)
// and were suspended.
func TestParseSqueueLive(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	jobs := fxSqueue(t, "ca-hydro", "squeue-live")
	id := m.Jobs
	arr := id["array-throttled"]
	tests := []struct {
		key, jobID string
		state      slurm.JobState
		reason     string
		running    bool // started: start time set, nodes allocated
	}{
		{"held", id["held"], slurm.StatePending, "JobHeldUser", false},
		{"begin", id["begin"], slurm.StatePending, "BeginTime", false},
		{"dependency", id["dependency"], slurm.StatePending, "Dependency", false},
		{"evil", id["evil"], slurm.StatePending, "JobHeldUser", false},
		{"cluster-flag", id["cluster-flag"], slurm.StatePending, "JobHeldUser", false},
		{"running", id["running"], slurm.StateRunning, "", true},
		{"cancel-running", id["cancel-running"], slurm.StateRunning, "", true},
		{"suspended", id["suspended"], slurm.StateSuspended, "", true},
		{"timeout", id["timeout"], slurm.StateRunning, "", true},
		{"array-throttled", arr + "_1", slurm.StateRunning, "", true},
		{"array-throttled", arr + "_[2-4%1]", slurm.StatePending, "JobArrayTaskLimit", false},
	}
	if len(jobs) != len(tests) {
		t.Errorf("%d rows, want %d: %v", len(jobs), len(tests), slices.Collect(mapKeys(jobs)))
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.jobID, func(t *testing.T) {
			j, ok := jobs[tt.jobID]
			if !ok {
				t.Fatalf("no row for job %s", tt.jobID)
			}
			fxCheckAsked(t, j, fxScenarioOf(tt.key), m.Cluster)
			if j.State != tt.state || j.Reason != tt.reason {
				t.Errorf("state %s reason %q (Slurm %q), want %s %q", j.State, j.Reason, j.SlurmState, tt.state, tt.reason)
			}
			switch {
			case tt.running != (j.NodeList != ""):
				t.Errorf("started=%v but nodes %q", tt.running, j.NodeList)
			case tt.key == "begin":
				// Pending with --begin=now+3600: squeue shows the expected start.
				if !j.StartTime.Equal(j.SubmitTime.Add(time.Hour)) {
					t.Errorf("expected start %v, want submit %v + 1h", j.StartTime, j.SubmitTime)
				}
			case tt.running == j.StartTime.IsZero():
				t.Errorf("started=%v but start time %v", tt.running, j.StartTime)
			}
			if tt.running && !j.EndTime.Equal(j.StartTime.Add(j.TimeLimit.Duration)) {
				t.Errorf("expected end %v, want start %v + limit %v", j.EndTime, j.StartTime, j.TimeLimit)
			}
			if j.ExitCode != 0 || j.ExitSignal != 0 || j.Restarts != 0 {
				t.Errorf("exit %d:%d restarts %d of a live job", j.ExitCode, j.ExitSignal, j.Restarts)
			}
		})
	}
	// Multi-node allocation of --nodes=2 --ntasks=3.
	if j := jobs[id["running"]]; j.NumNodes != 2 || j.NumCPUs != 3 || j.NodeList != "hydro[01-02]" {
		t.Errorf("running job: %d nodes, %d cpus on %q; want 2, 3 on hydro[01-02]", j.NumNodes, j.NumCPUs, j.NodeList)
	}
	// Array rows: the running task has its own raw id; the pending ones share the array's.
	if j := jobs[arr+"_1"]; j.ArrayJobID != arr || j.ArrayTaskID != "1" || j.RawJobID == arr {
		t.Errorf("array task 1: array %q task %q raw %q", j.ArrayJobID, j.ArrayTaskID, j.RawJobID)
	}
	if j := jobs[arr+"_[2-4%1]"]; j.ArrayJobID != arr || j.ArrayTaskID != "2-4%1" || j.RawJobID != arr {
		t.Errorf("pending array tasks: array %q task %q raw %q", j.ArrayJobID, j.ArrayTaskID, j.RawJobID)
	}
	if j := jobs[id["held"]]; j.ArrayJobID != "" || j.ArrayTaskID != "" || j.RawJobID != id["held"] {
		t.Errorf("plain job: array %q task %q raw %q", j.ArrayJobID, j.ArrayTaskID, j.RawJobID)
	}
	// The evil comment ends in what looks like a row of job 1: it is no row.
	if _, ok := jobs["1"]; ok {
		t.Error("a comment forged a row for job 1")
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestParseSqueueExpanded: with --array every pending task has its own row.
func TestParseSqueueExpanded(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	jobs := fxSqueue(t, "ca-hydro", "squeue-live-expanded")
	arr := m.Jobs["array-throttled"]
	for task := 1; task <= 4; task++ {
		j, ok := jobs[fmt.Sprintf("%s_%d", arr, task)]
		if !ok {
			t.Errorf("no row for task %d", task)
			continue
		}
		want := slurm.StatePending
		if task == 1 {
			want = slurm.StateRunning
		}
		if j.State != want || j.ArrayTaskID != fmt.Sprint(task) || j.ArrayJobID != arr {
			t.Errorf("task %d: %s, array %q task %q", task, j.State, j.ArrayJobID, j.ArrayTaskID)
		}
	}
	if _, ok := jobs[arr+"_[2-4%1]"]; ok {
		t.Error("--array still printed the tasks together")
	}
}

// TestParseSqueueUser: `squeue --user=bob` as bob sees only bob's jobs.
func TestParseSqueueUser(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	jobs := fxSqueue(t, "ca-hydro", "squeue-user")
	if len(jobs) == 0 {
		t.Fatal("no rows")
	}
	for _, j := range jobs {
		if j.User != "bob" {
			t.Errorf("job %s of %s in bob's query", j.JobID, j.User)
		}
	}
	if _, ok := jobs[m.Jobs["running"]]; !ok {
		t.Errorf("bob's running job %s missing", m.Jobs["running"])
	}
}

// TestParseSqueueEnded: jobs that just ended, before MinJobAge purged them.
func TestParseSqueueEnded(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	jobs := fxSqueue(t, "ca-hydro", "squeue-ended")
	id := m.Jobs
	tests := []struct {
		key, jobID   string
		state        slurm.JobState
		code, signal int
	}{
		{"done", id["done"], slurm.StateCompleted, 0, 0},
		{"fail", id["fail"], slurm.StateFailed, 3, 0},     // exit 3
		{"signal", id["signal"], slurm.StateFailed, 0, 9}, // kill -9 $$
		{"cancel-running", id["cancel-running"], slurm.StateCancelled, 0, 15},
		{"cancel-pending", id["cancel-pending"], slurm.StateCancelled, 0, 0},
		{"array", id["array"] + "_1", slurm.StateCompleted, 0, 0},
		{"array", id["array"] + "_2", slurm.StateCompleted, 0, 0},
		{"array", id["array"] + "_3", slurm.StateCompleted, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.jobID, func(t *testing.T) {
			j, ok := jobs[tt.jobID]
			if !ok {
				t.Fatalf("no row for %s (purged before it was read? re-record)", tt.jobID)
			}
			fxCheckAsked(t, j, fxScenarioOf(tt.key), m.Cluster)
			if j.State != tt.state || !j.State.IsFinal() || j.ExitCode != tt.code || j.ExitSignal != tt.signal {
				t.Errorf("%s (Slurm %q) exit %d signal %d; want %s %d %d", j.State, j.SlurmState,
					j.ExitCode, j.ExitSignal, tt.state, tt.code, tt.signal)
			}
			if j.EndTime.Before(j.StartTime) || j.EndTime.IsZero() {
				t.Errorf("end %v before start %v", j.EndTime, j.StartTime)
			}
		})
	}
	if j := jobs[id["done"]]; j.NumCPUs != 2 || j.NumNodes != 1 {
		t.Errorf("done: %d cpus on %d nodes, asked --nodes=1 --ntasks=2", j.NumCPUs, j.NumNodes)
	}
}

// TestSqueueStderr: what squeue printed on stderr for unknown jobs, a dead and a
// hanging controller, and PrivateData=jobs on de-hpc.
func TestSqueueStderr(t *testing.T) {
	tests := []struct {
		site, name string
		want       error // nil: no failure
		transient  bool
	}{
		{"ca-hydro", "squeue-live", nil, false},
		{"ca-hydro", "squeue-unknown-one", slurm.ErrInvalidJobID, false},
		{"ca-hydro", "squeue-unknown-two", nil, false}, // several unknown ids: silently absent
		{"ca-hydro", "squeue-unreachable", slurm.ErrSlurmUnavailable, true},
		{"ca-hydro", "squeue-timeout", slurm.ErrSlurmUnavailable, true},
		{"de-hpc", "squeue-private-other", slurm.ErrInvalidJobID, false},
		{"de-hpc", "squeue-private-mixed", nil, false},
		{"de-hpc", "squeue-monitor", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.site+"/"+tt.name, func(t *testing.T) {
			m := fxLoad(t, tt.site)
			stderr := fxString(t, tt.site, tt.name, "err")
			err := slurm.ClassifySqueueStderr(stderr)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("ClassifySqueueStderr(%q) = %v, want %v", stderr, err, tt.want)
			}
			qerr := slurm.CheckQuery("squeue", m.Commands[tt.name].Exit, stderr)
			if (qerr == nil) != (tt.want == nil) || !errors.Is(qerr, tt.want) {
				t.Errorf("CheckQuery(exit %d) = %v, want %v", m.Commands[tt.name].Exit, qerr, tt.want)
			}
			var se *slurm.StderrError
			if err != nil && (!errors.As(err, &se) || se.Transient() != tt.transient) {
				t.Errorf("%v: transient=%v, want %v", err, se != nil && se.Transient(), tt.transient)
			}
			// Whatever stderr says, stdout parses (to nothing on failure).
			jobs, perr := slurm.ParseSqueue(fxOpen(t, tt.site, tt.name, "out"))
			if perr != nil || (err != nil && len(jobs) != 0) {
				t.Errorf("stdout: %d rows, %v", len(jobs), perr)
			}
		})
	}
}

// TestSqueuePrivateData: on de-hpc (PrivateData=jobs), bob asking for his job and
// alice's gets his only; the monitor login sees both.
func TestSqueuePrivateData(t *testing.T) {
	m := fxLoad(t, "de-hpc")
	a, b := m.Jobs["held-alice"], m.Jobs["held-bob"]
	mixed := fxSqueue(t, "de-hpc", "squeue-private-mixed")
	if _, ok := mixed[a]; ok || len(mixed) != 1 || mixed[b].User != "bob" || mixed[b].Cluster != "de-hpc" {
		t.Errorf("bob's view: %v", mixed)
	}
	mon := fxSqueue(t, "de-hpc", "squeue-monitor")
	if mon[a].User != "alice" || mon[b].User != "bob" || len(mon) != 2 {
		t.Errorf("monitor's view: %v", mon)
	}
	for _, j := range mon {
		if j.State != slurm.StatePending || j.Reason != "JobHeldUser" || j.Comment != "sta:"+strings.TrimPrefix(j.Name, "sta-") {
			t.Errorf("job %s: %s %q comment %q", j.JobID, j.State, j.Reason, j.Comment)
		}
	}
}

// fxRow builds one squeue row of SqueueArgs' layout with the given mark.
func fxSqueueRow(mark string, f map[string]string) string {
	order := []string{"JobArrayID", "JobID", "ArrayJobID", "ArrayTaskID", "Cluster", "State", "Reason",
		"UserName", "Account", "Partition", "QOS", "SubmitTime", "StartTime", "EndTime",
		"NodeList", "NumNodes", "NumCPUs", "TimeLimit", "exit_code", "RestartCnt", "Name", "Comment"}
	def := map[string]string{"JobArrayID": "42", "JobID": "42", "ArrayJobID": "42", "ArrayTaskID": "N/A",
		"Cluster": "c1", "State": "RUNNING", "Reason": "None", "UserName": "alice", "Account": "acct-a",
		"Partition": "batch", "QOS": "normal", "SubmitTime": "1795700000", "StartTime": "1795700010",
		"EndTime": "1795703610", "NodeList": "n[1-2]", "NumNodes": "2", "NumCPUs": "16",
		"TimeLimit": "1:00:00", "exit_code": "0", "RestartCnt": "0", "Name": "job", "Comment": "sta:x"}
	var b strings.Builder
	sep := "\x1f" + mark + "\x1f"
	for _, k := range order {
		v, ok := f[k]
		if !ok {
			v = def[k]
		}
		b.WriteString(v)
		b.WriteString(sep)
	}
	b.WriteString("\n")
	return b.String()
}

const fxMark = "TESTMARK2345ABCDEFGHIJKLMN"

// TestParseSqueueRejects: damaged or foreign output is an error naming the line,
// never rows.
func TestParseSqueueRejects(t *testing.T) {
	good := fxSqueueRow(fxMark, nil)
	second := fxSqueueRow(fxMark, map[string]string{"JobArrayID": "43", "JobID": "43"})
	tests := []struct {
		name, out string
		line      int
		want      string
	}{
		{"truncated", good + second[:len(second)-10], 2, "truncated"},
		{"no separator", "42|RUNNING|alice\n", 1, "no field separator"},
		{"plain unit separator", "42\x1fRUNNING\x1falice\x1f\n", 1, "no valid record mark"},
		{"cluster header", "CLUSTER: c1\n" + good, 1, "line break"},
		{"too few fields", strings.Replace(good, "alice\x1f"+fxMark+"\x1f", "", 1), 1, "fields"},
		{"iso time", good + fxSqueueRow(fxMark, map[string]string{"JobArrayID": "44", "SubmitTime": "2026-11-26T10:00:00"}), 2, "SLURM_TIME_FORMAT"},
		{"duplicate job", good + good, 2, "twice"},
		{"bad job id", fxSqueueRow(fxMark, map[string]string{"JobArrayID": "-u root"}), 1, "job id"},
		{"bad raw id", fxSqueueRow(fxMark, map[string]string{"JobID": "x"}), 1, "job id"},
		{"bad count", fxSqueueRow(fxMark, map[string]string{"NumCPUs": "many"}), 1, "count"},
		{"bad limit", fxSqueueRow(fxMark, map[string]string{"TimeLimit": "1:2:3:4"}), 1, "time limit"},
		{"bad exit", fxSqueueRow(fxMark, map[string]string{"exit_code": "0:0"}), 1, "wait status"},
		{"mark changes", good + fxSqueueRow("OTHERMARK234ABCDEFGHIJKLMN", map[string]string{"JobArrayID": "43"}), 2, "not ours"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, err := slurm.ParseSqueue(strings.NewReader(tt.out))
			var pe *slurm.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %d rows, error %v; want a ParseError", len(jobs), err)
			}
			if pe.Line != tt.line || !strings.Contains(err.Error(), tt.want) || jobs != nil {
				t.Errorf("error %q (line %d), want line %d and %q", err, pe.Line, tt.line, tt.want)
			}
		})
	}
}

// TestParseSqueueValues: values as squeue prints them.
func TestParseSqueueValues(t *testing.T) {
	tests := []struct {
		name  string
		f     map[string]string
		check func(j slurm.QueueJob) bool
	}{
		{"empty comment", map[string]string{"Comment": "(null)"}, func(j slurm.QueueJob) bool { return j.Comment == "" }},
		{"comment None", map[string]string{"Comment": "None"}, func(j slurm.QueueJob) bool { return j.Comment == "None" }},
		{"name starts a line", map[string]string{"Name": "\n42", "Comment": "\n"},
			func(j slurm.QueueJob) bool { return j.Name == "\n42" && j.Comment == "\n" }},
		{"comment with separator and breaks", map[string]string{"Comment": "a\x1fb\nc\x1f" + "42\x1f"},
			func(j slurm.QueueJob) bool { return j.Comment == "a\x1fb\nc\x1f42\x1f" }},
		{"pending times", map[string]string{"State": "PENDING", "StartTime": "N/A", "EndTime": "N/A", "NodeList": ""},
			func(j slurm.QueueJob) bool { return j.StartTime.IsZero() && j.EndTime.IsZero() && j.NodeList == "" }},
		{"unlimited", map[string]string{"TimeLimit": "UNLIMITED"}, func(j slurm.QueueJob) bool { return j.TimeLimit.Infinite }},
		{"days", map[string]string{"TimeLimit": "2-03:00:00"},
			func(j slurm.QueueJob) bool { return j.TimeLimit.Duration == 51*time.Hour }},
		{"minutes", map[string]string{"TimeLimit": "30:00"},
			func(j slurm.QueueJob) bool { return j.TimeLimit.Duration == 30*time.Minute }},
		{"wait status", map[string]string{"exit_code": "768"},
			func(j slurm.QueueJob) bool { return j.ExitCode == 3 && j.ExitSignal == 0 }},
		{"killed", map[string]string{"exit_code": "137"}, // 128+9 in the low byte: signal 9, core bit
			func(j slurm.QueueJob) bool { return j.ExitCode == 0 && j.ExitSignal == 9 }},
		{"completing", map[string]string{"State": "COMPLETING"},
			func(j slurm.QueueJob) bool { return j.State == slurm.StateRunning && j.SlurmState == "COMPLETING" }},
		{"hetjob component", map[string]string{"JobArrayID": "42+1"}, func(j slurm.QueueJob) bool { return j.JobID == "42+1" }},
		{"utc", nil, func(j slurm.QueueJob) bool {
			return j.SubmitTime.Equal(time.Unix(1795700000, 0)) && j.SubmitTime.Location() == time.UTC
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, err := slurm.ParseSqueue(strings.NewReader(fxSqueueRow(fxMark, tt.f)))
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != 1 || !tt.check(jobs[0]) {
				t.Errorf("got %+v", jobs)
			}
		})
	}
	if jobs, err := slurm.ParseSqueue(strings.NewReader("")); err != nil || len(jobs) != 0 {
		t.Errorf("empty output: %v, %v", jobs, err)
	}
}

func TestSqueueArgs(t *testing.T) {
	args, err := slurm.SqueueArgs(slurm.SqueueQuery{JobIDs: []string{"12", "13_4"}, Users: []string{"alice"}, Mark: fxMark})
	if err != nil {
		t.Fatal(err)
	}
	sep := "\x1f" + fxMark + "\x1f"
	want := []string{"squeue", "--noheader", "--states=all", "--jobs=12,13_4", "--user=alice"}
	if !slices.Equal(args[:len(want)], want) || len(args) != len(want)+1 {
		t.Fatalf("args %q", args)
	}
	format := strings.TrimPrefix(args[len(args)-1], "--Format=")
	fields := strings.Split(format, ",")
	if len(fields) != 22 || fields[0] != "JobArrayID:"+sep || fields[21] != "Comment:"+sep {
		t.Errorf("format %q", format)
	}
	if args, _ := slurm.SqueueArgs(slurm.SqueueQuery{ExpandArrays: true}); !slices.Contains(args, "--array") {
		t.Errorf("ExpandArrays: %q", args)
	}
	a1, _ := slurm.SqueueArgs(slurm.SqueueQuery{})
	a2, _ := slurm.SqueueArgs(slurm.SqueueQuery{})
	if a1[len(a1)-1] == a2[len(a2)-1] {
		t.Error("two queries got the same mark")
	}
	for _, bad := range []slurm.SqueueQuery{
		{JobIDs: []string{"12,13"}}, {JobIDs: []string{"-u"}}, {JobIDs: []string{"12_[1-3]"}},
		{JobIDs: []string{""}}, {Users: []string{"--all"}}, {Users: []string{"a b"}}, {Mark: "short"},
		{Mark: "has space in it ok"}, {Mark: "x\x1fyyyyyyyyy"},
	} {
		if args, err := slurm.SqueueArgs(bad); err == nil {
			t.Errorf("SqueueArgs(%+v) = %q, want an error", bad, args)
		}
	}
}

func ExampleParseSqueue() {
	mark := "EXAMPLEMARK234ABCDEFGHIJKL" // SqueueArgs makes a fresh one per query
	sep := "\x1f" + mark + "\x1f"
	out := strings.Join([]string{"1234_7", "1240", "1234", "7", "ca-hydro", "RUNNING", "None", "alice",
		"acct-a", "batch", "normal", "1795700000", "1795700005", "1795703605", "hydro[01-02]", "2",
		"16", "1:00:00", "0", "0", "train", "sta:4f2a\nsecond line"}, sep) + sep + "\n"
	jobs, err := slurm.ParseSqueue(strings.NewReader(out))
	if err != nil {
		fmt.Println(err)
		return
	}
	j := jobs[0]
	fmt.Println(j.JobID, j.State, j.NodeList, j.TimeLimit, j.StartTime.Format(time.RFC3339))
	fmt.Printf("%q\n", j.Comment)
	// Output:
	// 1234_7 RUNNING hydro[01-02] 01:00:00 2026-11-26T13:33:25Z
	// "sta:4f2a\nsecond line"
}

// TestParseSqueueRequeued: right after `scontrol requeue`, the job pends again
// with a restart counted and a new submit time (the first run's is in sacct).
func TestParseSqueueRequeued(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	id := m.Jobs["requeue"]
	j, ok := fxSqueue(t, "ca-hydro", "squeue-requeued")[id]
	if !ok {
		t.Fatalf("no row for %s", id)
	}
	if j.State != slurm.StatePending || j.Restarts != 1 || j.Reason != "BeginTime" {
		t.Errorf("%s (%q) reason %q restarts %d; want PENDING, BeginTime, 1", j.State, j.SlurmState, j.Reason, j.Restarts)
	}
	runs := fxRowsOf(fxSacct(t, "ca-hydro", "sacct-runs"), id)
	if len(runs) != 2 || !j.SubmitTime.After(runs[0].Submit) || !j.SubmitTime.Equal(runs[1].Submit) {
		t.Errorf("submit %v; runs %+v", j.SubmitTime, runs)
	}
}
