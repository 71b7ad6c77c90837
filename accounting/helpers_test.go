package accounting_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

// t0 is the tests' "now": 2026-03-10 12:00 UTC.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// clock is a settable clock injected through Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// MustLedger opens a ledger in a fresh file, with a clock set to t0.
func MustLedger(tb testing.TB) (*accounting.Ledger, *clock) {
	tb.Helper()
	clk := &clock{t: t0}
	l, err := accounting.Open(tb.Context(), filepath.Join(tb.TempDir(), "ledger.db"), accounting.Options{Now: clk.Now})
	if err != nil {
		tb.Fatalf("open ledger: %v", err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("close ledger: %v", err)
		}
	})
	return l, clk
}

// fixture is a ledger with project "climate" holding one allocation at site
// "ca" for 2026 with grant core-seconds and a rate of 1.0 on partition "cpu"
// and 2.5 on "gpu" since 2025.
type fixture struct {
	l     *accounting.Ledger
	clk   *clock
	alloc accounting.Allocation
}

func MustFixture(tb testing.TB, grant int64, overdraft accounting.Overdraft) fixture {
	tb.Helper()
	l, clk := MustLedger(tb)
	MustProject(tb, l, "climate")
	a := MustAllocation(tb, l, accounting.NewAllocation{Project: "climate", Site: "ca", SlurmAccount: "def-climate",
		StartsAt: year(2026), EndsAt: year(2027), Overdraft: overdraft, Grant: grant, Who: "admin", Why: "2026 call"})
	MustRate(tb, l, "ca", "cpu", 1000, year(2025))
	MustRate(tb, l, "ca", "gpu", 2500, year(2025))
	return fixture{l: l, clk: clk, alloc: a}
}

func year(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }

func MustProject(tb testing.TB, l *accounting.Ledger, name string) {
	tb.Helper()
	if _, err := l.CreateProject(tb.Context(), accounting.NewProject{Name: name, Who: "admin"}); err != nil {
		tb.Fatalf("create project %s: %v", name, err)
	}
}

func MustAllocation(tb testing.TB, l *accounting.Ledger, a accounting.NewAllocation) accounting.Allocation {
	tb.Helper()
	out, err := l.CreateAllocation(tb.Context(), a)
	if err != nil {
		tb.Fatalf("create allocation: %v", err)
	}
	return out
}

func MustRate(tb testing.TB, l *accounting.Ledger, site, partition string, rate int64, from time.Time) {
	tb.Helper()
	if _, err := l.SetRate(tb.Context(), accounting.NewRate{Site: site, Partition: partition, EffectiveFrom: from,
		Thousandths: rate, Who: "admin", Why: "tariff"}); err != nil {
		tb.Fatalf("set rate: %v", err)
	}
}

// hold is a HoldRequest for n CPUs (one node) for d on partition cpu.
func hold(jobID string, cpus int64, d time.Duration) accounting.HoldRequest {
	return accounting.HoldRequest{JobID: jobID, Project: "climate", Site: "ca", Partition: "cpu", User: "alice",
		Nodes: 1, CPUsPerNode: cpus, TimeLimit: d, Who: "gateway"}
}

func MustHold(tb testing.TB, l *accounting.Ledger, req accounting.HoldRequest) accounting.Hold {
	tb.Helper()
	h, err := l.PlaceHold(tb.Context(), req)
	if err != nil {
		tb.Fatalf("place hold %s: %v", req.JobID, err)
	}
	return h
}

func MustSettle(tb testing.TB, l *accounting.Ledger, jobID string, cpuSeconds int64, ended time.Time) accounting.Settlement {
	tb.Helper()
	s, err := l.SettleJob(tb.Context(), accounting.ChargeRequest{JobID: jobID, CPUSeconds: cpuSeconds, EndedAt: ended, Who: "poller"})
	if err != nil {
		tb.Fatalf("settle %s: %v", jobID, err)
	}
	return s
}

func MustBalance(tb testing.TB, l *accounting.Ledger, allocID int64) accounting.Balance {
	tb.Helper()
	b, err := l.Balance(tb.Context(), allocID)
	if err != nil {
		tb.Fatalf("balance %d: %v", allocID, err)
	}
	return b
}

func MustVerify(tb testing.TB, l *accounting.Ledger) {
	tb.Helper()
	if err := l.Verify(tb.Context()); err != nil {
		tb.Fatal(err)
	}
}

// sums is a balance computed in Go from the entries alone, independently of
// the SQL caches.
type sums struct {
	Granted, Adjusted, Held, Charged, Refunded, Overrun int64
}

func (s sums) Remaining() int64 { return s.Granted + s.Adjusted + s.Refunded - s.Charged - s.Held }

func SumEntries(tb testing.TB, l *accounting.Ledger, allocID int64) sums {
	tb.Helper()
	es, err := l.Entries(tb.Context(), accounting.EntryQuery{AllocationID: allocID})
	if err != nil {
		tb.Fatalf("entries: %v", err)
	}
	var s sums
	for _, e := range es {
		switch e.Kind {
		case accounting.KindGrant:
			s.Granted += e.CoreSeconds
		case accounting.KindAdjust:
			s.Adjusted += e.CoreSeconds
		case accounting.KindHold:
			s.Held += e.CoreSeconds
		case accounting.KindRelease:
			s.Held -= e.CoreSeconds
		case accounting.KindCharge:
			s.Charged += e.CoreSeconds
			s.Held -= e.FromHoldCoreSeconds
			s.Overrun += e.OverrunCoreSeconds
		case accounting.KindRefund:
			s.Refunded += e.CoreSeconds
		default:
			tb.Fatalf("entry %d has unknown kind %q", e.ID, e.Kind)
		}
	}
	return s
}

// AssertBalanceIsSumOfEntries checks that the balance the ledger reports
// equals the sums of the allocation's entries computed here.
func AssertBalanceIsSumOfEntries(tb testing.TB, l *accounting.Ledger, allocID int64) accounting.Balance {
	tb.Helper()
	b := MustBalance(tb, l, allocID)
	s := SumEntries(tb, l, allocID)
	got := sums{b.GrantedCoreSeconds, b.AdjustedCoreSeconds, b.HeldCoreSeconds, b.ChargedCoreSeconds,
		b.RefundedCoreSeconds, b.OverrunCoreSeconds}
	if got != s {
		tb.Fatalf("allocation %d: balance %+v, sum of entries %+v", allocID, got, s)
	}
	if b.RemainingCoreSeconds != s.Remaining() {
		tb.Fatalf("allocation %d: remaining %d, sum of entries gives %d", allocID, b.RemainingCoreSeconds, s.Remaining())
	}
	return b
}

// MustGrantOnTx grants one core-second to allocation id in a transaction of
// the caller's (GrantTx), committed.
func MustGrantOnTx(tb testing.TB, l *accounting.Ledger, id int64) accounting.Entry {
	tb.Helper()
	tx, err := l.DB().BeginTx(tb.Context(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := l.GrantTx(tb.Context(), tx, accounting.GrantRequest{AllocationID: id, CoreSeconds: 1, Who: "admin"})
	if err != nil {
		tx.Rollback()
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return e
}
