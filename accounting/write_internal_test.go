package accounting

import (
	"path/filepath"
	"testing"
	"time"
)

// A short write whose tail grows between its prelude and its BEGIN (a bulk
// import by another process) folds one slice of it, not all of it: the
// write does not watch its context and keeps its journals in memory.
func TestShortWriteRacingABulkImportFoldsASlice(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	l, err := Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.CreateProject(ctx, NewProject{Name: "p", Who: "admin"}); err != nil {
		t.Fatal(err)
	}
	a, err := l.CreateAllocation(ctx, NewAllocation{Project: "p", Site: "ca", StartsAt: t0.AddDate(0, -1, 0), EndsAt: t0.AddDate(1, 0, 0),
		Grant: 3600, Who: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	var m0, last int64
	if err := l.db.QueryRowContext(ctx, `SELECT (SELECT entry_id FROM acct_cache_mark), (SELECT max(entry_id) FROM acct_entries)`).Scan(&m0, &last); err != nil {
		t.Fatal(err)
	}
	// Two slices and more, so that the grant's entry id is a multiple of
	// foldEvery and its write folds.
	to := last + 2*shortTail + foldEvery - 1 - (last+2*shortTail)%foldEvery
	testHookAfterPrelude = func() {
		testHookAfterPrelude = nil
		if _, err := l.db.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT ?1 + 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?2)
			INSERT INTO acct_entries (entry_id, kind, allocation_id, amount, month, at, recorded_at, who)
			SELECT i, 'grant', ?3, 1, 202603, ?4, ?4, 'import' FROM c`, last, to, a.ID, t0.Unix()); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookAfterPrelude = nil }()
	e, err := l.Grant(ctx, GrantRequest{AllocationID: a.ID, CoreSeconds: 1, Who: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	var mark int64
	if err := l.db.QueryRowContext(ctx, `SELECT entry_id FROM acct_cache_mark`).Scan(&mark); err != nil {
		t.Fatal(err)
	}
	if e.ID%foldEvery != 0 || mark != m0+shortTail {
		t.Fatalf("grant %d after an import of %d entries during its write: mark %d, want %d (one slice)", e.ID, to-last, mark, m0+shortTail)
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
