package mpi

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

// Plan is a placement: the nodes in rank order and how good the placement
// is. Its JSON form (WriteJSON) is stable and only ever gains fields.
type Plan struct {
	// Nodes are the host names in rank order; node i runs TasksPerNode[i]
	// consecutive ranks.
	Nodes        []string `json:"nodes"`
	TasksPerNode []int    `json:"tasks_per_node"`
	Tasks        int      `json:"tasks"`
	CPUsPerTask  int      `json:"cpus_per_task,omitempty"`
	// Nodelist is Nodes as a compressed Slurm hostlist (for --nodelist).
	Nodelist string `json:"nodelist"`

	Island       string `json:"island"`        // root switch of the island used
	CommonSwitch string `json:"common_switch"` // lowest switch above every node

	LeavesSpanned     int `json:"leaves_spanned"`
	LeavesLowerBound  int `json:"leaves_lower_bound"`
	RingLeafCrossings int `json:"ring_leaf_crossings"`
	// Levels has one entry per switch level, leaves (0) first.
	Levels []LevelMetrics `json:"levels"`

	// RingHops is the sum, over the edges of the ring of all ranks in rank
	// order, of the links each edge traverses (0 inside a node, 2 through
	// a leaf, 2 more per level above). RingHopBytes weights it with the
	// bytes each edge carries in a ring allreduce of AllreduceBytes
	// (2(P-1)/P of the buffer).
	RingHops       int64   `json:"ring_hops"`
	AllreduceBytes int64   `json:"allreduce_bytes"`
	RingHopBytes   float64 `json:"ring_hop_bytes"`
	// MaxUplinkLoad is the highest, over switches, of the ring flows that
	// leave a switch's subtree divided by its uplink capacity in node
	// links (known from ibnetdiscover, else the switch's node count over
	// the oversubscription). Above 1, the ring is slowed there.
	MaxUplinkLoad   float64 `json:"max_uplink_load"`
	MaxUplinkSwitch string  `json:"max_uplink_switch,omitempty"`

	Fragmentation Fragmentation `json:"fragmentation"`
	// Objective states the order of the criteria the plan minimised.
	Objective string `json:"objective"`
	// Tradeoff is set when fewest leaves and fewest higher-level switches
	// could not both be met; it says which the plan chose and why.
	Tradeoff *Tradeoff     `json:"tradeoff,omitempty"`
	Parallel *ParallelPlan `json:"parallel,omitempty"`
}

// LevelMetrics describes how a plan uses one level of switches.
type LevelMetrics struct {
	Level int `json:"level"`
	// Spanned is the number of switches of this level above the plan's
	// nodes; LowerBound the fewest that could hold the request given the
	// free nodes (each level's bound on its own).
	Spanned    int `json:"spanned"`
	LowerBound int `json:"lower_bound"`
	// RingCrossings counts the edges of the rank ring between nodes under
	// different switches of this level; MinRingCrossings is the least
	// possible for the nodes chosen: the number of groups of this level
	// (its switches; a leaf hanging straight under a higher switch counts
	// as one), or 0 for one group.
	RingCrossings    int `json:"ring_crossings"`
	MinRingCrossings int `json:"min_ring_crossings"`
}

// Fragmentation counts leaves by their free nodes before and after the
// plan: whole (every node free) and partly free (some free, some busy).
type Fragmentation struct {
	WholeFreeLeavesBefore  int `json:"whole_free_leaves_before"`
	WholeFreeLeavesAfter   int `json:"whole_free_leaves_after"`
	PartlyFreeLeavesBefore int `json:"partly_free_leaves_before"`
	PartlyFreeLeavesAfter  int `json:"partly_free_leaves_after"`
	// FreeLeftOnUsedLeaves is the number of eligible free nodes the plan
	// leaves on the leaves it uses (the tightness of the fit).
	FreeLeftOnUsedLeaves int `json:"free_left_on_used_leaves"`
}

// Tradeoff reports a conflict between fewest leaves and fewest switches of
// a higher level.
type Tradeoff struct {
	// Chose is "leaves" (fewest leaves kept over fewest switches of this
	// level), "upper levels" (fewest switches of a level above kept), or
	// "none" (no real conflict: the search missed a better plan).
	Chose      string `json:"chose"`
	Level      int    `json:"level"` // the lowest level above the leaves in conflict
	Spanned    int    `json:"spanned"`
	LowerBound int    `json:"lower_bound"`
	// AlternativeLeaves is the number of leaves a plan within LowerBound
	// switches of that level (those with the most eligible free nodes)
	// would span.
	AlternativeLeaves int    `json:"alternative_leaves"`
	Why               string `json:"why"`
}

// ParallelPlan lists the parallel groups as lists of ranks.
type ParallelPlan struct {
	Parallel
	DataParallel int     `json:"data_parallel"`
	TPGroups     [][]int `json:"tp_groups"`
	PPGroups     [][]int `json:"pp_groups"`
	DPGroups     [][]int `json:"dp_groups"`
	// The most nodes and leaves any one group of each kind spans.
	TPMaxNodes  int `json:"tp_max_nodes"`
	PPMaxLeaves int `json:"pp_max_leaves"`
	DPMaxLeaves int `json:"dp_max_leaves"`
}

const objective = "fewest leaf switches (at the free-aware lower bound), then fewest switches per level from the top down, then tightest fit (fewest eligible nodes left on the leaves used, whole free leaves kept whole); never across islands"

// buildPlan is the order and measure stages.
func (s *snapshot) buildPlan(sel *selection, q resolved) *Plan {
	t := s.t
	// Order: leaves depth-first (sel.leaves already is), nodes as listed
	// on each leaf; the eligible nodes taken first.
	var ids []int32
	for i, l := range sel.leaves {
		taken := 0
		for _, n := range t.sw[l].nodes {
			if taken == sel.take[i] {
				break
			}
			if s.elig[n] {
				ids = append(ids, n)
				taken++
			}
		}
	}
	p := &Plan{
		Tasks:            q.tasks,
		CPUsPerTask:      q.cpusPerTask,
		Island:           t.sw[t.roots[sel.island]].name,
		CommonSwitch:     t.sw[sel.lca].name,
		LeavesSpanned:    len(sel.leaves),
		LeavesLowerBound: sel.k,
		AllreduceBytes:   q.allreduce,
		Objective:        objective,
	}
	base, extra := q.tasks/q.nodes, q.tasks%q.nodes
	for i, n := range ids {
		p.Nodes = append(p.Nodes, t.nodes[n].name)
		tasks := base
		if i < extra {
			tasks++
		}
		p.TasksPerNode = append(p.TasksPerNode, tasks)
	}
	p.Nodelist, _ = hostlist.Compress(p.Nodes) // topology names are always writable

	s.levelMetrics(p, ids, q.nodes)
	s.ringMetrics(p, ids, q)
	s.fragmentation(p, sel)
	s.tradeoff(p, q.nodes)
	if q.par != nil {
		p.Parallel = s.parallelGroups(ids, q)
	}
	return p
}

// groupOf returns the level-lvl group of a leaf: its highest ancestor (or
// itself) of level at most lvl. In a regular tree that is its switch of
// that level; a leaf hanging straight under a higher switch is a group of
// its own; an island whose root is below lvl is one group.
func (t *Topology) groupOf(leaf int32, lvl int) int32 {
	g := leaf
	for p := t.sw[g].parent; p >= 0 && t.sw[p].level <= lvl; p = t.sw[p].parent {
		g = p
	}
	return g
}

func (s *snapshot) levelMetrics(p *Plan, ids []int32, n int) {
	t := s.t
	for lvl := 0; lvl <= t.maxLevel; lvl++ {
		m := LevelMetrics{Level: lvl}
		seen := map[int32]bool{}
		groups := map[int32]bool{}
		for i, id := range ids {
			leaf := t.nodes[id].leaf
			if a := t.ancestorAt(leaf, lvl); a >= 0 {
				seen[a] = true
			}
			g := t.groupOf(leaf, lvl)
			groups[g] = true
			next := ids[(i+1)%len(ids)]
			if len(ids) > 1 && g != t.groupOf(t.nodes[next].leaf, lvl) {
				m.RingCrossings++
			}
		}
		m.Spanned = len(seen)
		if len(groups) > 1 {
			m.MinRingCrossings = len(groups)
		}
		m.LowerBound = s.levelLowerBound(lvl, n)
		p.Levels = append(p.Levels, m)
	}
	p.RingLeafCrossings = p.Levels[0].RingCrossings
}

// levelLowerBound is the fewest switches of a level, within one island,
// whose eligible nodes (with those of the island under no switch of that
// level) add up to n.
func (s *snapshot) levelLowerBound(lvl, n int) int {
	t := s.t
	best := -1
	for isl, root := range t.roots {
		if s.swElig[root] < n {
			continue
		}
		var vals []int
		covered := 0
		for _, sw := range t.post {
			r := &t.sw[sw]
			if r.island == isl && r.level == lvl && s.swElig[sw] > 0 {
				vals = append(vals, s.swElig[sw])
				covered += s.swElig[sw]
			}
		}
		need := n - (s.swElig[root] - covered)
		slices.SortFunc(vals, func(a, b int) int { return b - a })
		c, sum := 0, 0
		for sum < need && c < len(vals) {
			sum += vals[c]
			c++
		}
		if best < 0 || c < best {
			best = c
		}
	}
	return max(best, 0)
}

// ringMetrics measures the ring of all ranks in rank order.
func (s *snapshot) ringMetrics(p *Plan, ids []int32, q resolved) {
	t := s.t
	P := q.tasks
	if P < 2 {
		return
	}
	var hops int64
	out := map[int32]int{} // ring flows leaving each switch's subtree
	for i, a := range ids {
		b := ids[(i+1)%len(ids)]
		if len(ids) == 1 {
			break
		}
		la, lb := t.nodes[a].leaf, t.nodes[b].leaf
		anc := t.lca(la, lb)
		hops += int64(2 + t.sw[la].depth - t.sw[anc].depth + t.sw[lb].depth - t.sw[anc].depth)
		for x := la; x != anc; x = t.sw[x].parent {
			out[x]++
		}
	}
	p.RingHops = hops
	p.RingHopBytes = float64(hops) * 2 * float64(P-1) / float64(P) * float64(q.allreduce)
	keys := slices.Sorted(maps.Keys(out))
	for _, sw := range keys {
		r := &t.sw[sw]
		capacity := r.uplink
		if capacity == 0 {
			capacity = float64(r.size) / q.oversub
		}
		load := float64(out[sw]) / capacity
		if load > p.MaxUplinkLoad || (load == p.MaxUplinkLoad && r.name < p.MaxUplinkSwitch) {
			p.MaxUplinkLoad, p.MaxUplinkSwitch = load, r.name
		}
	}
}

func (s *snapshot) fragmentation(p *Plan, sel *selection) {
	t := s.t
	taken := map[int32]int{}
	for i, l := range sel.leaves {
		taken[l] = sel.take[i]
		p.Fragmentation.FreeLeftOnUsedLeaves += s.swElig[l] - sel.take[i]
	}
	for _, l := range t.dfsLeaves {
		size, free := len(t.sw[l].nodes), s.swFree[l]
		classify := func(free int) (whole, partly int) {
			switch {
			case free == size:
				return 1, 0
			case free > 0:
				return 0, 1
			}
			return 0, 0
		}
		w, pt := classify(free)
		p.Fragmentation.WholeFreeLeavesBefore += w
		p.Fragmentation.PartlyFreeLeavesBefore += pt
		w, pt = classify(free - taken[l])
		p.Fragmentation.WholeFreeLeavesAfter += w
		p.Fragmentation.PartlyFreeLeavesAfter += pt
	}
}

// tradeoff explains a conflict between the leaf count and the count of a
// higher level, at the lowest such level.
func (s *snapshot) tradeoff(p *Plan, n int) {
	t := s.t
	for _, m := range p.Levels[1:] {
		if m.Spanned <= m.LowerBound {
			continue
		}
		// The LowerBound switches of this level with the most eligible
		// nodes, in the best island, and the leaves a plan inside them
		// would need.
		alt := -1
		var altSws []int32
		for isl, root := range t.roots {
			if s.swElig[root] < n {
				continue
			}
			var sws []int32
			for _, sw := range t.post {
				if r := &t.sw[sw]; r.island == isl && r.level == m.Level && s.swElig[sw] > 0 {
					sws = append(sws, sw)
				}
			}
			slices.SortStableFunc(sws, func(a, b int32) int { return cmp.Compare(s.swElig[b], s.swElig[a]) })
			if len(sws) < m.LowerBound {
				continue
			}
			var vals []int
			for _, l := range t.dfsLeaves {
				for _, sw := range sws[:m.LowerBound] {
					if t.isUnder(l, sw) && s.swElig[l] > 0 {
						vals = append(vals, s.swElig[l])
					}
				}
			}
			slices.SortFunc(vals, func(a, b int) int { return b - a })
			sum := 0
			for j, v := range vals {
				sum += v
				if sum >= n {
					if alt < 0 || j+1 < alt {
						alt, altSws = j+1, sws[:m.LowerBound]
					}
					break
				}
			}
		}
		p.Tradeoff = &Tradeoff{
			Chose: "leaves", Level: m.Level, Spanned: m.Spanned, LowerBound: m.LowerBound,
			AlternativeLeaves: alt,
			Why: fmt.Sprintf("fewest leaves first: the %d nodes need at least %d leaf switches; with %d leaves the plan spans %d level-%d switches, "+
				"while the %d level-%d switches with the most free nodes would hold the job only across %d leaves. "+
				"Each extra leaf is one more boundary the job's rings cross and one more leaf uplink (the most oversubscribed links of a tree) they load, "+
				"so the plan keeps the leaf count at its lower bound.",
				n, p.LeavesLowerBound, p.LeavesSpanned, m.Spanned, m.Level, m.LowerBound, m.Level, alt),
		}
		if alt == p.LeavesSpanned {
			// As few leaves fit in fewer switches of this level: the plan
			// spans more of them for the sake of a level above, or its
			// search (greedy past its budget) missed them.
			for lvl := t.maxLevel; lvl > m.Level; lvl-- {
				groups := map[int32]bool{}
				for _, sw := range altSws {
					groups[t.groupOf(sw, lvl)] = true
				}
				planGroups := max(p.Levels[lvl].MinRingCrossings, 1)
				if len(groups) > planGroups {
					p.Tradeoff.Chose = "upper levels"
					p.Tradeoff.Why = fmt.Sprintf("fewest switches at the upper levels first: %d leaves would fit in %d level-%d switches, but those sit under %d level-%d switches where the plan needs %d; "+
						"traffic crossing a higher boundary takes more hops over the scarcer links of the core, so the plan minimises the levels above first.",
						alt, m.LowerBound, m.Level, len(groups), lvl, planGroups)
					return
				}
				if len(groups) < planGroups {
					break
				}
			}
			p.Tradeoff.Chose = "none"
			p.Tradeoff.Why = fmt.Sprintf("no real conflict: %d leaves under %d level-%d switches would do as well, but the planner's choice of switches (greedy on fabrics past its exact-search budget) did not find them",
				alt, m.LowerBound, m.Level)
		}
		return
	}
}

func (s *snapshot) parallelGroups(ids []int32, q resolved) *ParallelPlan {
	t := s.t
	par := q.par
	tp, pp, dp := par.TensorParallel, par.PipelineParallel, q.dp
	pl := &ParallelPlan{Parallel: *par, DataParallel: dp}
	// rank -> (tp, dp, pp) index according to the order.
	rank := func(it, id, ip int) int {
		if par.Order == "tp-pp-dp" {
			return it + tp*(ip+pp*id)
		}
		return it + tp*(id+dp*ip)
	}
	perNode := q.tasks / q.nodes
	leafOfRank := func(r int) int32 { return t.nodes[ids[r/perNode]].leaf }
	span := func(g []int) (nodes, leaves int) {
		ns, ls := map[int]bool{}, map[int32]bool{}
		for _, r := range g {
			ns[r/perNode] = true
			ls[leafOfRank(r)] = true
		}
		return len(ns), len(ls)
	}
	for id := 0; id < dp; id++ {
		for ip := 0; ip < pp; ip++ {
			g := make([]int, tp)
			for it := range g {
				g[it] = rank(it, id, ip)
			}
			pl.TPGroups = append(pl.TPGroups, g)
			nodes, _ := span(g)
			pl.TPMaxNodes = max(pl.TPMaxNodes, nodes)
		}
	}
	for id := 0; id < dp; id++ {
		for it := 0; it < tp; it++ {
			g := make([]int, pp)
			for ip := range g {
				g[ip] = rank(it, id, ip)
			}
			pl.PPGroups = append(pl.PPGroups, g)
			_, leaves := span(g)
			pl.PPMaxLeaves = max(pl.PPMaxLeaves, leaves)
		}
	}
	for ip := 0; ip < pp; ip++ {
		for it := 0; it < tp; it++ {
			g := make([]int, dp)
			for id := range g {
				g[id] = rank(it, id, ip)
			}
			pl.DPGroups = append(pl.DPGroups, g)
			_, leaves := span(g)
			pl.DPMaxLeaves = max(pl.DPMaxLeaves, leaves)
		}
	}
	for _, g := range [][][]int{pl.TPGroups, pl.PPGroups, pl.DPGroups} {
		slices.SortFunc(g, func(a, b []int) int { return a[0] - b[0] })
	}
	return pl
}
