package accounting_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

func TestOpenHoldsAndRecheck(t *testing.T) {
	f := MustFixture(t, 20*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	// Three jobs accepted at t0, t0+1h, t0+2h; the second ends at once.
	for i, id := range []string{"old", "done", "young"} {
		f.clk.Set(t0.Add(time.Duration(i) * time.Hour))
		MustHold(t, f.l, hold(id, 4, time.Hour))
	}
	MustSettle(t, f.l, "done", 3600, t0.Add(90*time.Minute))
	f.clk.Set(t0.Add(27 * time.Hour))

	// Pending longer than 24 hours: "old" (27 h) and "young" (25 h), oldest
	// first; "done" is released.
	hs, err := f.l.OpenHolds(ctx, f.clk.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].JobID != "old" || hs[1].JobID != "young" || hs[0].AgeSeconds != 27*3600 ||
		hs[0].HeldCoreSeconds != 4*accounting.CoreHour || hs[0].Charged {
		t.Fatalf("open holds = %+v", hs)
	}
	// Longer than 26 hours: only "old".
	if hs, _ := f.l.OpenHolds(ctx, f.clk.Now().Add(-26*time.Hour)); len(hs) != 1 || hs[0].JobID != "old" {
		t.Fatalf("open holds > 26h = %+v", hs)
	}

	checks, err := f.l.RecheckHolds(ctx, f.clk.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		// 20 - 4 - 4 - 1 = 11 left, plus the job's own 4.
		if !c.OK || c.Problem != "" || c.CoreSeconds != 4*accounting.CoreHour || c.AvailableCoreSeconds != 15*accounting.CoreHour {
			t.Errorf("check %s = %+v", c.Hold.JobID, c)
		}
	}

	// An administrator takes 12 core-hours away: -1 left, so each pending
	// hold (4) no longer fits in what is left besides itself (3).
	if _, err := f.l.Adjust(ctx, accounting.AdjustRequest{AllocationID: f.alloc.ID, CoreSeconds: -12 * accounting.CoreHour, Who: "admin", Why: "clawback"}); err != nil {
		t.Fatal(err)
	}
	c, err := f.l.RecheckHold(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	var ie *accounting.InsufficientError
	if c.OK || c.Problem != accounting.ProblemInsufficient || !errors.As(c.Err, &ie) || ie.Available != 3*accounting.CoreHour || c.Detail == "" {
		t.Errorf("after clawback: %+v", c)
	}

	// A rate increase makes the recomputed hold larger.
	if _, err := f.l.Adjust(ctx, accounting.AdjustRequest{AllocationID: f.alloc.ID, CoreSeconds: 100 * accounting.CoreHour, Who: "admin", Why: "restore"}); err != nil {
		t.Fatal(err)
	}
	MustRate(t, f.l, "ca", "cpu", 3000, f.clk.Now().Add(-time.Minute))
	if c, err := f.l.RecheckHold(ctx, "old"); err != nil || !c.OK || c.Rate != 3000 || c.CoreSeconds != 12*accounting.CoreHour {
		t.Errorf("after rate change: %+v, %v", c, err)
	}

	// The allocation ends while the jobs wait.
	f.clk.Set(year(2027).Add(time.Hour))
	checks, err = f.l.RecheckHolds(ctx, f.clk.Now())
	if err != nil || len(checks) != 2 {
		t.Fatalf("checks = %+v, %v", checks, err)
	}
	for _, c := range checks {
		if c.OK || c.Problem != accounting.ProblemNoAllocation || !errors.Is(c.Err, accounting.ErrNoAllocation) {
			t.Errorf("after the period: %+v", c)
		}
	}
	if _, err := f.l.RecheckHold(ctx, "done"); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("recheck of a released hold: %v", err)
	}
	// Re-checking writes nothing.
	AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	MustVerify(t, f.l)
}

// A job charged but not released still holds the rest of its hold, and is
// listed as open (and charged) until released.
func TestChargedButUnreleasedHoldStaysOpen(t *testing.T) {
	f := MustFixture(t, 20*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j", 4, time.Hour))
	if _, err := f.l.ChargeJob(ctx, accounting.ChargeRequest{JobID: "j", CPUSeconds: 3600, EndedAt: t0.Add(time.Hour), Who: "p"}); err != nil {
		t.Fatal(err)
	}
	hs, err := f.l.OpenHolds(ctx, t0.Add(time.Second))
	if err != nil || len(hs) != 1 || !hs[0].Charged || hs[0].HeldCoreSeconds != 3*accounting.CoreHour {
		t.Fatalf("open holds = %+v, %v", hs, err)
	}
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	if b.HeldCoreSeconds != 3*accounting.CoreHour {
		t.Errorf("held = %d", b.HeldCoreSeconds)
	}
}
