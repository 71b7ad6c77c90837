package mpi

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// MustPlace places a request or fails the test.
func MustPlace(tb testing.TB, top *Topology, free []FreeNode, req Request) *Plan {
	tb.Helper()
	p, err := Place(top, free, req)
	if err != nil {
		tb.Fatalf("Place(%+v): %v", req, err)
	}
	return p
}

func mustFree(tb testing.TB, expr string) []FreeNode {
	tb.Helper()
	f, err := FreeNodesFromHostlist(expr)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func output(tb testing.TB, p *Plan, format string) string {
	tb.Helper()
	var b bytes.Buffer
	if err := p.Write(&b, format); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// The real site ca-hydro: two leaves of two nodes (its own topology.conf).
func TestCaHydroOneBusyNodePerLeaf(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/ca-hydro.conf")
	// hydro02 and hydro04 busy: a 2-node plan must span both leaves.
	p := MustPlace(t, top, mustFree(t, "hydro[01,03]"), Request{Nodes: 2})
	if p.LeavesSpanned != 2 || p.LeavesLowerBound != 2 || p.Nodelist != "hydro[01,03]" {
		t.Errorf("plan %+v", p)
	}
	// One node free on each leaf, three requested: not enough.
	if _, err := Place(top, mustFree(t, "hydro[01,03]"), Request{Nodes: 3}); !errors.Is(err, ErrNotEnoughNodes) {
		t.Errorf("3 of 2 free nodes: %v", err)
	}
}

func TestCaHydroFourNodeHostfile(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/ca-hydro.conf")
	// Free nodes given out of order: the plan orders them leaf by leaf.
	p := MustPlace(t, top, mustFree(t, "hydro04,hydro02,hydro03,hydro01"), Request{Nodes: 4, TasksPerNode: 2})
	want := "hydro01\nhydro01\nhydro02\nhydro02\nhydro03\nhydro03\nhydro04\nhydro04\n"
	if got := output(t, p, "hostfile"); got != want {
		t.Errorf("hostfile:\n%s\nwant:\n%s", got, want)
	}
	if p.LeavesSpanned != 2 || p.RingLeafCrossings != 2 || p.Levels[1].Spanned != 1 {
		t.Errorf("leaves %d crossings %d", p.LeavesSpanned, p.RingLeafCrossings)
	}
	if got := output(t, p, "mpich"); got != "hydro01:2\nhydro02:2\nhydro03:2\nhydro04:2\n" {
		t.Errorf("mpich:\n%s", got)
	}
	if got := output(t, p, "nodelist"); got != "hydro[01-04]\n" {
		t.Errorf("nodelist %q", got)
	}
}

func TestRankfile(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/ca-hydro.conf")
	p := MustPlace(t, top, mustFree(t, "hydro[01-04]"), Request{Nodes: 2, TasksPerNode: 2, CPUsPerTask: 3})
	want := "rank 0=hydro01 slot=0-2\nrank 1=hydro01 slot=3-5\nrank 2=hydro02 slot=0-2\nrank 3=hydro02 slot=3-5\n"
	if got := output(t, p, "rankfile"); got != want {
		t.Errorf("rankfile:\n%s\nwant:\n%s", got, want)
	}
	p = MustPlace(t, top, mustFree(t, "hydro[01-04]"), Request{Nodes: 1, TasksPerNode: 2})
	if got := output(t, p, "rankfile"); got != "rank 0=hydro01 slot=0\nrank 1=hydro01 slot=1\n" {
		t.Errorf("rankfile:\n%s", got)
	}
}

func TestJSONFields(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/fattree-handwritten.conf")
	p := MustPlace(t, top, mustFree(t, "c[001-010,017-030,040-064]"), Request{Nodes: 20, TasksPerNode: 4})
	var m map[string]any
	if err := json.Unmarshal([]byte(output(t, p, "json")), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"nodes", "nodelist", "tasks_per_node", "leaves_spanned", "leaves_lower_bound", "ring_leaf_crossings",
		"levels", "ring_hop_bytes", "max_uplink_load", "fragmentation", "objective"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	nodes, _ := m["nodes"].([]any)
	// No leaf has 20 free nodes; c[049-064] and c[017-030] hold 30.
	if len(nodes) != 20 || m["leaves_spanned"].(float64) != 2 || m["leaves_lower_bound"].(float64) != 2 {
		t.Errorf("nodes %d leaves %v/%v", len(nodes), m["leaves_spanned"], m["leaves_lower_bound"])
	}
	if err := p.Write(&bytes.Buffer{}, "yaml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestUnevenTasks(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/ca-hydro.conf")
	p := MustPlace(t, top, mustFree(t, "hydro[01-04]"), Request{Tasks: 10, TasksPerNode: 4})
	if !slices.Equal(p.TasksPerNode, []int{4, 3, 3}) || p.Tasks != 10 || len(p.Nodes) != 3 {
		t.Errorf("tasks per node %v", p.TasksPerNode)
	}
	if n := strings.Count(output(t, p, "hostfile"), "\n"); n != 10 {
		t.Errorf("hostfile has %d lines, want 10", n)
	}
}

// conflictTopology: pod p1 holds 9 free nodes on three leaves; pods p2 and
// p3 hold 5 on one leaf each.
const conflictTopology = `
SwitchName=a1 Nodes=a[1-4]
SwitchName=a2 Nodes=a[5-8]
SwitchName=a3 Nodes=a[9-12]
SwitchName=b1 Nodes=b[1-6]
SwitchName=c1 Nodes=c[1-6]
SwitchName=p1 Switches=a[1-3]
SwitchName=p2 Switches=b1
SwitchName=p3 Switches=c1
SwitchName=root Switches=p[1-3]
`

func TestLeavesVersusPods(t *testing.T) {
	top := MustParseTopologyConf(t, conflictTopology)
	free := mustFree(t, "a[1-3,5-7,9-11],b[1-5],c[1-5]")
	p := MustPlace(t, top, free, Request{Nodes: 9})
	if p.LeavesSpanned != 2 || p.Levels[1].Spanned != 2 || p.Levels[1].LowerBound != 1 {
		t.Fatalf("leaves %d pods %d (bound %d)", p.LeavesSpanned, p.Levels[1].Spanned, p.Levels[1].LowerBound)
	}
	tr := p.Tradeoff
	if tr == nil || tr.Chose != "leaves" || tr.Level != 1 || tr.Spanned != 2 || tr.LowerBound != 1 || tr.AlternativeLeaves != 3 {
		t.Fatalf("tradeoff %+v", tr)
	}
	if !strings.Contains(tr.Why, "fewest leaves first") {
		t.Errorf("why: %s", tr.Why)
	}
	// Without the conflict there is no tradeoff.
	if p := MustPlace(t, top, free, Request{Nodes: 4}); p.Tradeoff != nil {
		t.Errorf("tradeoff %+v for 4 nodes", p.Tradeoff)
	}
}

func TestTightestFit(t *testing.T) {
	top := MustParseTopologyConf(t, `
SwitchName=l1 Nodes=n[1-4]
SwitchName=l2 Nodes=n[5-8]
SwitchName=l3 Nodes=n[9-12]
SwitchName=top Switches=l[1-3]
`)
	// l1 whole and free, l2 has 3 free, l3 has 2: three nodes go to l2.
	p := MustPlace(t, top, mustFree(t, "n[1-4,5-7,9-10]"), Request{Nodes: 3})
	if p.Nodelist != "n[5-7]" || p.Fragmentation.WholeFreeLeavesAfter != 1 || p.Fragmentation.FreeLeftOnUsedLeaves != 0 {
		t.Errorf("plan %s, fragmentation %+v", p.Nodelist, p.Fragmentation)
	}
	// Five nodes on two leaves: l2 (3) + l3 (2) fits exactly and keeps l1
	// whole.
	p = MustPlace(t, top, mustFree(t, "n[1-4,5-7,9-10]"), Request{Nodes: 5})
	if p.Nodelist != "n[5-7,9-10]" || p.Fragmentation.WholeFreeLeavesAfter != 1 {
		t.Errorf("plan %s, fragmentation %+v", p.Nodelist, p.Fragmentation)
	}
}

func TestBestFitSwitch(t *testing.T) {
	// Both pods hold 3 nodes on one leaf; the pod with fewer free nodes
	// is used (as Slurm's best fit), keeping the larger free area.
	top2 := MustParseTopologyConf(t, `
SwitchName=a1 Nodes=a[1-4]
SwitchName=a2 Nodes=a[5-8]
SwitchName=b1 Nodes=b[1-4]
SwitchName=b2 Nodes=b[5-8]
SwitchName=pa Switches=a1,a2
SwitchName=pb Switches=b1,b2
SwitchName=root Switches=pa,pb
`)
	p := MustPlace(t, top2, mustFree(t, "a[1-3,5-8],b[1-3,5]"), Request{Nodes: 6})
	if p.CommonSwitch != "pb" && p.CommonSwitch != "pa" {
		t.Fatalf("common switch %s", p.CommonSwitch)
	}
	// 6 nodes need 2 leaves: in pa (a2 4 + a1 3 = 7, waste 1) or in pb
	// (3 + 1 = 4, too few): pa.
	if p.CommonSwitch != "pa" || p.LeavesSpanned != 2 {
		t.Errorf("plan %s on %s", p.Nodelist, p.CommonSwitch)
	}
	p = MustPlace(t, top2, mustFree(t, "a[1-3,5-8],b[1-3,5]"), Request{Nodes: 3})
	// One leaf: a1 (3) and b1 (3) fit exactly; b1's pod has fewer free
	// nodes.
	if p.Nodelist != "b[1-3]" {
		t.Errorf("3 nodes on %s, want b[1-3]", p.Nodelist)
	}
}

func TestIslands(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/islands.conf")
	all := mustFree(t, "a[01-08],b[01-12]")
	p := MustPlace(t, top, all, Request{Nodes: 10})
	if p.Island != "fabricB" || !strings.HasPrefix(p.Nodelist, "b[") {
		t.Errorf("10 nodes on %s (%s)", p.Island, p.Nodelist)
	}
	_, err := Place(top, all, Request{Nodes: 13})
	var ie *InsufficientError
	if !errors.As(err, &ie) || ie.LargestIsland != 12 || !strings.Contains(err.Error(), "never spans islands") {
		t.Errorf("13 nodes: %v", err)
	}
}

func TestEligibility(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/ca-hydro.conf")
	free := []FreeNode{
		{Name: "hydro01", Cores: 8, GPUs: 0},
		{Name: "hydro02", Cores: 8, GPUs: 4},
		{Name: "hydro03", Cores: 2, GPUs: 4},
		{Name: "hydro04", Cores: 8, GPUs: 4},
	}
	p := MustPlace(t, top, free, Request{Nodes: 2, GPUsPerNode: 4, TasksPerNode: 4, CPUsPerTask: 2})
	if p.Nodelist != "hydro[02,04]" {
		t.Errorf("GPU plan on %s, want hydro[02,04]", p.Nodelist)
	}
	_, err := Place(top, free, Request{Nodes: 3, GPUsPerNode: 4, TasksPerNode: 4, CPUsPerTask: 2})
	var ie *InsufficientError
	if !errors.As(err, &ie) || ie.Eligible != 2 || ie.Free != 4 || !strings.Contains(err.Error(), "2 of them with enough free cores and GPUs") {
		t.Errorf("3 GPU nodes: %v", err)
	}
	// Without CPUsPerTask or GPUsPerNode nothing is checked.
	if p := MustPlace(t, top, free, Request{Nodes: 4}); len(p.Nodes) != 4 {
		t.Errorf("%v", p.Nodes)
	}
}

func TestPlaceErrors(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/ca-hydro.conf")
	free := mustFree(t, "hydro[01-04]")
	tests := []struct {
		name string
		free []FreeNode
		req  Request
		is   error
		msg  string
	}{
		{"nothing", free, Request{}, ErrInvalidRequest, "number of nodes or of tasks"},
		{"negative", free, Request{Nodes: -1}, ErrInvalidRequest, "negative"},
		{"too few tasks", free, Request{Nodes: 3, Tasks: 2}, ErrInvalidRequest, "2 tasks cannot occupy 3 nodes"},
		{"tasks do not fit", free, Request{Nodes: 2, Tasks: 9, TasksPerNode: 4}, ErrInvalidRequest, "do not fit"},
		{"huge", free, Request{Nodes: 1 << 23}, ErrInvalidRequest, "more than"},
		{"tp", free, Request{Nodes: 2, TasksPerNode: 4, Parallel: &Parallel{TensorParallel: 3}}, ErrInvalidRequest, "does not divide the 4 tasks"},
		{"pp", free, Request{Nodes: 2, TasksPerNode: 2, Parallel: &Parallel{PipelineParallel: 3}}, ErrInvalidRequest, "does not divide 4 tasks"},
		{"order", free, Request{Nodes: 2, Parallel: &Parallel{Order: "pp-tp-dp"}}, ErrInvalidRequest, "parallel order"},
		{"uneven parallel", free, Request{Nodes: 3, Tasks: 4, Parallel: &Parallel{}}, ErrInvalidRequest, "same number of tasks"},
		{"unknown", mustFree(t, "hydro[01-02],ghost[1-2]"), Request{Nodes: 1}, ErrUnknownNode, "ghost1,ghost2"},
		{"duplicate", mustFree(t, "hydro[01-02],hydro01"), Request{Nodes: 1}, ErrDuplicateNode, "hydro01"},
		{"more than free", mustFree(t, "hydro[01-02]"), Request{Nodes: 3}, ErrNotEnoughNodes, "3 nodes requested, 2 free"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Place(top, tt.free, tt.req)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v; want %v containing %q", err, tt.is, tt.msg)
			}
		})
	}
	if _, err := Place(nil, free, Request{Nodes: 1}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("nil topology: %v", err)
	}
	var ue *UnknownNodesError
	if _, err := Place(top, mustFree(t, "x[1-20]"), Request{Nodes: 1}); !errors.As(err, &ue) || len(ue.Nodes) != 20 || !strings.Contains(err.Error(), "and 10 more") {
		t.Errorf("unknown: %v", err)
	}
}

func TestParallelGroups(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/three-level.conf")
	free := mustFree(t, "r1-n[01-16],r2-n[01-16]")
	// 8 nodes x 4 ranks: TP 4 (one node), PP 2, DP 4.
	p := MustPlace(t, top, free, Request{Nodes: 8, TasksPerNode: 4, Parallel: &Parallel{TensorParallel: 4, PipelineParallel: 2}})
	pl := p.Parallel
	if pl == nil || pl.DataParallel != 4 || len(pl.TPGroups) != 8 || len(pl.PPGroups) != 16 || len(pl.DPGroups) != 8 {
		t.Fatalf("parallel %+v", pl)
	}
	if pl.TPMaxNodes != 1 {
		t.Errorf("a tensor-parallel group spans %d nodes", pl.TPMaxNodes)
	}
	if !slices.Equal(pl.TPGroups[1], []int{4, 5, 6, 7}) || !slices.Equal(pl.DPGroups[0], []int{0, 4, 8, 12}) || !slices.Equal(pl.PPGroups[0], []int{0, 16}) {
		t.Errorf("tp %v dp %v pp %v", pl.TPGroups[1], pl.DPGroups[0], pl.PPGroups[0])
	}
	// The 8 nodes fit one leaf: every group stays on it.
	if pl.DPMaxLeaves != 1 || pl.PPMaxLeaves != 1 {
		t.Errorf("dp leaves %d pp leaves %d", pl.DPMaxLeaves, pl.PPMaxLeaves)
	}
	// tp-pp-dp puts pipeline neighbours next to each other instead.
	p = MustPlace(t, top, free, Request{Nodes: 8, TasksPerNode: 4, Parallel: &Parallel{TensorParallel: 4, PipelineParallel: 2, Order: "tp-pp-dp"}})
	if !slices.Equal(p.Parallel.PPGroups[0], []int{0, 4}) || !slices.Equal(p.Parallel.DPGroups[0], []int{0, 8, 16, 24}) {
		t.Errorf("tp-pp-dp: pp %v dp %v", p.Parallel.PPGroups[0], p.Parallel.DPGroups[0])
	}
}

func TestUplinkLoad(t *testing.T) {
	// threelevel: leaves of 3 hosts with 2 uplinks. A ring over 4 nodes
	// on two leaves of one pod leaves each leaf once: load 1/2.
	top := mustParseIB(t, "testdata/threelevel.ibnetdiscover", IBOptions{})
	p := MustPlace(t, top, mustFree(t, "cn[01-02,04-05]"), Request{Nodes: 4})
	if p.MaxUplinkLoad != 0.5 || !strings.HasPrefix(p.MaxUplinkSwitch, "pod1-leaf") {
		t.Errorf("max uplink load %v on %s", p.MaxUplinkLoad, p.MaxUplinkSwitch)
	}
	// Hops: 4 ring edges, 2 inside a leaf (2 hops) and 2 across the pod
	// (4 hops).
	if p.RingHops != 12 {
		t.Errorf("ring hops %d, want 12", p.RingHops)
	}
	// A topology.conf has no link counts: capacity = nodes / oversubscription.
	conf := mustParseConfFile(t, "testdata/conf/ca-hydro.conf")
	p = MustPlace(t, conf, mustFree(t, "hydro[01,03]"), Request{Nodes: 2, Oversubscription: 4})
	if p.MaxUplinkLoad != 2 {
		t.Errorf("load with 2:1 capacity/4 = %v, want 2", p.MaxUplinkLoad)
	}
}

func TestDeterministic(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/three-level.conf")
	free := mustFree(t, "r1-n[01-03,07-16],r2-n[02-09,12-16],r3-n[01-16]")
	want := output(t, MustPlace(t, top, free, Request{Nodes: 21, TasksPerNode: 2}), "json")
	for i := range 20 {
		f := slices.Clone(free)
		for j := range f {
			k := (j*7 + i*13) % len(f)
			f[j], f[k] = f[k], f[j]
		}
		if got := output(t, MustPlace(t, top, f, Request{Nodes: 21, TasksPerNode: 2}), "json"); got != want {
			t.Fatalf("plan depends on the order of the free nodes")
		}
	}
}

func TestBlockTopologyPlan(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/block-default.conf")
	// Blocks b1..b6 of 4 nodes; b1, b4 and b5 partly busy. Six nodes need
	// two blocks; b2+b3 are whole but in different pairs; b1+b2 hold
	// exactly 6 in one pair, b5+b6 hold 7: the plan takes the exact fit
	// inside one aggregated block of two.
	p := MustPlace(t, top, mustFree(t, "n[01-02,05-08,09-12,13,17-19,21-24]"), Request{Nodes: 6})
	if p.LeavesSpanned != 2 || p.CommonSwitch != "b[1-2]" || p.Nodelist != "n[01-02,05-08]" {
		t.Errorf("plan %s on %s, %d blocks", p.Nodelist, p.CommonSwitch, p.LeavesSpanned)
	}
}

func TestTradeoffUpperLevels(t *testing.T) {
	// Superpod s1 holds pods a, b, c of one leaf each; s2 holds pod d of
	// two leaves; s3 pod e of one. Twelve nodes need three leaves: in s1
	// they take three pods; pods d+e would take two, across two superpods.
	top := MustParseTopologyConf(t, `
SwitchName=la Nodes=a[1-4]
SwitchName=lb Nodes=b[1-4]
SwitchName=lc Nodes=c[1-4]
SwitchName=ld1 Nodes=d[1-4]
SwitchName=ld2 Nodes=d[5-8]
SwitchName=le Nodes=e[1-4]
SwitchName=pa Switches=la
SwitchName=pb Switches=lb
SwitchName=pc Switches=lc
SwitchName=pd Switches=ld[1-2]
SwitchName=pe Switches=le
SwitchName=s1 Switches=pa,pb,pc
SwitchName=s2 Switches=pd
SwitchName=s3 Switches=pe
SwitchName=root Switches=s[1-3]
`)
	p := MustPlace(t, top, mustFree(t, "a[1-4],b[1-4],c[1-4],d[1-8],e[1-4]"), Request{Nodes: 12})
	if p.CommonSwitch != "s1" || p.Levels[1].Spanned != 3 || p.Levels[1].LowerBound != 2 {
		t.Fatalf("plan %s on %s, pods %d/%d", p.Nodelist, p.CommonSwitch, p.Levels[1].Spanned, p.Levels[1].LowerBound)
	}
	if tr := p.Tradeoff; tr == nil || tr.Chose != "upper levels" || tr.AlternativeLeaves != 3 || !strings.Contains(tr.Why, "under 2 level-2 switches where the plan needs 1") {
		t.Errorf("tradeoff %+v", p.Tradeoff)
	}
}
