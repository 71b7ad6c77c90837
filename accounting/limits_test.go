package accounting_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

// TestAmountsStayInRange: a grant or adjustment beyond MaxCoreSeconds, or
// that would take an allocation's grants past it, is refused with ErrInvalid,
// so no cached sum can overflow; other projects' holds go on through the
// folds (an overflowing sum once stopped every write at the next fold, or
// dropped other allocations' entries from the caches).
func TestAmountsStayInRange(t *testing.T) {
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustProject(t, f.l, "bio")
	_, err := f.l.CreateAllocation(ctx, accounting.NewAllocation{Project: "bio", Site: "ca", StartsAt: year(2026), EndsAt: year(2027),
		Grant: math.MaxInt64, Who: "admin"})
	if !errors.Is(err, accounting.ErrInvalid) {
		t.Fatalf("a grant of MaxInt64: %v", err)
	}
	b := MustAllocation(t, f.l, accounting.NewAllocation{Project: "bio", Site: "ca", StartsAt: year(2026), EndsAt: year(2027),
		Grant: accounting.MaxCoreSeconds - 10, Who: "admin"})
	if _, err := f.l.Grant(ctx, accounting.GrantRequest{AllocationID: b.ID, CoreSeconds: 11, Who: "admin", Why: "x"}); !errors.Is(err, accounting.ErrInvalid) {
		t.Errorf("a grant past MaxCoreSeconds in all: %v", err)
	}
	if _, err := f.l.Adjust(ctx, accounting.AdjustRequest{AllocationID: b.ID, CoreSeconds: -11, Who: "admin", Why: "x"}); !errors.Is(err, accounting.ErrInvalid) {
		t.Errorf("an adjustment moving past MaxCoreSeconds in all: %v", err)
	}
	if _, err := f.l.Grant(ctx, accounting.GrantRequest{AllocationID: b.ID, CoreSeconds: 10, Who: "admin", Why: "x"}); err != nil {
		t.Errorf("a grant up to MaxCoreSeconds: %v", err)
	}
	for i := range 80 { // past at least one fold
		MustHold(t, f.l, hold(fmt.Sprintf("c%d", i), 1, time.Minute))
	}
	if err := f.l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	bal, err := f.l.Balance(ctx, f.alloc.ID)
	if err != nil || bal.HeldCoreSeconds != 80*60 {
		t.Errorf("climate's balance after 80 holds of 60: %+v %v", bal, err)
	}
}

// TestOverdraftOfAnySize: a large overdraft lets a hold through rather than
// wrapping around and refusing it.
func TestOverdraftOfAnySize(t *testing.T) {
	f := MustFixture(t, 100, accounting.Overdraft(math.MaxInt64))
	if _, err := f.l.PlaceHold(t.Context(), hold("j1", 1, 10*time.Second)); err != nil {
		t.Errorf("a hold of 10 with 100 granted and an overdraft of MaxInt64: %v", err)
	}
	if _, err := f.l.PlaceHold(t.Context(), hold("j2", 1, time.Hour)); err != nil {
		t.Errorf("a hold of 3600 over 90 left, overdraft MaxInt64: %v", err)
	}
}

// TestReconcileReusedJobID: a Slurm job id used again (a controller reset)
// matches the ledger job held before that Slurm job ended, not the newest.
func TestReconcileReusedJobID(t *testing.T) {
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	jan := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	mar := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	for _, j := range []struct {
		id  string
		at  time.Time
		cpu int64
	}{{"A", jan, 3600}, {"B", mar, 7200}} {
		req := hold(j.id, 4, 2*time.Hour)
		req.Tag = "sta-" + j.id
		req.At = j.at
		MustHold(t, f.l, req)
		if err := f.l.RecordSiteJob(ctx, accounting.SiteJob{JobID: j.id, Cluster: "narval", SiteJobID: "100"}); err != nil {
			t.Fatal(err)
		}
		MustSettle(t, f.l, j.id, j.cpu, j.at.Add(time.Hour))
	}
	// No comment: a site without AccountingStoreFlags=job_comment.
	rows := []accounting.SacctRow{{Cluster: "narval", JobID: "100", Account: "def-climate", User: "alice",
		Partition: "cpu", CPUTimeRAW: 3600, End: jan.Add(time.Hour)}}
	r, err := f.l.Reconcile(ctx, accounting.ReconcileRequest{Site: "ca", From: year(2026), To: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() || r.Matched != 1 {
		t.Errorf("January's reconciliation: matched %d, mismatches %+v, missing %+v", r.Matched, r.Mismatches, r.MissingInSacct)
	}
}

// TestBackupCancelledLeavesNothing: a backup cancelled half-way leaves no
// file at its destination, and the next one there succeeds.
func TestBackupCancelledLeavesNothing(t *testing.T) {
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.UnlimitedOverdraft)
	ctx := t.Context()
	db := f.l.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE big (x BLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 100000)
		INSERT INTO big SELECT randomblob(1000) FROM c`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dest := filepath.Join(dir, "b.db")
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := f.l.Backup(cctx, dest); err == nil {
		t.Log("the backup finished before its context was cancelled: only the retry is checked")
		os.Remove(dest)
	} else if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
		t.Errorf("a cancelled backup (%v) left %v", err, left)
	}
	if err := f.l.Backup(ctx, dest); err != nil {
		t.Fatalf("backup after a cancelled one: %v", err)
	}
	if err := f.l.Backup(ctx, dest); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("a backup over an existing file: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
		t.Errorf("files after the backups: %v", left)
	}
}

// cancelAfter is a context whose Done channel closes at its n-th call.
type cancelAfter struct {
	context.Context
	n, calls atomic.Int64
	ch       chan struct{}
	closed   atomic.Bool
}

func (c *cancelAfter) Done() <-chan struct{} {
	if k := c.calls.Add(1); c.n.Load() > 0 && k >= c.n.Load() && c.closed.CompareAndSwap(false, true) {
		close(c.ch)
	}
	return c.ch
}

func (c *cancelAfter) Err() error {
	if c.closed.Load() {
		return context.Canceled
	}
	return nil
}

// TestTxErrorLeavesCallersTxAsItWas: whenever the caller's context is
// cancelled during PlaceHoldTx (at each of its last steps in turn), either
// the hold is placed and no error returned, or an error is returned and the
// caller's transaction holds nothing of it.
func TestTxErrorLeavesCallersTxAsItWas(t *testing.T) {
	calls := func() int64 {
		f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
		tx, _ := f.l.DB().BeginTx(t.Context(), nil)
		defer tx.Rollback()
		c := &cancelAfter{Context: context.Background(), ch: make(chan struct{})}
		if _, err := f.l.PlaceHoldTx(c, tx, hold("x", 1, time.Hour)); err != nil {
			t.Fatal(err)
		}
		return c.calls.Load()
	}()
	for n := calls; n >= calls-6 && n > 0; n-- {
		f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
		tx, err := f.l.DB().BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &cancelAfter{Context: context.Background(), ch: make(chan struct{})}
		c.n.Store(n)
		_, err = f.l.PlaceHoldTx(c, tx, hold("x", 1, time.Hour))
		var holds int
		if qerr := tx.QueryRow(`SELECT count(*) FROM acct_entries WHERE kind = 'hold'`).Scan(&holds); qerr != nil {
			t.Fatal(qerr)
		}
		if (err != nil) == (holds > 0) {
			t.Errorf("cancelled at call %d of %d: error %v, holds in the caller's transaction %d", n, calls, err, holds)
		}
		tx.Rollback()
	}
}
