package accounting_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

// The property test drives the ledger with random sequences of operations
// (holds, charges, releases, settlements, replays of all of them, refunds,
// adjustments, grants) across allocation periods, rate changes and overdraft
// policies, and checks after every step that the ledger's decisions and
// figures equal those of a plain Go model, and regularly that every balance
// equals the sum of its entries and that Verify finds the caches equal to the
// entries.

type modelAlloc struct {
	id                                                  int64
	project                                             string
	start, end                                          time.Time
	overdraft                                           accounting.Overdraft
	granted, adjusted, held, charged, refunded, overrun int64
}

func (a *modelAlloc) available() int64 {
	return a.granted + a.adjusted + a.refunded - a.charged - a.held
}

type modelJob struct {
	req      accounting.HoldRequest
	hold     int64
	alloc    *modelAlloc
	charged  bool
	charge   accounting.ChargeRequest
	amount   int64
	fromHold int64
	chAlloc  *modelAlloc
	released bool
	refunded int64
}

type model struct {
	allocs []*modelAlloc
	jobs   []*modelJob
	rates  map[string][]struct {
		from time.Time
		rate int64
	}
}

func (m *model) allocAt(project string, at time.Time) *modelAlloc {
	for _, a := range m.allocs {
		if a.project == project && !at.Before(a.start) && at.Before(a.end) {
			return a
		}
	}
	return nil
}

func (m *model) rateAt(partition string, at time.Time) (int64, bool) {
	var r int64
	ok := false
	for _, x := range m.rates[partition] {
		if !x.from.After(at) {
			r, ok = x.rate, true
		}
	}
	return r, ok
}

func TestPropertyLedgerMatchesModel(t *testing.T) {
	seeds := 6
	steps := 400
	if testing.Short() {
		seeds, steps = 2, 150
	}
	for seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runProperty(t, uint64(seed), steps)
		})
	}
}

func runProperty(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0x5ca1ab1e))
	l, clk := MustLedger(t)
	ctx := t.Context()
	MustProject(t, l, "climate")
	MustProject(t, l, "bio")
	m := &model{rates: map[string][]struct {
		from time.Time
		rate int64
	}{}}
	addAlloc := func(project string, start, end time.Time, od accounting.Overdraft, grant int64) {
		a := MustAllocation(t, l, accounting.NewAllocation{Project: project, Site: "ca", StartsAt: start, EndsAt: end,
			Overdraft: od, Grant: grant, Who: "admin"})
		m.allocs = append(m.allocs, &modelAlloc{id: a.ID, project: project, start: start, end: end, overdraft: od, granted: grant})
	}
	addAlloc("climate", year(2026), year(2027), accounting.NoOverdraft, 60*accounting.CoreHour)
	addAlloc("climate", year(2027), year(2028), accounting.Overdraft(5*accounting.CoreHour), 30*accounting.CoreHour)
	addAlloc("bio", year(2026), year(2027).AddDate(0, 6, 0), accounting.UnlimitedOverdraft, 10*accounting.CoreHour)
	setRate := func(partition string, from time.Time, rate int64) {
		MustRate(t, l, "ca", partition, rate, from)
		m.rates[partition] = append(m.rates[partition], struct {
			from time.Time
			rate int64
		}{from, rate})
	}
	setRate("cpu", year(2025), 1000)
	setRate("cpu", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), 1250)
	setRate("gpu", year(2025), 2500)
	setRate("gpu", year(2027), 3333)

	clk.Set(year(2026).Add(time.Duration(rng.IntN(48)) * time.Hour))
	pick := func() *modelJob {
		if len(m.jobs) == 0 {
			return nil
		}
		return m.jobs[rng.IntN(len(m.jobs))]
	}
	counts := map[string]int{}
	for step := range steps {
		clk.Advance(time.Duration(rng.IntN(3*24*3600)+1) * time.Second)
		now := clk.Now().UTC().Truncate(time.Second)
		op := rng.IntN(100)
		where := fmt.Sprintf("seed %d step %d at %s", seed, step, now.Format(time.RFC3339))
		switch {
		case op < 35: // a new hold
			j := &modelJob{req: accounting.HoldRequest{JobID: fmt.Sprintf("j%d", step),
				Project: []string{"climate", "bio"}[rng.IntN(2)], Site: "ca", Partition: []string{"cpu", "gpu"}[rng.IntN(2)],
				User: []string{"ann", "ben", "cat"}[rng.IntN(3)], Nodes: int64(rng.IntN(3) + 1), CPUsPerNode: int64(rng.IntN(16) + 1),
				TimeLimit: time.Duration(rng.IntN(6*3600)+1) * time.Second, Who: "gw"}}
			h, err := l.PlaceHold(ctx, j.req)
			a := m.allocAt(j.req.Project, now)
			if a == nil {
				if !errors.Is(err, accounting.ErrNoAllocation) {
					t.Fatalf("%s: hold without allocation: %v", where, err)
				}
				counts["hold refused: no allocation"]++
				continue
			}
			rate, _ := m.rateAt(j.req.Partition, now)
			amount, _ := accounting.HoldAmount(j.req.Nodes, j.req.CPUsPerNode, j.req.TimeLimit, rate)
			fits := amount == 0 || a.overdraft == accounting.UnlimitedOverdraft || a.available()-amount >= -int64(a.overdraft)
			if !fits {
				var ie *accounting.InsufficientError
				if !errors.As(err, &ie) || ie.Available != a.available() || ie.Requested != amount {
					t.Fatalf("%s: hold of %d with %d available: %v, want *InsufficientError", where, amount, a.available(), err)
				}
				counts["hold refused: insufficient"]++
				continue
			}
			if err != nil {
				t.Fatalf("%s: hold of %d with %d available: %v", where, amount, a.available(), err)
			}
			if h.CoreSeconds != amount || h.AllocationID != a.id || h.AvailableCoreSeconds != a.available()-amount {
				t.Fatalf("%s: hold = %+v, model: %d on %d", where, h, amount, a.id)
			}
			a.held += amount
			j.hold, j.alloc = amount, a
			m.jobs = append(m.jobs, j)
			// No overspend: holds never take an allocation below its
			// overdraft limit.
			if a.overdraft != accounting.UnlimitedOverdraft && a.available() < -int64(a.overdraft) {
				t.Fatalf("%s: allocation %d overspent by a hold: %d available", where, a.id, a.available())
			}
			counts["hold"]++
		case op < 50: // a charge alone
			j := pick()
			if j == nil {
				continue
			}
			req := accounting.ChargeRequest{JobID: j.req.JobID, CPUSeconds: randomUsage(rng, j), EndedAt: now, Who: "poller"}
			if j.charged && rng.IntN(2) == 0 {
				req = j.charge // an exact replay
			}
			c, err := l.ChargeJob(ctx, req)
			checkCharge(t, where, m, j, req, c, err, counts)
		case op < 60: // a release alone
			j := pick()
			if j == nil {
				continue
			}
			r, err := l.ReleaseJob(ctx, accounting.ReleaseRequest{JobID: j.req.JobID, Who: "gw"})
			checkRelease(t, where, j, r, err, counts)
		case op < 80: // a settlement
			j := pick()
			if j == nil {
				continue
			}
			req := accounting.ChargeRequest{JobID: j.req.JobID, CPUSeconds: randomUsage(rng, j), EndedAt: now, Who: "poller"}
			if j.charged {
				req = j.charge
			}
			s, err := l.SettleJob(ctx, req)
			if err != nil {
				t.Fatalf("%s: settle %s: %v", where, j.req.JobID, err)
			}
			checkCharge(t, where, m, j, req, s.Charge, nil, counts)
			checkRelease(t, where, j, s.Release, nil, counts)
		case op < 85: // a replayed hold
			j := pick()
			if j == nil {
				continue
			}
			h, err := l.PlaceHold(ctx, j.req)
			if err != nil || !h.Replayed || h.CoreSeconds != j.hold {
				t.Fatalf("%s: replayed hold %s = %+v, %v", where, j.req.JobID, h, err)
			}
			counts["hold replayed"]++
		case op < 92: // a refund, sometimes too large
			j := pick()
			if j == nil || !j.charged {
				continue
			}
			left := j.amount - j.refunded
			amount := int64(rng.IntN(int(max(left, 1))+2)) + 1
			_, err := l.Refund(ctx, accounting.RefundRequest{JobID: j.req.JobID, CoreSeconds: amount, Who: "admin", Why: "test"})
			if amount > left {
				if !errors.Is(err, accounting.ErrInvalid) {
					t.Fatalf("%s: refund of %d with %d left: %v", where, amount, left, err)
				}
				counts["refund refused"]++
				continue
			}
			if err != nil {
				t.Fatalf("%s: refund: %v", where, err)
			}
			j.refunded += amount
			j.chAlloc.refunded += amount
			counts["refund"]++
		case op < 97: // an adjustment
			a := m.allocs[rng.IntN(len(m.allocs))]
			amount := int64(rng.IntN(20*3600)) - 10*3600
			if amount == 0 {
				continue
			}
			if _, err := l.Adjust(ctx, accounting.AdjustRequest{AllocationID: a.id, CoreSeconds: amount, Who: "admin", Why: "test"}); err != nil {
				t.Fatalf("%s: adjust: %v", where, err)
			}
			a.adjusted += amount
			counts["adjust"]++
		default: // a grant
			a := m.allocs[rng.IntN(len(m.allocs))]
			amount := int64(rng.IntN(10*3600) + 1)
			if _, err := l.Grant(ctx, accounting.GrantRequest{AllocationID: a.id, CoreSeconds: amount, Who: "admin"}); err != nil {
				t.Fatalf("%s: grant: %v", where, err)
			}
			a.granted += amount
			counts["grant"]++
		}
		if step%25 == 0 || step == steps-1 {
			checkModel(t, where, l, m)
		}
	}
	t.Logf("seed %d: %v", seed, counts)
	if counts["hold"] == 0 || counts["charge"] == 0 || counts["release"] == 0 {
		t.Fatalf("the random walk missed whole operations: %v", counts)
	}
}

// randomUsage is CPU time from nothing to 150% of the hold's CPU-seconds.
func randomUsage(rng *rand.Rand, j *modelJob) int64 {
	full := j.req.Nodes * j.req.CPUsPerNode * int64(j.req.TimeLimit/time.Second)
	return rng.Int64N(full*3/2 + 1)
}

func checkCharge(t *testing.T, where string, m *model, j *modelJob, req accounting.ChargeRequest, c accounting.Charge, err error, counts map[string]int) {
	t.Helper()
	if j.charged {
		if req == j.charge {
			if err != nil || !c.Replayed || c.CoreSeconds != j.amount {
				t.Fatalf("%s: replayed charge of %s = %+v, %v", where, j.req.JobID, c, err)
			}
			counts["charge replayed"]++
			return
		}
		if !errors.Is(err, accounting.ErrConflict) {
			t.Fatalf("%s: second charge of %s with other figures: %v, want ErrConflict", where, j.req.JobID, err)
		}
		counts["charge conflict"]++
		return
	}
	if err != nil {
		t.Fatalf("%s: charge %s: %v", where, j.req.JobID, err)
	}
	end := req.EndedAt.UTC().Truncate(time.Second)
	a := m.allocAt(j.req.Project, end)
	if a == nil {
		a = j.alloc
	}
	rate, ok := m.rateAt(j.req.Partition, end)
	if !ok {
		t.Fatalf("%s: model has no rate", where)
	}
	amount, _ := accounting.ChargeAmount(req.CPUSeconds, rate)
	var fromHold int64
	if a == j.alloc && !j.released {
		fromHold = min(amount, j.hold)
	}
	overrun := max(0, amount-j.hold)
	if c.Replayed || c.CoreSeconds != amount || c.AllocationID != a.id || c.FromHoldCoreSeconds != fromHold ||
		c.OverrunCoreSeconds != overrun || c.Rate != rate || c.Month != accounting.MonthOf(end) {
		t.Fatalf("%s: charge of %s = %+v; model: %d on %d, %d from hold, %d overrun, rate %d",
			where, j.req.JobID, c, amount, a.id, fromHold, overrun, rate)
	}
	j.charged, j.charge, j.amount, j.fromHold, j.chAlloc = true, req, amount, fromHold, a
	a.charged += amount
	a.overrun += overrun
	j.alloc.held -= fromHold
	counts["charge"]++
}

func checkRelease(t *testing.T, where string, j *modelJob, r accounting.Release, err error, counts map[string]int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: release %s: %v", where, j.req.JobID, err)
	}
	want := j.hold - j.fromHold
	if r.CoreSeconds != want || r.AllocationID != j.alloc.id || r.Replayed != j.released {
		t.Fatalf("%s: release of %s = %+v; model: %d on %d, replayed %v", where, j.req.JobID, r, want, j.alloc.id, j.released)
	}
	if !j.released {
		j.released = true
		j.alloc.held -= want
		counts["release"]++
	} else {
		counts["release replayed"]++
	}
}

func checkModel(t *testing.T, where string, l *accounting.Ledger, m *model) {
	t.Helper()
	for _, a := range m.allocs {
		b := AssertBalanceIsSumOfEntries(t, l, a.id)
		got := [6]int64{b.GrantedCoreSeconds, b.AdjustedCoreSeconds, b.HeldCoreSeconds, b.ChargedCoreSeconds, b.RefundedCoreSeconds, b.OverrunCoreSeconds}
		want := [6]int64{a.granted, a.adjusted, a.held, a.charged, a.refunded, a.overrun}
		if got != want {
			t.Fatalf("%s: allocation %d: ledger %v, model %v (granted, adjusted, held, charged, refunded, overrun)", where, a.id, got, want)
		}
		if b.HeldCoreSeconds < 0 {
			t.Fatalf("%s: negative held", where)
		}
	}
	// Usage by month from the cache equals the model's charges less refunds.
	var total int64
	for _, a := range m.allocs {
		total += a.charged - a.refunded
	}
	u, err := l.Usage(t.Context(), accounting.UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 1 || u[0].CoreSeconds != total {
		t.Fatalf("%s: total usage %+v, model %d", where, u, total)
	}
	MustVerify(t, l)
}
