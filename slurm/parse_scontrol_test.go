package slurm_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/slurm"
)

// The dev sites' configuration, as scripts/dev-sites.sh writes it: per site, 4
// nodes (ca-hydro hydro01-04 with 8 CPUs, de-hpc dnode01-04 with 16), RealMemory
// 4000, partitions batch (default, DefaultTime 1h, MaxTime 2 days) and short
// (10 min, 30 min) over all nodes, and a tree of two leaves under a spine.
var fxSites = map[string]struct {
	prefix string
	cpus   int
}{"ca-hydro": {"hydro", 8}, "de-hpc": {"dnode", 16}}

func fxNewer(tb testing.TB, name string) *os.File {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "newer", name))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func TestParsePartitionsRecorded(t *testing.T) {
	for site, cfg := range fxSites {
		t.Run(site, func(t *testing.T) {
			parts, err := slurm.ParsePartitions(fxOpen(t, site, "scontrol-partitions", "out"))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]struct {
				def          bool
				dflt, max    time.Duration
				nodes, total int
			}{
				"batch": {true, time.Hour, 48 * time.Hour, 4, 4 * cfg.cpus},
				"short": {false, 10 * time.Minute, 30 * time.Minute, 4, 4 * cfg.cpus},
			}
			if len(parts) != len(want) {
				t.Fatalf("%d partitions, want %d", len(parts), len(want))
			}
			for _, p := range parts {
				w, ok := want[p.Name]
				if !ok {
					t.Fatalf("unexpected partition %q", p.Name)
				}
				if p.Default != w.def || p.DefaultTime.Duration != w.dflt || p.MaxTime.Duration != w.max ||
					p.MaxTime.Infinite || p.TotalNodes != w.nodes || p.TotalCPUs != w.total ||
					p.Nodes != cfg.prefix+"[01-04]" || p.State != "UP" {
					t.Errorf("%+v", p)
				}
				if p.MaxNodes != 0 || p.MaxCPUsPerNode != 0 || p.Exclusive || p.OverSubscribe != "NO" ||
					!p.AccountAllowed("acct-a") || !p.QOSAllowed("normal") || p.QOS != "" {
					t.Errorf("limits of %s: %+v", p.Name, p)
				}
				if p.Fields["PartitionName"] != p.Name || p.Fields["TRES"] == "" {
					t.Errorf("Fields: %v", p.Fields)
				}
			}
		})
	}
}

func TestParsePartitionsNewer(t *testing.T) {
	parts, err := slurm.ParsePartitions(fxNewer(t, "scontrol-partitions-24.05.out"))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("%d partitions", len(parts))
	}
	gpu, debug := parts[0], parts[1]
	if !gpu.MaxTime.Infinite || gpu.DefaultTime.IsSet() || gpu.MaxNodes != 8 || !gpu.Exclusive ||
		gpu.QOS != "gpu-qos" || gpu.PriorityTier != 10 || gpu.Fields["JobDefaults"] != "DefCpuPerGPU=8,DefMemPerGPU=65536" {
		t.Errorf("gpu: %+v", gpu)
	}
	if !gpu.AccountAllowed("acct-b") || gpu.AccountAllowed("acct-c") || !gpu.QOSAllowed("anything") {
		t.Errorf("gpu accounts %v qos %v", gpu.AllowAccounts, gpu.AllowQos)
	}
	if debug.State != "DRAIN" || !debug.Default || !debug.Hidden || !debug.ExclusiveUser || debug.Exclusive ||
		debug.OverSubscribe != "FORCE:4" || debug.MaxCPUsPerNode != 32 || debug.MinNodes != 1 ||
		debug.DefaultTime.Duration != 15*time.Minute || debug.MaxTime.Duration != time.Hour {
		t.Errorf("debug: %+v", debug)
	}
	if debug.AccountAllowed("guests") || !debug.AccountAllowed("acct-a") || debug.QOSAllowed("long") || !debug.QOSAllowed("normal") {
		t.Errorf("debug deny lists: %v %v", debug.DenyAccounts, debug.DenyQos)
	}
}

func TestParseNodesRecorded(t *testing.T) {
	for site, cfg := range fxSites {
		t.Run(site, func(t *testing.T) {
			nodes, err := slurm.ParseNodes(fxOpen(t, site, "scontrol-nodes", "out"))
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes) != 4 {
				t.Fatalf("%d nodes", len(nodes))
			}
			for i, n := range nodes {
				name := cfg.prefix + "0" + string(rune('1'+i))
				if n.Name != name || n.CPUs != cfg.cpus || n.CPUsEffective != cfg.cpus || n.RealMemoryMB != 4000 ||
					n.GPUs != 0 || n.Gres != "" || n.Features != nil || !slices.Equal(n.Partitions, []string{"batch", "short"}) {
					t.Errorf("%+v", n)
				}
				if !n.Usable() || !slices.Contains([]string{"IDLE", "MIXED", "ALLOCATED"}, n.StateBase) {
					t.Errorf("%s: state %q (%s %v) not usable", n.Name, n.State, n.StateBase, n.StateFlags)
				}
				// OS= holds spaces; the fields after it are still read.
				if !strings.HasPrefix(n.Fields["OS"], "Linux ") || n.Fields["Version"] != "22.05.8" || n.Sockets == 0 {
					t.Errorf("%s: OS %q Version %q Sockets %d", n.Name, n.Fields["OS"], n.Fields["Version"], n.Sockets)
				}
			}
		})
	}
}

func TestParseNodesNewer(t *testing.T) {
	nodes, err := slurm.ParseNodes(fxNewer(t, "scontrol-nodes-24.05.out"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]slurm.Node{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	tests := []struct {
		name         string
		base         string
		flags        []string
		usable       bool
		cpus, eff    int
		gpus         int
		reason       string
		extraChecked func(n slurm.Node) bool
	}{
		{"gpu01", "MIXED", []string{"DRAIN"}, false, 128, 126, 4, "bad dimm A3 Key=value [root@1795690000]",
			func(n slurm.Node) bool {
				return n.Fields["Comment"] == "replaced PSU, see ticket 4711" && n.Gres == "gpu:a100:4(S:0-1)" &&
					slices.Equal(n.Features, []string{"a100", "ib", "rack7"}) && n.RealMemoryMB == 1031000 &&
					strings.HasPrefix(n.Fields["OS"], "Linux 6.8.0-1029-aws #31~22.04.1-Ubuntu SMP")
			}},
		{"gpu02", "IDLE", nil, true, 64, 64, 4, "", func(n slurm.Node) bool { // gpu:a100:2 + gpu:v100:2
			return slices.Equal(n.Partitions, []string{"gpu", "debug"})
		}},
		{"cloud-dy-c5-1", "IDLE", []string{"CLOUD", "POWERED_DOWN"}, true, 8, 8, 0, "", func(n slurm.Node) bool {
			return n.Fields["Extra"] == "zone=eu-1 tier=spot" && n.Fields["InstanceType"] == "c5.2xlarge"
		}},
		{"cpu17", "DOWN", []string{"NOT_RESPONDING"}, false, 48, 48, 0, "Not responding [slurm@1795690100]", nil},
		{"old05", "ALLOCATED", []string{"NOT_RESPONDING"}, false, 16, 16, 2, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := byName[tt.name]
			if !ok {
				t.Fatal("missing")
			}
			if n.StateBase != tt.base || !slices.Equal(n.StateFlags, tt.flags) || n.Usable() != tt.usable {
				t.Errorf("state %q: %s %v usable=%v; want %s %v %v", n.State, n.StateBase, n.StateFlags, n.Usable(), tt.base, tt.flags, tt.usable)
			}
			if n.CPUs != tt.cpus || n.CPUsEffective != tt.eff || n.GPUs != tt.gpus || n.Reason != tt.reason {
				t.Errorf("cpus %d/%d gpus %d reason %q", n.CPUs, n.CPUsEffective, n.GPUs, n.Reason)
			}
			if tt.extraChecked != nil && !tt.extraChecked(n) {
				t.Errorf("%+v", n)
			}
		})
	}
}

func TestNodeStates(t *testing.T) {
	tests := []struct {
		in     string
		base   string
		flags  []string
		usable bool
	}{
		{"IDLE", "IDLE", nil, true},
		{"MIXED", "MIXED", nil, true},
		{"ALLOCATED+COMPLETING", "ALLOCATED", []string{"COMPLETING"}, true},
		{"IDLE+DRAIN", "IDLE", []string{"DRAIN"}, false},
		{"DRAINED", "IDLE", []string{"DRAIN"}, false},
		{"DRAINING", "ALLOCATED", []string{"DRAIN"}, false},
		{"DOWN*", "DOWN", []string{"NOT_RESPONDING"}, false},
		{"IDLE~", "IDLE", []string{"POWERED_DOWN"}, true},
		{"IDLE#", "IDLE", []string{"POWERING_UP"}, true},
		{"IDLE%", "IDLE", []string{"POWERING_DOWN"}, false},
		{"MIXED-", "MIXED", []string{"PLANNED"}, true},
		{"MAINT", "IDLE", []string{"MAINTENANCE"}, false},
		{"REBOOT^", "IDLE", []string{"REBOOT_ISSUED", "REBOOT_REQUESTED"}, false},
		{"FUTURE", "FUTURE", nil, false},
		{"INVAL", "UNKNOWN", []string{"INVALID_REG"}, false},
		{"IDLE+RESERVED", "IDLE", []string{"RESERVED"}, true},
		{"", "UNKNOWN", nil, false},
		{"*", "*", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			out := "NodeName=n1 State=" + tt.in + " CPUTot=4\n"
			nodes, err := slurm.ParseNodes(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			n := nodes[0]
			if n.StateBase != tt.base || !slices.Equal(n.StateFlags, tt.flags) || n.Usable() != tt.usable {
				t.Errorf("%s %v usable=%v; want %s %v %v", n.StateBase, n.StateFlags, n.Usable(), tt.base, tt.flags, tt.usable)
			}
		})
	}
}

func TestParseTopology(t *testing.T) {
	for site, cfg := range fxSites {
		t.Run(site, func(t *testing.T) {
			sw, err := slurm.ParseTopology(fxOpen(t, site, "scontrol-topology", "out"))
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.prefix
			want := []slurm.Switch{
				{Name: "leaf1", Level: 0, LinkSpeed: 1, Nodes: p + "[01-02]"},
				{Name: "leaf2", Level: 0, LinkSpeed: 1, Nodes: p + "[03-04]"},
				{Name: "spine", Level: 1, LinkSpeed: 1, Nodes: p + "[01-04]", Switches: "leaf[1-2]"},
			}
			if !slices.Equal(sw, want) {
				t.Errorf("got %+v\nwant %+v", sw, want)
			}
		})
	}
	if sw, err := slurm.ParseTopology(fxNewer(t, "scontrol-topology-empty.out")); err != nil || len(sw) != 0 {
		t.Errorf("no topology: %v, %v", sw, err)
	}
	_, err := slurm.ParseTopology(fxNewer(t, "scontrol-topology-block.out"))
	var pe *slurm.ParseError
	if !errors.As(err, &pe) || pe.Line != 1 || !strings.Contains(err.Error(), "SwitchName") {
		t.Errorf("topology/block: %v", err)
	}
	for _, bad := range []string{
		"SwitchName=s1 Level=x\n", "SwitchName= Level=0\n", "Level=0 SwitchName=s1\n",
		"SwitchName=s1 Level=0 LinkSpeed=-1\n",
	} {
		if sw, err := slurm.ParseTopology(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: %+v, want an error", bad, sw)
		}
	}
}

func TestParseJobDetailRecorded(t *testing.T) {
	m := fxLoad(t, "ca-hydro")
	parse := func(name string) []slurm.JobDetail {
		t.Helper()
		jobs, err := slurm.ParseJobDetail(fxOpen(t, "ca-hydro", name, "out"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return jobs
	}
	check := func(j slurm.JobDetail, key string) {
		t.Helper()
		s := fxScenarioOf(key)
		if j.User != s.Login || j.Account != s.Account || j.Partition != s.Partition || j.Name != s.Name ||
			j.Comment != s.Comment || j.TimeLimit != fxMinutes(t, s.Time) || j.SubmitTime.IsZero() ||
			j.StdOut != "/dev/null" || j.WorkDir != "/home/"+s.Login || j.Cluster != "" {
			t.Errorf("%s: %+v", key, j)
		}
	}
	run := parse("scontrol-job-running")
	if len(run) != 1 {
		t.Fatalf("%d records", len(run))
	}
	j := run[0]
	check(j, "running")
	if j.JobID != m.Jobs["running"] || j.State != slurm.StateRunning || j.UID != 1002 || j.NodeList != "hydro[01-02]" ||
		j.NumNodes != 2 || j.NumCPUs != 3 || j.NumTasks != 3 || j.CPUsPerTask != 1 || j.BatchHost != "hydro01" ||
		j.StartTime.IsZero() || !j.EndTime.Equal(j.StartTime.Add(10*time.Minute)) || j.Reason != "" {
		t.Errorf("running: %+v", j)
	}
	held := parse("scontrol-job-held")[0]
	check(held, "held")
	if held.State != slurm.StatePending || held.Reason != "JobHeldUser" || !held.StartTime.IsZero() || held.NodeList != "" {
		t.Errorf("held: %+v", held)
	}
	arr := parse("scontrol-job-array")
	if len(arr) != 2 {
		t.Fatalf("array: %d records", len(arr))
	}
	id := m.Jobs["array-throttled"]
	for _, a := range arr {
		check(a, "array-throttled")
		if a.ArrayJobID != id {
			t.Errorf("array task %s: array %q", a.JobID, a.ArrayJobID)
		}
	}
	if arr[0].ArrayTaskID != "2-4%1" || arr[0].State != slurm.StatePending || arr[1].ArrayTaskID != "1" ||
		arr[1].State != slurm.StateRunning || arr[1].JobID == id {
		t.Errorf("array: %+v", arr)
	}
	// The evil job's name holds " Account=evil": Account appears twice, refused.
	_, err := slurm.ParseJobDetail(fxOpen(t, "ca-hydro", "scontrol-job-evil", "out"))
	var pe *slurm.ParseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "Account appears twice") || pe.Line != 1 {
		t.Errorf("evil: %v", err)
	}
	for _, f := range []struct{ site, name string }{{"ca-hydro", "scontrol-job-unknown"}, {"de-hpc", "scontrol-job-private-other"}} {
		if err := slurm.ClassifyScontrolStderr(fxString(t, f.site, f.name, "err")); !errors.Is(err, slurm.ErrInvalidJobID) {
			t.Errorf("%s: %v", f.name, err)
		}
	}
}

func TestParseJobDetailNewer(t *testing.T) {
	jobs, err := slurm.ParseJobDetail(fxNewer(t, "scontrol-job-24.05.out"))
	if err != nil {
		t.Fatal(err)
	}
	j := jobs[0]
	if j.JobID != "5002" || j.ArrayJobID != "5000" || j.ArrayTaskID != "2" || j.Name != "train resnet" ||
		j.User != "carol" || j.UID != 2001 || j.State != slurm.StatePending || j.Reason != "Resources" ||
		j.Restarts != 2 || j.NumNodes != 2 || j.NumCPUs != 16 || j.NumTasks != 8 || j.CPUsPerTask != 2 ||
		j.TimeLimit.Duration != 24*time.Hour || j.NodeList != "" {
		t.Errorf("%+v", j)
	}
	if j.Command != "/home/carol/run training.sh" || j.WorkDir != "/home/carol/my project" ||
		j.Comment != "sta:7c1e user note" || j.StdErr != "/home/carol/my project/err-%j.txt" ||
		j.StdOut != "/home/carol/my project/out-5000_2.txt" || j.Fields["AdminComment"] != "moved from q2" ||
		j.Fields["TresPerNode"] != "gres/gpu:2" || j.Fields["Extra"] != "cost=low" || j.Fields["NumNodes"] != "2-4" {
		t.Errorf("%+v", j)
	}
}

// TestParseScontrolLines: records split by line, values continued over line
// breaks, errors with the line.
func TestParseScontrolLines(t *testing.T) {
	out := "JobId=7 JobName=a\nb UserId=u(1) Account=x JobState=RUNNING Comment=line1\nline2 StdOut=/o\n" +
		"JobId=8 JobName=c UserId=u(1) Account=x JobState=PENDING\n\n"
	jobs, err := slurm.ParseJobDetail(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Name != "a\nb" || jobs[0].Comment != "line1\nline2" || jobs[0].StdOut != "/o" ||
		jobs[1].JobID != "8" || jobs[1].State != slurm.StatePending {
		t.Errorf("%+v", jobs)
	}
	for _, tt := range []struct {
		out  string
		line int
	}{
		{"garbage\nJobId=1 UserId=u(1)\n", 1},
		{"JobId=1 UserId=u(1)\nJobId=x UserId=u(1)\n", 2},
		{"JobId=1 UserId=u\n", 1},
		{"JobId=1 UserId=u(1) TimeLimit=soon\n", 1},
		{"JobId=1 UserId=u(1) StartTime=2026-11-26T10:00:00\n", 1},
		{"JobId=1 UserId=u(1) NumNodes=lots\n", 1},
		{"JobId=1 UserId=u(1) ExitCode=x\n", 1},
		{"JobId=1 JobName=x UserId=u(1) UserId=v(2)\n", 1},
	} {
		_, err := slurm.ParseJobDetail(strings.NewReader(tt.out))
		var pe *slurm.ParseError
		if !errors.As(err, &pe) || pe.Line != tt.line {
			t.Errorf("%q: %v, want a ParseError on line %d", tt.out, err, tt.line)
		}
	}
}

func TestScontrolArgs(t *testing.T) {
	if a, err := slurm.JobDetailArgs("12_3"); err != nil || !slices.Equal(a, []string{"scontrol", "--oneliner", "show", "job", "12_3"}) {
		t.Errorf("JobDetailArgs: %q %v", a, err)
	}
	for _, bad := range []string{"", "-d", "12 13", "12,13"} {
		if _, err := slurm.JobDetailArgs(bad); err == nil {
			t.Errorf("JobDetailArgs(%q): no error", bad)
		}
	}
	m := fxLoad(t, "ca-hydro")
	for name, args := range map[string][]string{"scontrol-partitions": slurm.PartitionsArgs(),
		"scontrol-nodes": slurm.NodesArgs(), "scontrol-topology": slurm.TopologyArgs()} {
		if !slices.Equal(m.Commands[name].Args, args) {
			t.Errorf("%s recorded with %q, builder gives %q", name, m.Commands[name].Args, args)
		}
	}
}
