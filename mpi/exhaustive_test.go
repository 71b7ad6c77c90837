package mpi

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// planCost is the objective Place minimises, computed from a set of leaves
// and the request alone: leaves; groups per level from the top down to
// level 1 (switches of that level, a leaf with none above it counting as
// one); eligible nodes left on the leaves used; whole free leaves used.
type planCost []int

func costOf(ref reference, in instance, maxLevel int, leaves []string) planCost {
	c := planCost{len(leaves)}
	for lvl := maxLevel; lvl >= 1; lvl-- {
		seen := map[string]bool{}
		for _, l := range leaves {
			seen[ref.group(l, lvl)] = true
		}
		c = append(c, len(seen))
	}
	elig, whole := 0, 0
	free := map[string]bool{}
	for _, f := range in.free {
		free[f.Name] = true
	}
	for _, l := range leaves {
		all := true
		for _, s := range in.top.Switches() {
			if s.Name != l {
				continue
			}
			for _, n := range s.Nodes {
				if ref.eligible[n] {
					elig++
				}
				all = all && free[n]
			}
		}
		if all {
			whole++
		}
	}
	return append(c, elig-in.req.Nodes, whole)
}

// optimum enumerates every set of leaves of one island that can hold the
// request and returns the least cost.
func optimum(ref reference, in instance, maxLevel int) planCost {
	type leaf struct {
		name string
		elig int
	}
	byIsland := map[int][]leaf{}
	for _, s := range in.top.Switches() {
		if len(s.Nodes) == 0 {
			continue
		}
		e := 0
		for _, n := range s.Nodes {
			if ref.eligible[n] {
				e++
			}
		}
		if e > 0 {
			byIsland[s.Island] = append(byIsland[s.Island], leaf{s.Name, e})
		}
	}
	var best planCost
	for _, ls := range byIsland {
		for mask := uint(1); mask < 1<<len(ls); mask++ {
			k := bits.OnesCount(mask)
			if k > in.req.Nodes || (best != nil && k > best[0]) {
				continue
			}
			sum := 0
			var names []string
			for i, l := range ls {
				if mask&(1<<i) != 0 {
					sum += l.elig
					names = append(names, l.name)
				}
			}
			if sum < in.req.Nodes {
				continue
			}
			if c := costOf(ref, in, maxLevel, names); best == nil || slices.Compare(c, best) < 0 {
				best = c
			}
		}
	}
	return best
}

// TestPlanAgainstExhaustiveOptimum solves small random instances by
// enumerating every set of leaves and compares the plan's cost with the
// optimum, component by component. Leaves and groups per level must always
// be optimal; for waste and whole leaves the test reports how often and by
// how much they differ.
func TestPlanAgainstExhaustiveOptimum(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 1))
	names := func(maxLevel int) []string {
		n := []string{"leaves"}
		for lvl := maxLevel; lvl >= 1; lvl-- {
			n = append(n, fmt.Sprintf("level-%d groups", lvl))
		}
		return append(n, "free nodes left on used leaves", "whole free leaves used")
	}
	solved, optimal := 0, 0
	diffs := map[string]int{}
	worst := map[string]int{}
	examples := map[string]string{}
	for solved < 4000 {
		in := randomInstance(r, 2, 3, 4, 5)
		if len(in.top.nodes) > 60 || len(in.top.dfsLeaves) > 14 {
			continue
		}
		ref := newReference(in)
		if ref.lb == 0 {
			continue
		}
		solved++
		p, err := Place(in.top, in.free, in.req)
		if err != nil {
			t.Fatalf("Place: %v\n%s", err, in.describe())
		}
		leafSet := map[string]bool{}
		for _, n := range p.Nodes {
			leafSet[ref.leafOf[n]] = true
		}
		maxLevel := in.top.Levels() - 1
		got := costOf(ref, in, maxLevel, slices.Sorted(mapsKeysStr(leafSet)))
		want := optimum(ref, in, maxLevel)
		if slices.Equal(got, want) {
			optimal++
			continue
		}
		if got[0] != want[0] {
			t.Fatalf("leaves %d, optimum %d\n%s", got[0], want[0], in.describe())
		}
		if slices.Compare(got, want) < 0 {
			t.Fatalf("plan cost %v below the enumerated optimum %v: the enumeration is wrong\n%s", got, want, in.describe())
		}
		for i := range got {
			if got[i] != want[i] {
				label := names(maxLevel)[i]
				diffs[label]++
				worst[label] = max(worst[label], got[i]-want[i])
				if examples[label] == "" {
					examples[label] = fmt.Sprintf("cost %v, optimum %v (%s)\n%s", got, want, strings.Join(names(maxLevel), ", "), in.describe())
				}
				break
			}
		}
	}
	t.Logf("%d small instances: plan optimal on all criteria in %d (%.2f%%)", solved, optimal, 100*float64(optimal)/float64(solved))
	for _, k := range slices.Sorted(mapsKeysInt(diffs)) {
		t.Logf("  first differing criterion %q: %d instances, worst excess %d", k, diffs[k], worst[k])
	}
	for _, k := range slices.Sorted(mapsKeysInt(diffs)) {
		t.Logf("example for %q: %s", k, examples[k])
	}
	// Groups per level are optimal by construction on fabrics this small
	// (the exact Pareto fronts; see select.go): keep them so. Waste and
	// whole leaves are optimal within the switches chosen, not always over
	// every choice of switches with the same groups; the log above says by
	// how much.
	for k, n := range diffs {
		if strings.HasPrefix(k, "level-") {
			t.Errorf("%q not optimal in %d of %d instances", k, n, solved)
		}
	}
	if optimal*100 < solved*97 {
		t.Errorf("optimal on all criteria in only %d of %d instances", optimal, solved)
	}
}

func mapsKeysStr(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func mapsKeysInt(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
