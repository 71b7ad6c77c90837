package mpi

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

// The baselines Place is measured against, computed on the same inputs:
// the first free nodes by name, random free nodes, and Slurm's documented
// topology/tree best fit (select/cons_tres, Slurm 22.05: the lowest-level
// switch that can hold the job, the one with the fewest free nodes among
// those; under it, repeatedly the leaf that alone holds the rest with the
// fewest free nodes, else the leaf with the most; nodes in node order).
// Written from that description, not from Slurm's code.

// firstByName takes the first n free nodes in natural name order.
func firstByName(free []FreeNode, n int) []string {
	names := make([]string, len(free))
	for i, f := range free {
		names[i] = f.Name
	}
	hostlist.Sort(names)
	return names[:n]
}

// randomNodes takes n free nodes at random, in random order.
func randomNodes(r *rand.Rand, free []FreeNode, n int) []string {
	names := make([]string, len(free))
	for i, f := range free {
		names[i] = f.Name
	}
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	return names[:n]
}

// slurmBestFit is Slurm's topology/tree best fit.
func slurmBestFit(t *Topology, free []FreeNode, n int) []string {
	isFree := make([]bool, len(t.nodes))
	for _, f := range free {
		isFree[t.nodeIdx[f.Name]] = true
	}
	count := make([]int, len(t.sw))
	for _, sw := range t.post {
		r := &t.sw[sw]
		for _, nd := range r.nodes {
			if isFree[nd] {
				count[sw]++
			}
		}
		for _, c := range r.children {
			count[sw] += count[c]
		}
	}
	// The switch table in file order (depth-first here).
	var table []int32
	for _, root := range t.roots {
		table = append(table, t.islandSwitchesDFS(root)...)
	}
	best := int32(-1)
	for _, sw := range table {
		if count[sw] < n {
			continue
		}
		if best < 0 || t.sw[sw].level < t.sw[best].level ||
			(t.sw[sw].level == t.sw[best].level && count[sw] < count[best]) {
			best = sw
		}
	}
	if best < 0 {
		return nil
	}
	var leaves []int32
	for _, sw := range table {
		if t.sw[sw].isLeaf() && count[sw] > 0 && t.isUnder(sw, best) {
			leaves = append(leaves, sw)
		}
	}
	var out []string
	rem := n
	for rem > 0 {
		pick := -1
		for i, l := range leaves {
			if l < 0 {
				continue
			}
			switch {
			case pick < 0:
				pick = i
			case count[l] >= rem && (count[leaves[pick]] < rem || count[l] < count[leaves[pick]]):
				pick = i
			case count[l] < rem && count[leaves[pick]] < rem && count[l] > count[leaves[pick]]:
				pick = i
			}
		}
		l := leaves[pick]
		leaves[pick] = -1
		for _, nd := range t.sw[l].nodes {
			if rem > 0 && isFree[nd] {
				out = append(out, t.nodes[nd].name)
				rem--
			}
		}
	}
	hostlist.Sort(out) // Slurm lists (and ranks) nodes in node order
	return out
}

// quality measures a node list in its own order.
type quality struct {
	leaves, pods, ringLeafCrossings int
}

func measure(t *Topology, nodes []string) quality {
	var q quality
	leaves, pods := map[int32]bool{}, map[int32]bool{}
	for i, n := range nodes {
		l := t.nodes[t.nodeIdx[n]].leaf
		leaves[l] = true
		if t.maxLevel >= 2 {
			pods[t.groupOf(l, 1)] = true
		}
		next := t.nodes[t.nodeIdx[nodes[(i+1)%len(nodes)]]].leaf
		if len(nodes) > 1 && next != l {
			q.ringLeafCrossings++
		}
	}
	q.leaves, q.pods = len(leaves), len(pods)
	return q
}

// regularTopology builds a regular tree: fanouts from the root down, then
// leaves of leafSize nodes.
func regularTopology(fanouts []int, leafSize int) *Topology {
	var specs []SwitchSpec
	nodeNo, leafNo := 0, 0
	var build func(level int, name string)
	build = func(level int, name string) {
		if level == len(fanouts) {
			leafNo++
			var nodes []string
			for range leafSize {
				nodeNo++
				nodes = append(nodes, fmt.Sprintf("n%05d", nodeNo))
			}
			specs = append(specs, SwitchSpec{Name: name, Nodes: nodes})
			return
		}
		var kids []string
		for i := range fanouts[level] {
			kids = append(kids, fmt.Sprintf("%s-%d", name, i+1))
		}
		specs = append(specs, SwitchSpec{Name: name, Switches: kids})
		for _, k := range kids {
			build(level+1, k)
		}
	}
	build(0, "sw")
	top, err := NewTopology(specs)
	if err != nil {
		panic(err)
	}
	return top
}

// randomOccupancy marks nodes busy leaf by leaf: some leaves idle, some
// full, the rest busy at a random rate.
func randomOccupancy(r *rand.Rand, t *Topology) []FreeNode {
	var free []FreeNode
	for _, l := range t.dfsLeaves {
		var busy float64
		switch x := r.Float64(); {
		case x < 0.15:
			busy = 0
		case x < 0.3:
			busy = 1
		default:
			busy = 0.2 + 0.7*r.Float64()
		}
		for _, nd := range t.sw[l].nodes {
			if r.Float64() >= busy {
				free = append(free, FreeNode{Name: t.nodes[nd].name})
			}
		}
	}
	r.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	return free
}

type qualityCase struct {
	free []FreeNode
	n    int
}

func qualityCases(r *rand.Rand, t *Topology, count, maxNodes int) []qualityCase {
	var cs []qualityCase
	for len(cs) < count {
		free := randomOccupancy(r, t)
		n := 2 + r.IntN(maxNodes-1)
		if n > len(free) {
			continue
		}
		cs = append(cs, qualityCase{free, n})
	}
	return cs
}

// comparison holds the means over the cases.
type comparison struct {
	cases                                 int
	ours, slurm, first, random            float64 // leaves
	oursPods, slurmPods                   float64
	atLowerBound, notWorseThanSlurm, ring int // counts
	oursRing, slurmRing                   float64
}

func compare(tb testing.TB, t *Topology, cs []qualityCase) comparison {
	r := rand.New(rand.NewPCG(99, 99))
	var c comparison
	for _, qc := range cs {
		p, err := Place(t, qc.free, Request{Nodes: qc.n})
		if err != nil {
			tb.Fatal(err)
		}
		ours := measure(t, p.Nodes)
		sl := measure(t, slurmBestFit(t, qc.free, qc.n))
		c.cases++
		c.ours += float64(ours.leaves)
		c.slurm += float64(sl.leaves)
		c.first += float64(measure(t, firstByName(qc.free, qc.n)).leaves)
		c.random += float64(measure(t, randomNodes(r, qc.free, qc.n)).leaves)
		c.oursPods += float64(ours.pods)
		c.slurmPods += float64(sl.pods)
		c.oursRing += float64(ours.ringLeafCrossings)
		c.slurmRing += float64(sl.ringLeafCrossings)
		if ours.leaves == p.LeavesLowerBound {
			c.atLowerBound++
		}
		if ours.leaves <= sl.leaves {
			c.notWorseThanSlurm++
		}
		want := ours.leaves
		if want == 1 {
			want = 0
		}
		if ours.ringLeafCrossings == want {
			c.ring++
		}
	}
	n := float64(c.cases)
	c.ours, c.slurm, c.first, c.random = c.ours/n, c.slurm/n, c.first/n, c.random/n
	c.oursPods, c.slurmPods, c.oursRing, c.slurmRing = c.oursPods/n, c.slurmPods/n, c.oursRing/n, c.slurmRing/n
	return c
}

func TestSlurmBestFitBaseline(t *testing.T) {
	// The baseline itself, on the tightest-fit example of Slurm's
	// documentation logic: the lowest switch, then whole fitting leaves.
	top := MustParseTopologyConf(t, conflictTopology)
	got := slurmBestFit(top, mustFree(t, "a[1-3,5-7,9-11],b[1-5],c[1-5]"), 9)
	// p1 (9 free) is the lowest switch holding 9: Slurm spans its 3 leaves.
	if want := []string{"a1", "a2", "a3", "a5", "a6", "a7", "a9", "a10", "a11"}; !slices.Equal(got, want) {
		t.Errorf("slurmBestFit = %v, want %v", got, want)
	}
}

// TestQualityAgainstBaselines checks on random occupancy of the benchmark
// fabrics what the benchmark reports: never more leaves than Slurm's best
// fit, always at the lower bound, ring crossings equal to the leaves.
func TestQualityAgainstBaselines(t *testing.T) {
	for _, f := range benchFabrics {
		t.Run(f.name, func(t *testing.T) {
			top := f.build()
			c := compare(t, top, qualityCases(rand.New(rand.NewPCG(5, 5)), top, 60, f.maxNodes))
			if c.notWorseThanSlurm != c.cases || c.atLowerBound != c.cases || c.ring != c.cases {
				t.Errorf("of %d cases: %d not worse than Slurm, %d at the lower bound, %d with minimal ring crossings",
					c.cases, c.notWorseThanSlurm, c.atLowerBound, c.ring)
			}
			t.Logf("mean leaves: ours %.2f, Slurm best fit %.2f, first by name %.2f, random %.2f", c.ours, c.slurm, c.first, c.random)
		})
	}
}
