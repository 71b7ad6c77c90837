package mpi

import (
	"cmp"
	"math/bits"
	"slices"
)

// selection is the outcome of the rank-and-select stage.
type selection struct {
	lca    int32   // the lowest switch holding every chosen leaf
	leaves []int32 // chosen leaves, depth-first order
	take   []int   // nodes taken on each chosen leaf
	k      int     // leaves lower bound
	cost   []int   // see evaluate
	island int
}

// leafLowerBounds returns, per island, the fewest leaves whose eligible
// nodes add up to n (0 when the island cannot hold n).
func (s *snapshot) leafLowerBounds(n int) []int {
	t := s.t
	per := make([][]int, len(t.roots))
	for _, l := range t.dfsLeaves {
		if e := s.swElig[l]; e > 0 {
			isl := t.sw[l].island
			per[isl] = append(per[isl], e)
		}
	}
	out := make([]int, len(t.roots))
	for i, v := range per {
		slices.SortFunc(v, func(a, b int) int { return b - a })
		sum := 0
		for j, e := range v {
			sum += e
			if sum >= n {
				out[i] = j + 1
				break
			}
		}
	}
	return out
}

// selectNodes is the rank-and-select stage.
func (s *snapshot) selectNodes(n int) (*selection, error) {
	t := s.t
	lbs := s.leafLowerBounds(n)
	k := 0
	for _, lb := range lbs {
		if lb > 0 && (k == 0 || lb < k) {
			k = lb
		}
	}
	if k == 0 {
		e := &InsufficientError{Requested: n, Free: s.nFree, Eligible: s.nElig, Islands: len(t.roots)}
		for _, r := range t.roots {
			e.LargestIsland = max(e.LargestIsland, s.swElig[r])
		}
		return nil, e
	}
	// Candidates: the switches of the lowest level under which k leaves
	// hold n nodes (their k best leaves suffice).
	top := s.topLists(k)
	best := -1
	var cands []int32
	for _, sw := range t.post {
		if tp := top[sw]; len(tp) < k || sumFirst(tp, k) < n {
			continue
		}
		lvl := t.sw[sw].level
		if best < 0 || lvl < best {
			best, cands = lvl, cands[:0]
		}
		if lvl == best {
			cands = append(cands, sw)
		}
	}
	// Exact fronts are needed only under the candidates.
	needed := make([]bool, len(t.sw))
	for _, c := range cands {
		for _, sw := range t.islandSwitchesDFS(c) {
			needed[sw] = true
		}
	}
	fr, exact := s.frontiers(k, needed)
	var chosen *selection
	for _, c := range cands {
		var pool []int32
		if exact {
			pool = s.exactPool(fr, c, k, n)
		} else {
			pool = s.greedyPool(top, c, k, n)
		}
		sel := s.evaluate(c, k, n, pool)
		if chosen == nil || compareCost(sel.cost, chosen.cost) < 0 {
			chosen = sel
		}
	}
	chosen.k = k
	chosen.island = t.sw[chosen.lca].island
	return chosen, nil
}

func sumFirst(v []int, k int) int {
	s := 0
	for _, x := range v[:min(k, len(v))] {
		s += x
	}
	return s
}

func compareCost(a, b []int) int { return slices.Compare(a, b) }

// Group counts per level are packed into one key, 16 bits per level from
// level 1 (low bits) to level 4 (high bits), so that comparing keys
// compares the counts from the top level down. Fabrics of more than five
// levels, or jobs of more than 65535 leaves, use the greedy choice.
const (
	keyLevels = 4
	keyBits   = 16
)

// keyOnes returns a key with a count of 1 at levels from..keyLevels.
func keyOnes(from int) uint64 {
	var k uint64
	for l := max(from, 1); l <= keyLevels; l++ {
		k |= 1 << (keyBits * (l - 1))
	}
	return k
}

// keyBelow keeps the counts of levels below top.
func keyBelow(key uint64, top int) uint64 {
	if top > keyLevels {
		return key
	}
	return key & (1<<(keyBits*(top-1)) - 1)
}

// entry is one Pareto-optimal way to take j leaves under a switch: the
// groups it spans at each level (key) and the most eligible nodes those
// leaves can hold. For a switch of switches, prev/tk/ei lead back through
// the knapsack over its children: this entry is entry prev of the previous
// step for j-tk leaves plus entry ei of the child's front for tk leaves
// (tk 0: the child is not used).
type entry struct {
	key  uint64
	sum  int32
	prev int32
	tk   int32
	ei   int32
}

// front is the Pareto front of one switch: fr.f[j] for j leaves; for a
// switch of switches also the knapsack steps, one per child in kids.
type front struct {
	f     [][]entry
	kids  []int32
	steps [][][]entry // steps[i][j]: after children kids[:i+1]
}

// maxFront bounds a Pareto front; only very irregular fabrics reach it,
// and then the entries with the fewest groups and the one with the most
// nodes are kept, so a feasible choice always remains.
const maxFront = 8

// better reports whether e beats f for the same groups: more nodes, then
// (for determinism) the earlier way of getting them.
func better(e, f *entry) bool {
	switch {
	case e.sum != f.sum:
		return e.sum > f.sum
	case e.prev != f.prev:
		return e.prev < f.prev
	case e.tk != f.tk:
		return e.tk < f.tk
	}
	return e.ei < f.ei
}

// frontAcc gathers candidate entries, keeping the best per group key:
// by linear search while there are few keys (the usual case), by map past
// that.
type frontAcc struct {
	idx map[uint64]int32
	es  []entry
}

const accLinear = 16

func (a *frontAcc) add(e entry) {
	if len(a.es) <= accLinear {
		for i := range a.es {
			if a.es[i].key == e.key {
				if better(&e, &a.es[i]) {
					a.es[i] = e
				}
				return
			}
		}
		a.es = append(a.es, e)
		if len(a.es) > accLinear {
			for i := range a.es {
				a.idx[a.es[i].key] = int32(i)
			}
		}
		return
	}
	if i, ok := a.idx[e.key]; ok {
		if better(&e, &a.es[i]) {
			a.es[i] = e
		}
		return
	}
	a.idx[e.key] = int32(len(a.es))
	a.es = append(a.es, e)
}

// take returns the Pareto front of what was added and resets a: entries
// sorted by groups (top level first), each holding more nodes than every
// entry before it, at most maxFront of them.
func (a *frontAcc) take() []entry {
	if len(a.es) > accLinear {
		clear(a.idx)
	}
	es := prune(a.es)
	a.es = nil
	return es
}

// prune sorts entries of distinct keys by key and keeps the Pareto front.
func prune(es []entry) []entry {
	if len(es) < 2 {
		return es
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
	out := es[:1]
	for _, e := range es[1:] {
		if e.sum > out[len(out)-1].sum {
			out = append(out, e)
		}
	}
	if len(out) > maxFront {
		out = append(out[:maxFront-1], out[len(out)-1])
	}
	return out
}

// frontBudget bounds the combinations frontiers may try; past it the plan
// falls back to the greedy choice of switches (select_greedy.go). Regular
// trees stay far below it; deep irregular ones with large jobs do not.
const frontBudget = 150_000

// frontiers computes, bottom-up, for every needed switch and every j <= k, the
// Pareto front of (groups per level, eligible nodes) over the ways to take
// exactly j leaves under it. Dominance survives addition, so combining the
// fronts of children as a knapsack is exact (up to maxFront). It reports
// false when the work would exceed frontBudget.
func (s *snapshot) frontiers(k int, needed []bool) ([]front, bool) {
	t := s.t
	if t.maxLevel > keyLevels || k >= 1<<keyBits {
		return nil, false
	}
	work := 0
	acc := frontAcc{idx: make(map[uint64]int32)}
	fr := make([]front, len(t.sw))
	for _, sw := range t.post {
		if !needed[sw] {
			continue
		}
		r := &t.sw[sw]
		if r.isLeaf() {
			if e := s.swElig[sw]; e > 0 {
				fr[sw].f = [][]entry{nil, {{key: keyOnes(1), sum: int32(e)}}}
			}
			continue
		}
		var kids []int32
		allLeaves := true
		for _, c := range r.children {
			if fr[c].f != nil {
				kids = append(kids, c)
				allLeaves = allLeaves && t.sw[c].isLeaf()
			}
		}
		if len(kids) == 0 {
			continue
		}
		top := r.level
		if allLeaves {
			vals := make([]int, len(kids))
			for i, c := range kids {
				vals[i] = s.swElig[c]
			}
			slices.SortFunc(vals, func(a, b int) int { return b - a })
			f := make([][]entry, min(k, len(vals))+1)
			sum := 0
			for j := 1; j < len(f); j++ {
				sum += vals[j-1]
				key := keyOnes(top)
				for l := 1; l < top; l++ {
					key |= uint64(j) << (keyBits * (l - 1))
				}
				f[j] = []entry{{key: key, sum: int32(sum)}}
			}
			fr[sw].f = f
			continue
		}
		// Knapsack over the children.
		steps := make([][][]entry, len(kids))
		prev := [][]entry{{{}}} // before any child: j = 0, nothing
		reach := 0
		for i, c := range kids {
			cf := fr[c].f
			reach = min(k, reach+len(cf)-1)
			for j := range prev {
				for tk := 1; tk < len(cf) && j+tk <= reach; tk++ {
					work += len(prev[j]) * len(cf[tk])
				}
			}
			if work > frontBudget {
				return nil, false
			}
			next := make([][]entry, reach+1)
			for J := range next {
				if J < len(prev) {
					for pi, a := range prev[J] {
						acc.add(entry{key: a.key, sum: a.sum, prev: int32(pi)})
					}
				}
				for tk := 1; tk < len(cf) && tk <= J; tk++ {
					j := J - tk
					if j >= len(prev) {
						continue
					}
					for pi := range prev[j] {
						a := &prev[j][pi]
						for ei := range cf[tk] {
							b := &cf[tk][ei]
							// Counts add level by level; no field
							// overflows as each is at most k < 2^16.
							acc.add(entry{key: a.key + keyBelow(b.key, top), sum: a.sum + b.sum, prev: int32(pi), tk: int32(tk), ei: int32(ei)})
						}
					}
				}
				next[J] = acc.take()
			}
			steps[i] = next
			prev = next
		}
		f := make([][]entry, len(prev))
		for j := 1; j < len(prev); j++ {
			es := slices.Clone(prev[j])
			for i, e := range es {
				// Levels from this switch up count one group; each
				// final entry remembers its place in the last step.
				acc.add(entry{key: keyBelow(e.key, top) | keyOnes(top), sum: e.sum, prev: int32(i), tk: -1, ei: -1})
			}
			f[j] = acc.take()
		}
		fr[sw] = front{f: f, kids: kids, steps: steps}
	}
	return fr, true
}

// collectPool appends the leaves a front entry draws from: the leaves of
// the switches it takes whole sets of leaves from (any of them will do),
// and single leaves it picks.
func (s *snapshot) collectPool(fr []front, sw int32, j int, e entry, pool []int32) []int32 {
	t := s.t
	r := &t.sw[sw]
	if r.isLeaf() {
		return append(pool, sw)
	}
	f := &fr[sw]
	if f.steps == nil { // children are leaves
		var kids []int32
		for _, ch := range r.children {
			if s.swElig[ch] > 0 {
				kids = append(kids, ch)
			}
		}
		// Under a level-1 switch any of its leaves will do (they are one
		// group). Higher up each leaf is a group of its own: the entry
		// counted j of them, its j largest, and the pool must not offer
		// more (minWaste would trade groups for a tighter fit).
		if r.level > 1 && j < len(kids) {
			slices.SortStableFunc(kids, func(a, b int32) int { return s.swElig[b] - s.swElig[a] })
			kids = kids[:j]
		}
		return append(pool, kids...)
	}
	// Walk the knapsack back from the last step.
	idx := int(e.prev)
	for i := len(f.kids) - 1; i >= 0; i-- {
		x := f.steps[i][j][idx]
		if x.tk > 0 {
			c := f.kids[i]
			pool = s.collectPool(fr, c, int(x.tk), fr[c].f[x.tk][x.ei], pool)
			j -= int(x.tk)
		}
		idx = int(x.prev)
	}
	return pool
}

// exactPool returns the leaves that the front entry of c with the fewest
// groups holding n nodes draws from.
func (s *snapshot) exactPool(fr []front, c int32, k, n int) []int32 {
	for _, x := range fr[c].f[k] {
		if int(x.sum) >= n {
			return s.collectPool(fr, c, k, x, nil)
		}
	}
	return nil // not reached: c is a candidate
}

// evaluate selects k leaves of the pool under switch c holding n eligible nodes and
// scores the result. The cost, compared lexicographically, is: groups
// (switches, or leaves with no switch of that level above them) at each
// level from the top down to level 1; eligible nodes left free on the
// chosen leaves (tightest fit); whole free leaves broken into; the eligible
// nodes under c, then under its parent, and so on up (best fit, as Slurm,
// extended up the tree so that larger free areas stay whole); c's
// depth-first position.
func (s *snapshot) evaluate(c int32, k, n int, pool []int32) *selection {
	t := s.t
	leaves := s.minWaste(pool, k, n)
	slices.SortFunc(leaves, func(a, b int32) int { return cmp.Compare(t.sw[a].leafOrder(t), t.sw[b].leafOrder(t)) })
	sel := &selection{lca: c, leaves: leaves}
	cost := make([]int, 0, t.maxLevel+4)
	for lvl := t.maxLevel; lvl >= 1; lvl-- {
		cost = append(cost, t.groups(leaves, lvl))
	}
	waste, whole := -n, 0
	for _, l := range leaves {
		waste += s.swElig[l]
		if s.isWhole[l] {
			whole++
		}
	}
	cost = append(cost, waste, whole)
	for a := c; a >= 0; a = t.sw[a].parent {
		cost = append(cost, s.swElig[a])
	}
	cost = append(cost, int(t.sw[c].firstNode(t)))
	sel.cost = cost
	// Nodes taken: everything eligible, less the waste left on one leaf:
	// one that was already partly used if there is one, else the last.
	sel.take = make([]int, len(leaves))
	keep := len(leaves) - 1
	for i, l := range leaves {
		sel.take[i] = s.swElig[l]
		if !s.isWhole[l] && s.isWhole[leaves[keep]] {
			keep = i
		}
	}
	sel.take[keep] -= waste
	return sel
}

// groups counts the level-lvl groups of the leaves: the distinct switches
// of that level above them, a leaf with no switch of that level above it
// being a group of its own. It is the number of boundaries of that level
// a ring through the leaves must cross (if more than one).
func (t *Topology) groups(leaves []int32, lvl int) int {
	seen := make(map[int32]bool, 4)
	for _, l := range leaves {
		seen[t.groupOf(l, lvl)] = true
	}
	return len(seen)
}

// isUnder reports whether switch a is in the subtree of switch b.
func (t *Topology) isUnder(a, b int32) bool {
	for a >= 0 {
		if a == b {
			return true
		}
		a = t.sw[a].parent
	}
	return false
}

// leafOrder is the depth-first position of a leaf: that of its first node.
func (r *swRec) leafOrder(t *Topology) int32 { return r.firstNode(t) }

// firstNode returns the depth-first position of the first node under a
// switch.
func (r *swRec) firstNode(t *Topology) int32 {
	for !r.isLeaf() {
		r = &t.sw[r.children[0]]
	}
	return t.nodes[r.nodes[0]].order
}

// minWaste picks exactly k leaves of the pool whose eligible nodes add up
// to at least n and as little more as possible, then with the fewest whole
// free leaves. Exact (dynamic programming over sums and whole leaves) for
// small pools; for larger ones exact on the sum (a bitset dynamic program)
// and leaning to partly used leaves; for the largest, greedy with a swap
// pass.
func (s *snapshot) minWaste(pool []int32, k, n int) []int32 {
	t := s.t
	items := slices.Clone(pool)
	// Preference order: partly used leaves first, then depth-first order.
	slices.SortStableFunc(items, func(a, b int32) int {
		if s.isWhole[a] != s.isWhole[b] {
			if s.isWhole[b] {
				return -1
			}
			return 1
		}
		return cmp.Compare(t.sw[a].leafOrder(t), t.sw[b].leafOrder(t))
	})
	val := func(l int32) int { return s.swElig[l] }
	greedy, gsum := greedyWaste(items, val, k, n)
	if len(items) == k {
		return greedy
	}
	capSum := gsum
	if int64(len(items)+1)*int64(k+1)*int64(capSum+1) <= 150_000 {
		return exactWaste(items, val, s.isWhole, k, n, capSum)
	}
	if gsum == n {
		return greedy
	}
	words := capSum/64 + 1
	if int64(k+1)*int64(capSum+1) > 4_000_000 || int64(len(items))*int64(k)*int64(words) > 20_000_000 {
		return greedy
	}
	reach := make([][]uint64, k+1)
	for j := range reach {
		reach[j] = make([]uint64, words)
	}
	reach[0][0] = 1
	first := make([]int32, (k+1)*(capSum+1))
	for i := range first {
		first[i] = -1
	}
	newly := make([]uint64, words)
	for i, l := range items {
		v := val(l)
		for j := min(i+1, k); j >= 1; j-- {
			shiftOr(newly, reach[j-1], v, capSum)
			any := false
			for w := range newly {
				newly[w] &^= reach[j][w]
				if newly[w] != 0 {
					any = true
				}
			}
			if !any {
				continue
			}
			for w, word := range newly {
				for word != 0 {
					b := w*64 + bits.TrailingZeros64(word)
					word &= word - 1
					first[j*(capSum+1)+b] = int32(i)
				}
				reach[j][w] |= newly[w]
			}
		}
	}
	target := -1
	for b := n; b <= capSum; b++ {
		if reach[k][b/64]&(1<<(b%64)) != 0 {
			target = b
			break
		}
	}
	if target < 0 || target > gsum {
		return greedy
	}
	out := make([]int32, 0, k)
	for j, b := k, target; j > 0; j-- {
		i := first[j*(capSum+1)+b]
		out = append(out, items[i])
		b -= val(items[i])
	}
	return out
}

// exactWaste is minWaste by dynamic programming over (items, leaves,
// sum): the fewest whole leaves for each reachable sum up to capSum (the
// greedy sum, always reachable).
func exactWaste(items []int32, val func(int32) int, whole []bool, k, n, capSum int) []int32 {
	const inf = int8(127)
	w := capSum + 1
	size := (k + 1) * w
	tab := make([]int8, (len(items)+1)*size)
	for i := range tab[:size] {
		tab[i] = inf
	}
	tab[0] = 0
	for i, l := range items {
		v, add := val(l), int8(0)
		if whole[l] {
			add = 1
		}
		prev, cur := tab[i*size:(i+1)*size], tab[(i+1)*size:(i+2)*size]
		copy(cur, prev)
		for j := 1; j <= min(k, i+1); j++ {
			for b := v; b <= capSum; b++ {
				if p := prev[(j-1)*w+b-v]; p != inf && p+add < cur[j*w+b] {
					cur[j*w+b] = p + add
				}
			}
		}
	}
	last := tab[len(items)*size:]
	target := -1
	for b := n; b <= capSum; b++ {
		if last[k*w+b] != inf {
			target = b
			break
		}
	}
	out := make([]int32, 0, k)
	for i, j, b := len(items)-1, k, target; j > 0; i-- {
		prev, cur := tab[i*size:(i+1)*size], tab[(i+1)*size:(i+2)*size]
		if cur[j*w+b] == prev[j*w+b] {
			continue // items[i] not needed
		}
		out = append(out, items[i])
		j--
		b -= val(items[i])
	}
	return out
}

// shiftOr sets dst to src shifted left by v bits, cut at bit capSum.
func shiftOr(dst, src []uint64, v, capSum int) {
	ws, bs := v/64, uint(v%64)
	for w := len(dst) - 1; w >= 0; w-- {
		var x uint64
		if w-ws >= 0 {
			x = src[w-ws] << bs
			if bs > 0 && w-ws-1 >= 0 {
				x |= src[w-ws-1] >> (64 - bs)
			}
		}
		dst[w] = x
	}
	last := len(dst) - 1
	if r := uint((capSum + 1) % 64); r != 0 {
		dst[last] &= (1 << r) - 1
	}
}

// greedyWaste takes the k largest leaves, then swaps each, largest first,
// for the smallest unused leaf that keeps the sum at least n.
func greedyWaste(items []int32, val func(int32) int, k, n int) ([]int32, int) {
	byVal := slices.Clone(items)
	slices.SortStableFunc(byVal, func(a, b int32) int { return val(b) - val(a) })
	chosen := slices.Clone(byVal[:k])
	rest := slices.Clone(byVal[k:])
	sum := 0
	for _, l := range chosen {
		sum += val(l)
	}
	// rest is in descending order; scan from the smallest.
	for i := range chosen {
		best := -1
		for j := len(rest) - 1; j >= 0; j-- {
			d := val(chosen[i]) - val(rest[j])
			if d > 0 && sum-d >= n {
				best = j
				break
			}
		}
		if best >= 0 {
			sum -= val(chosen[i]) - val(rest[best])
			chosen[i], rest[best] = rest[best], chosen[i]
			slices.SortStableFunc(rest, func(a, b int32) int { return val(b) - val(a) })
		}
	}
	return chosen, sum
}
