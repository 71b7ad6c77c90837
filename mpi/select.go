package mpi

import (
	"cmp"
	"math/bits"
	"slices"
)

// selection is the outcome of the rank-and-select stage.
type selection struct {
	lca     int32   // the lowest switch holding every chosen leaf
	leaves  []int32 // chosen leaves, depth-first order
	take    []int   // nodes taken on each chosen leaf
	k       int     // leaves lower bound
	cost    []int   // see evaluate
	island  int
	nodeIDs []int32 // chosen nodes in rank order (filled by order)
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
	// top[sw] holds the k largest eligible counts of the leaves under sw,
	// largest first.
	top := make([][]int, len(t.sw))
	for _, sw := range t.post {
		r := &t.sw[sw]
		if r.isLeaf() {
			if e := s.swElig[sw]; e > 0 {
				top[sw] = []int{e}
			}
			continue
		}
		var merged []int
		for _, c := range r.children {
			merged = mergeDesc(merged, top[c], k)
		}
		top[sw] = merged
	}
	// Candidates: the switches of the lowest level whose k best leaves
	// hold n nodes.
	best := -1
	var cands []int32
	for _, sw := range t.post {
		tp := top[sw]
		if len(tp) < k || sumFirst(tp, k) < n {
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
	var chosen *selection
	for _, c := range cands {
		sel := s.evaluate(c, k, n, top)
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

// mergeDesc merges two descending lists, keeping the first k.
func mergeDesc(a, b []int, k int) []int {
	out := make([]int, 0, min(k, len(a)+len(b)))
	i, j := 0, 0
	for len(out) < k && (i < len(a) || j < len(b)) {
		if j >= len(b) || (i < len(a) && a[i] >= b[j]) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}

func compareCost(a, b []int) int { return slices.Compare(a, b) }

// evaluate selects k leaves under switch c holding n eligible nodes and
// scores the result. The cost, compared lexicographically, is: switches
// spanned at each level from the top down to level 1; eligible nodes left
// free on the chosen leaves (tightest fit); whole free leaves broken into;
// the eligible nodes under c (best fit, as Slurm); c's depth-first position.
func (s *snapshot) evaluate(c int32, k, n int, top [][]int) *selection {
	t := s.t
	var pool []int32
	if t.sw[c].isLeaf() {
		pool = []int32{c}
	} else {
		used := make(map[int32]bool)
		s.chooseSwitches(c, k, n, top, used)
		for _, l := range t.dfsLeaves {
			if s.swElig[l] > 0 && t.sw[l].parent >= 0 && used[t.sw[l].parent] && t.isUnder(l, c) {
				pool = append(pool, l)
			}
		}
	}
	leaves := s.minWaste(pool, k, n)
	slices.SortFunc(leaves, func(a, b int32) int { return cmp.Compare(t.sw[a].leafOrder(t), t.sw[b].leafOrder(t)) })
	sel := &selection{lca: c, leaves: leaves}
	cost := make([]int, 0, t.maxLevel+4)
	for lvl := t.maxLevel; lvl >= 1; lvl-- {
		cost = append(cost, s.spanned(leaves, lvl))
	}
	waste, whole := -n, 0
	for _, l := range leaves {
		waste += s.swElig[l]
		if s.isWhole[l] {
			whole++
		}
	}
	cost = append(cost, waste, whole, s.swElig[c], int(t.sw[c].firstNode(t)))
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

// spanned counts the distinct level-lvl switches above the leaves.
func (s *snapshot) spanned(leaves []int32, lvl int) int {
	seen := make(map[int32]bool, 4)
	for _, l := range leaves {
		if a := s.t.ancestorAt(l, lvl); a >= 0 {
			seen[a] = true
		}
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

// chooseSwitches marks, under switch c, the fewest children (and, in
// them, recursively the fewest children) that can supply need nodes from
// exactly k leaves. The children of the deepest marked switches form the
// pool from which minWaste picks the leaves.
func (s *snapshot) chooseSwitches(c int32, k, need int, top [][]int, used map[int32]bool) {
	t := s.t
	used[c] = true
	r := &t.sw[c]
	allLeaves := true
	var kids []int32
	for _, ch := range r.children {
		if len(top[ch]) == 0 {
			continue
		}
		kids = append(kids, ch)
		if !t.sw[ch].isLeaf() {
			allLeaves = false
		}
	}
	if allLeaves {
		return
	}
	// prof[i][j] is the most nodes child i supplies from j leaves.
	prof := make([][]int, len(kids))
	for i, ch := range kids {
		tp := top[ch][:min(k, len(top[ch]))]
		p := make([]int, len(tp)+1)
		for j, v := range tp {
			p[j+1] = p[j] + v
		}
		prof[i] = p
	}
	picked := pickChildren(prof, k, need)
	sum := 0
	for i, j := range picked {
		if j > 0 {
			sum += prof[i][j]
		}
	}
	slack := sum - need
	for i, j := range picked {
		if j == 0 || t.sw[kids[i]].isLeaf() {
			continue
		}
		give := min(slack, prof[i][j]-j)
		slack -= give
		s.chooseSwitches(kids[i], j, prof[i][j]-give, top, used)
	}
}

// pickChildren finds the fewest children, and how many leaves to take from
// each (picked[i]), whose best leaves supply need nodes from exactly k
// leaves in all. Exact by dynamic programming when small enough; greedy
// (largest supplies first) otherwise.
func pickChildren(prof [][]int, k, need int) []int {
	// Greedy first: it also bounds the number of children.
	order := make([]int, len(prof))
	for i := range order {
		order[i] = i
	}
	supply := func(i int) int { return prof[i][min(k, len(prof[i])-1)] }
	slices.SortStableFunc(order, func(a, b int) int { return supply(b) - supply(a) })
	greedy := greedyPick(prof, order, k, need)
	g := 0
	work := 0
	for i, j := range greedy {
		if j > 0 {
			g++
		}
		work += (len(prof[i]) - 1)
	}
	if g <= 1 || int64(work)*int64(g)*int64(k) > 4_000_000 {
		return greedy
	}
	// dp[m][j]: most nodes from m children and j leaves; -1 unreachable.
	const none = -1
	layers := make([][][]int, len(prof)+1)
	cur := make([][]int, g+1)
	for m := range cur {
		cur[m] = make([]int, k+1)
		for j := range cur[m] {
			cur[m][j] = none
		}
	}
	cur[0][0] = 0
	layers[0] = cur
	for i, p := range prof {
		next := make([][]int, g+1)
		for m := range next {
			next[m] = slices.Clone(cur[m])
		}
		for m := 1; m <= g; m++ {
			for j := 1; j <= k; j++ {
				for tk := 1; tk < len(p) && tk <= j; tk++ {
					if prev := cur[m-1][j-tk]; prev != none && prev+p[tk] > next[m][j] {
						next[m][j] = prev + p[tk]
					}
				}
			}
		}
		layers[i+1] = next
		cur = next
	}
	m := 0
	for m = 1; m <= g; m++ {
		if cur[m][k] >= need {
			break
		}
	}
	if m > g {
		return greedy
	}
	picked := make([]int, len(prof))
	j := k
	for i := len(prof) - 1; i >= 0 && m > 0; i-- {
		v := layers[i+1][m][j]
		if v == layers[i][m][j] {
			continue // child i not used
		}
		for tk := 1; tk < len(prof[i]) && tk <= j; tk++ {
			if prev := layers[i][m-1][j-tk]; prev != none && prev+prof[i][tk] == v {
				picked[i] = tk
				m--
				j -= tk
				break
			}
		}
	}
	return picked
}

// greedyPick takes children in the given order until their best k leaves
// supply need.
func greedyPick(prof [][]int, order []int, k, need int) []int {
	picked := make([]int, len(prof))
	var pool []int
	for _, i := range order {
		var vals []int
		for j := 1; j < len(prof[i]); j++ {
			vals = append(vals, prof[i][j]-prof[i][j-1])
		}
		pool = mergeDesc(pool, vals, k)
		if sumFirst(pool, k) >= need && len(pool) >= k {
			break
		}
	}
	// Assign the k best leaves back to their children.
	quota := map[int]int{}
	for _, v := range pool[:k] {
		quota[v]++
	}
	for _, i := range order {
		for j := 1; j < len(prof[i]); j++ {
			v := prof[i][j] - prof[i][j-1]
			if quota[v] > 0 {
				quota[v]--
				picked[i]++
			}
		}
	}
	return picked
}

// minWaste picks exactly k leaves of the pool whose eligible nodes add up
// to at least n and as little more as possible; among equal sums it leans
// to leaves that are not whole free leaves. Exact (dynamic programming over
// sums) unless the table would be large, then greedy with one swap pass.
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
	if gsum == n || len(items) == k {
		return greedy
	}
	capSum := gsum
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
