package accounting

import (
	"path/filepath"
	"testing"
	"time"
)

// The ledger's own writes run on its write connection: a short one at
// temp_store=MEMORY (statement journals in memory), a long one at FILE, and
// a short write that finds a long tail when it begins (a bulk import by
// another connection) is run again as a long one, before fn has run: fn runs
// once, under FILE, watching its context, and the whole tail is folded.
func TestWriteRunsShortOrLong(t *testing.T) {
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
	type run struct {
		tempStore int
		short     bool
	}
	watch := func(runs *[]run) func(tx querier) error {
		return func(tx querier) error {
			var r run
			if err := tx.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&r.tempStore); err != nil {
				return err
			}
			r.short = tx.(ownTx).short
			*runs = append(*runs, r)
			return nil
		}
	}
	const memory, file = 2, 1
	for _, c := range []struct {
		name string
		long bool
		want run
	}{
		{"short", false, run{memory, true}},
		{"long", true, run{file, false}},
		{"short after a long one", false, run{memory, true}},
	} {
		var runs []run
		if err := l.writeTx(ctx, c.long, watch(&runs)); err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0] != c.want {
			t.Errorf("%s write: fn ran as %+v, want once as %+v", c.name, runs, c.want)
		}
	}

	var mark, last int64
	if err := l.db.QueryRowContext(ctx, `SELECT (SELECT entry_id FROM acct_cache_mark), (SELECT max(entry_id) FROM acct_entries)`).Scan(&mark, &last); err != nil {
		t.Fatal(err)
	}
	// Two slices and more, so that the grant's entry id is a multiple of
	// foldEvery and its write folds.
	to := last + 2*shortTail + foldEvery - 1 - (last+2*shortTail)%foldEvery
	if _, err := l.db.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT ?1 + 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?2)
		INSERT INTO acct_entries (entry_id, kind, allocation_id, amount, month, at, recorded_at, who)
		SELECT i, 'grant', ?3, 1, 202603, ?4, ?4, 'import' FROM c`, last, to, a.ID, t0.Unix()); err != nil {
		t.Fatal(err)
	}
	var runs []run
	if err := l.write(ctx, watch(&runs)); err != nil {
		t.Fatal(err)
	}
	if want := (run{file, false}); len(runs) != 1 || runs[0] != want {
		t.Errorf("short write after an import of %d entries: fn ran as %+v, want once as %+v", to-last, runs, want)
	}
	e, err := l.Grant(ctx, GrantRequest{AllocationID: a.ID, CoreSeconds: 1, Who: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.db.QueryRowContext(ctx, `SELECT entry_id FROM acct_cache_mark`).Scan(&mark); err != nil {
		t.Fatal(err)
	}
	if e.ID%foldEvery != 0 || mark != e.ID {
		t.Fatalf("grant %d after an import of %d entries: mark %d, want the whole tail folded", e.ID, to-last, mark)
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
