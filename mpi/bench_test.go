package mpi

import (
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// benchFabrics are the fabrics of the benchmarks: a 4,000-node two-level
// fat tree (200 leaves of 20 nodes under one spine layer) and a
// 10,000-node three-level tree (10 pods of 25 leaves of 40 nodes).
var benchFabrics = []struct {
	name     string
	build    func() *Topology
	maxNodes int // largest request of the quality cases
}{
	{"fattree4000", func() *Topology { return regularTopology([]int{200}, 20) }, 400},
	{"threelevel10000", func() *Topology { return regularTopology([]int{10, 25}, 40) }, 1500},
}

// BenchmarkPlan measures the plan time (ns/op) on 300 random occupancies
// and requests per fabric and reports, on those cases, the mean leaves
// spanned by the plan and by the three baselines (computed in the same
// run), the share of plans at the lower bound, the share not worse than
// Slurm's best fit, the share whose ring crosses leaf boundaries exactly
// once per leaf, and the mean pods (three-level fabric).
//
//	go test ./mpi -run '^$' -bench . -benchtime 200x
func BenchmarkPlan(b *testing.B) {
	for _, f := range benchFabrics {
		b.Run(f.name, func(b *testing.B) {
			top := f.build()
			cs := qualityCases(rand.New(rand.NewPCG(2026, 1)), top, 300, f.maxNodes)
			c := compare(b, top, cs)
			b.ResetTimer()
			i := 0
			for b.Loop() {
				qc := cs[i%len(cs)]
				i++
				if _, err := Place(top, qc.free, Request{Nodes: qc.n}); err != nil {
					b.Fatal(err)
				}
			}
			// After the loop: ResetTimer discards reported metrics.
			b.ReportMetric(c.ours, "leaves/plan")
			b.ReportMetric(c.slurm, "leaves-slurm/plan")
			b.ReportMetric(c.first, "leaves-first/plan")
			b.ReportMetric(c.random, "leaves-random/plan")
			b.ReportMetric(100*float64(c.atLowerBound)/float64(c.cases), "%at-lower-bound")
			b.ReportMetric(100*float64(c.notWorseThanSlurm)/float64(c.cases), "%leaves<=slurm")
			b.ReportMetric(100*float64(c.ring)/float64(c.cases), "%ring-crossings=leaves")
			b.ReportMetric(c.oursRing, "ring-leaf-crossings/plan")
			b.ReportMetric(c.slurmRing, "ring-leaf-crossings-slurm/plan")
			if top.maxLevel >= 2 {
				b.ReportMetric(c.oursPods, "pods/plan")
				b.ReportMetric(c.slurmPods, "pods-slurm/plan")
			}
		})
	}
}

// BenchmarkPlan10000Ranks plans 1,250 nodes x 8 ranks on the 10,000-node
// three-level tree at random occupancy (about 55% of the nodes free) and
// reports the plan time in ms, the same with the SLURM_HOSTFILE written,
// and the time of Slurm's best fit measured in the same run (the ratio is
// what to compare across machines).
func BenchmarkPlan10000Ranks(b *testing.B) {
	top := benchFabrics[1].build()
	r := rand.New(rand.NewPCG(10000, 8))
	var free []FreeNode
	for _, n := range top.Nodes() {
		if r.Float64() < 0.55 {
			free = append(free, FreeNode{Name: n})
		}
	}
	req := Request{Nodes: 1250, TasksPerNode: 8}
	p, err := Place(top, free, req)
	if err != nil {
		b.Fatal(err)
	}
	if p.Tasks != 10000 || p.LeavesSpanned != p.LeavesLowerBound {
		b.Fatalf("tasks %d leaves %d/%d", p.Tasks, p.LeavesSpanned, p.LeavesLowerBound)
	}
	// Slurm's best fit on the same input, timed the same way.
	const reps = 50
	start := time.Now()
	for range reps {
		slurmBestFit(top, free, req.Nodes)
	}
	slurmTime := time.Since(start) / reps
	var withHostfile time.Duration
	start = time.Now()
	for range reps {
		p, _ := Place(top, free, req)
		_ = p.WriteHostfile(io.Discard)
	}
	withHostfile = time.Since(start) / reps
	b.ResetTimer()
	for b.Loop() {
		if _, err := Place(top, free, req); err != nil {
			b.Fatal(err)
		}
	}
	perPlan := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(perPlan.Microseconds())/1000, "ms/plan")
	b.ReportMetric(float64(withHostfile.Microseconds())/1000, "ms/plan+hostfile")
	b.ReportMetric(float64(slurmTime.Microseconds())/1000, "ms/slurm-bestfit")
	b.ReportMetric(float64(p.LeavesSpanned), "leaves")
	b.ReportMetric(float64(p.Levels[1].Spanned), "pods")
}
