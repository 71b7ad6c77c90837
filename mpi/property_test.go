package mpi

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// instance is a random topology with random free nodes and a request.
type instance struct {
	top  *Topology
	free []FreeNode
	req  Request
}

// describe prints the instance for a failure message.
func (in instance) describe() string {
	names := make([]string, len(in.free))
	for i, f := range in.free {
		names[i] = fmt.Sprintf("%s/%d", f.Name, f.GPUs)
	}
	return fmt.Sprintf("request %+v\nfree %v\n%s", in.req, names, confTextNoTB(in.top))
}

// randomTopology builds a tree of 1 to maxIslands islands; every switch
// has 1 to maxFan children, a child being a leaf early with some chance
// (irregular trees); leaves hold 1 to maxLeaf nodes.
func randomTopology(r *rand.Rand, maxIslands, maxDepth, maxFan, maxLeaf int) *Topology {
	var specs []SwitchSpec
	nodeNo, swNo := 0, 0
	var build func(depth int) string
	build = func(depth int) string {
		swNo++
		name := fmt.Sprintf("s%d", swNo)
		if depth == 0 || (depth < maxDepth && r.IntN(5) == 0) {
			size := 1 + r.IntN(maxLeaf)
			var nodes []string
			for range size {
				nodeNo++
				nodes = append(nodes, fmt.Sprintf("n%d", nodeNo))
			}
			specs = append(specs, SwitchSpec{Name: name, Nodes: nodes})
			return name
		}
		fan := 1 + r.IntN(maxFan)
		if depth == maxDepth && fan == 1 {
			fan = 2
		}
		var kids []string
		for range fan {
			kids = append(kids, build(depth-1))
		}
		specs = append(specs, SwitchSpec{Name: name, Switches: kids})
		return name
	}
	for range 1 + r.IntN(maxIslands) {
		build(r.IntN(maxDepth + 1))
	}
	top, err := NewTopology(specs)
	if err != nil {
		panic(err)
	}
	return top
}

// randomFree marks nodes free leaf by leaf with a random occupancy per
// leaf, some with GPUs.
func randomFree(r *rand.Rand, top *Topology, gpus bool) []FreeNode {
	var free []FreeNode
	for _, s := range top.Switches() {
		if s.Level > 0 || len(s.Switches) > 0 {
			continue
		}
		busy := r.Float64()
		if r.IntN(4) == 0 {
			busy = 0 // a whole free leaf
		}
		for _, n := range s.Nodes {
			if r.Float64() < busy {
				continue
			}
			f := FreeNode{Name: n}
			if gpus {
				f.GPUs = []int{0, 4, 8}[r.IntN(3)]
			}
			free = append(free, f)
		}
	}
	r.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	return free
}

func randomInstance(r *rand.Rand, maxIslands, maxDepth, maxFan, maxLeaf int) instance {
	top := randomTopology(r, maxIslands, maxDepth, maxFan, maxLeaf)
	gpus := r.IntN(4) == 0
	free := randomFree(r, top, gpus)
	req := Request{Nodes: 1 + r.IntN(max(1, len(free))), TasksPerNode: 1 + r.IntN(4)}
	if gpus && r.IntN(2) == 0 {
		req.GPUsPerNode = 4
	}
	return instance{top: top, free: free, req: req}
}

func confTextNoTB(top *Topology) string {
	var b []byte
	w := &sliceWriter{&b}
	_ = top.WriteTopologyConf(w)
	return string(b)
}

type sliceWriter struct{ b *[]byte }

func (w *sliceWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

// reference computes, with the public API only, what any plan must
// respect: the eligible nodes, each leaf's island and the leaf lower bound.
type reference struct {
	eligible map[string]bool
	leafOf   map[string]string
	island   map[string]int // leaf -> island
	level    map[string]int
	parent   map[string]string
	lb       int // 0: no island can hold the request
}

func newReference(in instance) reference {
	ref := reference{eligible: map[string]bool{}, leafOf: map[string]string{}, island: map[string]int{}, level: map[string]int{}, parent: map[string]string{}}
	for _, f := range in.free {
		if in.req.GPUsPerNode == 0 || f.GPUs >= in.req.GPUsPerNode {
			ref.eligible[f.Name] = true
		}
	}
	perIsland := map[int][]int{}
	for _, s := range in.top.Switches() {
		ref.level[s.Name] = s.Level
		ref.parent[s.Name] = s.Parent
		ref.island[s.Name] = s.Island
		if len(s.Nodes) == 0 {
			continue
		}
		e := 0
		for _, n := range s.Nodes {
			ref.leafOf[n] = s.Name
			if ref.eligible[n] {
				e++
			}
		}
		if e > 0 {
			perIsland[s.Island] = append(perIsland[s.Island], e)
		}
	}
	n := in.req.Nodes
	for _, v := range perIsland {
		slices.Sort(v)
		slices.Reverse(v)
		sum := 0
		for k, e := range v {
			sum += e
			if sum >= n {
				if ref.lb == 0 || k+1 < ref.lb {
					ref.lb = k + 1
				}
				break
			}
		}
	}
	return ref
}

// group returns the highest ancestor of a leaf (or the leaf) whose level
// is at most lvl.
func (ref reference) group(leaf string, lvl int) string {
	g := leaf
	for p := ref.parent[g]; p != "" && ref.level[p] <= lvl; p = ref.parent[p] {
		g = p
	}
	return g
}

// ancestor returns the switch above leaf at a level ("" if skipped).
func (ref reference) ancestor(leaf string, lvl int) string {
	for s := leaf; s != ""; s = ref.parent[s] {
		if ref.level[s] == lvl {
			return s
		}
		if ref.level[s] > lvl {
			return ""
		}
	}
	return ""
}

func checkPlanProperties(t *testing.T, in instance, p *Plan, err error) {
	t.Helper()
	ref := newReference(in)
	if ref.lb == 0 {
		if !errors.Is(err, ErrNotEnoughNodes) {
			t.Fatalf("no island holds %d nodes, Place gave %v\n%s", in.req.Nodes, err, in.describe())
		}
		return
	}
	if err != nil {
		t.Fatalf("Place: %v\n%s", err, in.describe())
	}
	if len(p.Nodes) != in.req.Nodes || len(p.TasksPerNode) != len(p.Nodes) {
		t.Fatalf("%d nodes for %d requested", len(p.Nodes), in.req.Nodes)
	}
	seen := map[string]bool{}
	islands := map[int]bool{}
	leaves := map[string]bool{}
	tasks := 0
	for i, n := range p.Nodes {
		if seen[n] {
			t.Fatalf("node %s twice", n)
		}
		seen[n] = true
		if !ref.eligible[n] {
			t.Fatalf("node %s is not an eligible free node", n)
		}
		leaf := ref.leafOf[n]
		leaves[leaf] = true
		islands[ref.island[leaf]] = true
		tasks += p.TasksPerNode[i]
	}
	if len(islands) != 1 {
		t.Fatalf("plan spans %d islands", len(islands))
	}
	if tasks != p.Tasks {
		t.Fatalf("tasks %d, sum per node %d", p.Tasks, tasks)
	}
	if p.LeavesSpanned != len(leaves) || p.LeavesSpanned != ref.lb || p.LeavesLowerBound != ref.lb {
		t.Fatalf("leaves spanned %d (counted %d), lower bound %d (reference %d)\n%s", p.LeavesSpanned, len(leaves), p.LeavesLowerBound, ref.lb, in.describe())
	}
	// Every switch's nodes are contiguous in rank order (counting the ring
	// as a circle), at every level: so ring crossings are minimal.
	for lvl, m := range p.Levels {
		groups := map[string]bool{}
		spanned := map[string]bool{}
		crossings := 0
		for i, n := range p.Nodes {
			g := ref.group(ref.leafOf[n], lvl)
			groups[g] = true
			if a := ref.ancestor(ref.leafOf[n], lvl); a != "" {
				spanned[a] = true
			}
			next := p.Nodes[(i+1)%len(p.Nodes)]
			if len(p.Nodes) > 1 && g != ref.group(ref.leafOf[next], lvl) {
				crossings++
			}
		}
		want := len(groups)
		if want == 1 {
			want = 0
		}
		if m.RingCrossings != crossings || m.MinRingCrossings != want || m.Spanned != len(spanned) {
			t.Fatalf("level %d: ring crossings %d (counted %d), minimum %d (counted %d), spanned %d (counted %d)",
				lvl, m.RingCrossings, crossings, m.MinRingCrossings, want, m.Spanned, len(spanned))
		}
		if m.RingCrossings != m.MinRingCrossings {
			t.Fatalf("level %d: %d ring crossings, minimum %d\n%v", lvl, m.RingCrossings, m.MinRingCrossings, p.Nodes)
		}
	}
	if p.RingLeafCrossings != p.Levels[0].MinRingCrossings {
		t.Fatalf("ring leaf crossings %d, minimum %d", p.RingLeafCrossings, p.Levels[0].MinRingCrossings)
	}
}

func TestPlanProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for i := range 3000 {
		in := randomInstance(r, 3, 4, 5, 8)
		p, err := Place(in.top, in.free, in.req)
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkPlanProperties(t, in, p, err) })
		if t.Failed() {
			return
		}
		if err != nil {
			continue
		}
		// The order of the free list never matters.
		f := slices.Clone(in.free)
		r.Shuffle(len(f), func(a, b int) { f[a], f[b] = f[b], f[a] })
		q, err := Place(in.top, f, in.req)
		if err != nil || !slices.Equal(q.Nodes, p.Nodes) {
			t.Fatalf("instance %d: shuffled free list gives %v (%v), first %v", i, q.Nodes, err, p.Nodes)
		}
	}
}

// TestPlanConcurrent runs plans on one topology from several goroutines
// (with -race it checks that Place never writes the shared topology).
func TestPlanConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	top := randomTopology(r, 2, 3, 6, 10)
	var ins []instance
	var want []string
	for range 40 {
		free := randomFree(r, top, false)
		req := Request{Nodes: 1 + r.IntN(max(1, len(free)))}
		ins = append(ins, instance{top: top, free: free, req: req})
		p, err := Place(top, free, req)
		if err != nil {
			want = append(want, err.Error())
		} else {
			want = append(want, p.Nodelist)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ins {
				i := (i + g*7) % len(ins)
				p, err := Place(top, ins[i].free, ins[i].req)
				got := ""
				if err != nil {
					got = err.Error()
				} else {
					got = p.Nodelist
				}
				if got != want[i] {
					t.Errorf("concurrent plan %d: %s, serial %s", i, got, want[i])
				}
			}
		}()
	}
	wg.Wait()
}
