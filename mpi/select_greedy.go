package mpi

import "slices"

// The greedy choice of switches, used when the exact fronts of
// select.go would cost too much (deep irregular fabrics, large jobs): at
// each switch the fewest children whose best leaves supply the need (exact
// by dynamic programming when small, greedy otherwise), then the same in
// each chosen child. Each level is minimised given the levels above, not
// jointly.

// topLists returns, for every switch, the k largest eligible counts of the
// leaves under it, largest first.
func (s *snapshot) topLists(k int) [][]int {
	t := s.t
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
	return top
}

// greedyPool returns the leaves under the switches chooseSwitches marks
// below c.
func (s *snapshot) greedyPool(top [][]int, c int32, k, n int) []int32 {
	t := s.t
	if t.sw[c].isLeaf() {
		return []int32{c}
	}
	used := make(map[int32]bool)
	s.chooseSwitches(c, k, n, top, used)
	var pool []int32
	for _, l := range t.dfsLeaves {
		if s.swElig[l] > 0 && t.sw[l].parent >= 0 && used[t.sw[l].parent] && t.isUnder(l, c) {
			pool = append(pool, l)
		}
	}
	return pool
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
