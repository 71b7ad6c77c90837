package accounting_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

// Whatever reads an allocation's entries (the entries listing, the burn
// rate, reconciliation's jobs held in a period, the bound on what grants and
// adjustments move) answers the same whether the entries were folded into
// the index of entries by allocation or are still after the caches' mark.
func TestAllocationEntriesFoldedOrNot(t *testing.T) {
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustProject(t, f.l, "bio")
	bio := MustAllocation(t, f.l, accounting.NewAllocation{Project: "bio", Site: "de", SlurmAccount: "def-bio",
		StartsAt: year(2026), EndsAt: year(2027), Grant: 500 * accounting.CoreHour, Who: "admin"})
	MustRate(t, f.l, "de", "cpu", 2000, year(2025))
	book := func(prefix string, n int) {
		t.Helper()
		for i := range n {
			id := fmt.Sprintf("%s%02d", prefix, i)
			req := hold(id, 2, time.Hour)
			if i%2 == 1 {
				req.Project, req.Site = "bio", "de"
			}
			MustHold(t, f.l, req)
			if i%3 != 0 {
				if err := f.l.RecordSiteJob(ctx, accounting.SiteJob{JobID: id, Cluster: "c-" + req.Site, SiteJobID: fmt.Sprint(100 + i)}); err != nil {
					t.Fatal(err)
				}
			}
			if i%4 != 3 {
				MustSettle(t, f.l, id, int64(600+i), f.clk.Now().Add(30*time.Minute))
			}
			f.clk.Advance(time.Hour)
		}
	}
	book("a", 40) // about 110 entries: the write of entry 64 folds
	if _, err := f.l.Adjust(ctx, accounting.AdjustRequest{AllocationID: f.alloc.ID, CoreSeconds: -3600, Who: "admin", Why: "correction"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Grant(ctx, accounting.GrantRequest{AllocationID: bio.ID, CoreSeconds: 7200, Who: "admin", Why: "top-up"}); err != nil {
		t.Fatal(err)
	}
	book("b", 24)

	type state struct {
		Climate, BioPage []int64
		Burn             map[int64]int64
		Missing          map[string][]string
	}
	snapshot := func() state {
		t.Helper()
		s := state{Burn: map[int64]int64{}, Missing: map[string][]string{}}
		es, err := f.l.Entries(ctx, accounting.EntryQuery{AllocationID: f.alloc.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			s.Climate = append(s.Climate, e.ID)
		}
		es, err = f.l.Entries(ctx, accounting.EntryQuery{AllocationID: bio.ID, AfterID: 40, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			s.BioPage = append(s.BioPage, e.ID)
		}
		bs, err := f.l.Balances(ctx, accounting.BalanceQuery{BurnWindow: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			s.Burn[b.AllocationID] = b.BurnCoreSecondsPerDay
		}
		for _, site := range []string{"ca", "de"} {
			r, err := f.l.Reconcile(ctx, accounting.ReconcileRequest{Site: site, From: t0.Add(10 * time.Hour), To: t0.Add(100 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range r.MissingInSacct {
				s.Missing[site] = append(s.Missing[site], m.JobID)
			}
		}
		// What grants and adjustments moved: climate 1000 h + 1 h, so a
		// grant of the rest but one core-second more is refused.
		over := accounting.MaxCoreSeconds - 1001*accounting.CoreHour + 1
		if _, err := f.l.Grant(ctx, accounting.GrantRequest{AllocationID: f.alloc.ID, CoreSeconds: over, Who: "admin", Why: "x"}); !errors.Is(err, accounting.ErrInvalid) ||
			!strings.Contains(err.Error(), "would move over") {
			t.Fatalf("grant over the bound = %v, want ErrInvalid", err)
		}
		return s
	}

	var mark, last int64
	if err := f.l.DB().QueryRowContext(ctx, `SELECT entry_id, (SELECT max(entry_id) FROM acct_entries) FROM acct_cache_mark`).Scan(&mark, &last); err != nil {
		t.Fatal(err)
	}
	if mark == 0 || mark >= last {
		t.Fatalf("mark %d, last entry %d: want some entries folded and some after the mark", mark, last)
	}
	before := snapshot()
	if err := f.l.FoldCaches(ctx); err != nil {
		t.Fatal(err)
	}
	after := snapshot()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("with entries after the mark:\n%+v\nall folded:\n%+v", before, after)
	}
	var n int
	if err := f.l.DB().QueryRowContext(ctx, `SELECT count(*) FROM acct_entries WHERE allocation_id = ?`, f.alloc.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if len(after.Climate) != n || len(after.BioPage) != 7 || after.BioPage[0] <= 40 {
		t.Errorf("climate listed %d of its %d entries; bio's page after 40: %v", len(after.Climate), n, after.BioPage)
	}
	// Jobs held from hour 10 on that reached Slurm or were charged:
	// a10..a39 then b00..b23, by site.
	if len(after.Missing["ca"]) == 0 || len(after.Missing["de"]) == 0 || after.Burn[f.alloc.ID] <= 0 || after.Burn[bio.ID] <= 0 {
		t.Errorf("nothing to compare: %+v", after)
	}
	for _, id := range append(after.Missing["ca"], after.Missing["de"]...) {
		if id < "a10" || id > "b23" {
			t.Errorf("job %s is outside the period reconciled", id)
		}
	}
	MustVerify(t, f.l)
}

// Verify notices an entry missing from, or added to, the index of entries by
// allocation.
func TestVerifyChecksTheAllocationIndex(t *testing.T) {
	for _, tamper := range []string{
		`DELETE FROM acct_allocation_entries WHERE entry_id = (SELECT max(entry_id) FROM acct_allocation_entries)`,
		`INSERT INTO acct_allocation_entries VALUES (1, 'charge', 0, 1)`,
		`UPDATE acct_allocation_entries SET at = at + 1 WHERE entry_id = (SELECT max(entry_id) FROM acct_allocation_entries)`,
		`UPDATE acct_allocation_entries SET kind = 'charge' WHERE kind = 'hold'`,
		`UPDATE acct_allocation_entries SET entry_id = entry_id + 100 WHERE kind = 'hold'`,
		`UPDATE acct_allocation_entries SET allocation_id = 9 WHERE kind = 'hold'`,
		// The times of the two holds swapped: same count, same sums.
		`UPDATE acct_allocation_entries SET at = (SELECT sum(at) FROM acct_allocation_entries WHERE kind = 'hold') - at WHERE kind = 'hold'`,
	} {
		f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
		MustHold(t, f.l, hold("j1", 1, time.Hour))
		f.clk.Set(t0.Add(time.Hour))
		MustHold(t, f.l, hold("j2", 1, time.Hour))
		if err := f.l.FoldCaches(t.Context()); err != nil {
			t.Fatal(err)
		}
		MustVerify(t, f.l)
		if _, err := f.l.DB().ExecContext(t.Context(), tamper); err != nil {
			t.Fatal(err)
		}
		if err := f.l.Verify(t.Context()); !errors.Is(err, accounting.ErrInconsistent) || !strings.Contains(err.Error(), "index of entries by allocation") {
			t.Errorf("%s: verify = %v", tamper, err)
		}
	}
}

// A fold of a tail with more releases than the page the fold reads them in
// (entries booked with plain SQL, as a bulk import would) closes every hold
// the tail releases, including holds folded before.
func TestFoldOfALongTail(t *testing.T) {
	f := MustFixture(t, 100000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	at := t0.Unix()
	book := func(from, to int, kinds ...string) {
		t.Helper()
		tx, err := f.l.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		for i := from; i < to; i++ {
			job := fmt.Sprintf("bulk%06d", i)
			for _, kind := range kinds {
				var err error
				if kind == "job" {
					_, err = tx.ExecContext(ctx, `INSERT INTO acct_jobs (job_id, tag, allocation_id, project, site, slurm_partition,
						user_name, nodes, cpus_per_node, time_limit, rate, hold_amount, held_at)
						VALUES (?, ?, ?, 'climate', 'ca', 'cpu', 'alice', 1, 1, 60, 1000, 60, ?)`, job, job, f.alloc.ID, at)
				} else {
					_, err = tx.ExecContext(ctx, `INSERT INTO acct_entries (kind, allocation_id, job_id, amount, rate, month, at, recorded_at, who)
						VALUES (?, ?, ?, 60, 1000, 202603, ?, ?, 'import')`, kind, f.alloc.ID, job, at, at)
				}
				if err != nil {
					t.Fatalf("%s %s: %v", kind, job, err)
				}
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	openHolds := func() int {
		t.Helper()
		hs, err := f.l.OpenHolds(ctx, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return len(hs)
	}
	book(0, 6000, "job", "hold")
	if err := f.l.FoldCaches(ctx); err != nil {
		t.Fatal(err)
	}
	if n := openHolds(); n != 6000 {
		t.Fatalf("%d open holds after the first import, want 6000", n)
	}
	// A tail of 28010 entries, 17000 of them releases: those of the holds
	// folded above run across the end of the first page of releases.
	book(6000, 17000, "job", "hold", "release")
	book(0, 6000, "release")
	book(17000, 17010, "job", "hold")
	if err := f.l.FoldCaches(ctx); err != nil {
		t.Fatal(err)
	}
	var cached int
	if err := f.l.DB().QueryRowContext(ctx, `SELECT count(*) FROM acct_open_holds`).Scan(&cached); err != nil {
		t.Fatal(err)
	}
	if n := openHolds(); n != 10 || cached != 10 {
		t.Fatalf("%d open holds (%d in the cache) after the releases, want 10", n, cached)
	}
	MustVerify(t, f.l)
}

// Entries booked with plain SQL may name their ids: a fold after a release
// far beyond the last id (here 2^40, then one near the largest id) closes
// its hold without walking the gap, and Verify's sums do not overflow.
func TestFoldAfterAGapInEntryIDs(t *testing.T) {
	for _, id := range []int64{1 << 40, math.MaxInt64 - 1} {
		f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
		ctx := t.Context()
		h := MustHold(t, f.l, hold("j1", 1, time.Hour))
		if err := f.l.FoldCaches(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := f.l.DB().ExecContext(ctx, `INSERT INTO acct_entries (entry_id, kind, allocation_id, job_id, amount, month, at, recorded_at, who)
			VALUES (?, 'release', ?, 'j1', ?, 202603, ?, ?, 'import')`, id, f.alloc.ID, h.CoreSeconds, t0.Unix(), t0.Unix()); err != nil {
			t.Fatal(err)
		}
		if err := f.l.FoldCaches(ctx); err != nil {
			t.Fatalf("fold after entry %d: %v", id, err)
		}
		hs, err := f.l.OpenHolds(ctx, t0.Add(time.Hour))
		if err != nil || len(hs) != 0 {
			t.Fatalf("open holds after the release %d: %v, %v", id, hs, err)
		}
		MustVerify(t, f.l)
	}
	// A gap in the tail: a short tail in entries, however long in ids. The
	// writes on a caller's transaction fold it all, not a slice of ids.
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	if _, err := f.l.DB().ExecContext(ctx, `INSERT INTO acct_entries (entry_id, kind, allocation_id, amount, month, at, recorded_at, who)
		VALUES (?, 'grant', ?, 1, 202603, ?, ?, 'import')`, int64(1)<<40, f.alloc.ID, t0.Unix(), t0.Unix()); err != nil {
		t.Fatal(err)
	}
	for {
		if e := MustGrantOnTx(t, f.l, f.alloc.ID); e.ID%64 == 0 {
			var mark int64
			if err := f.l.DB().QueryRowContext(ctx, `SELECT entry_id FROM acct_cache_mark`).Scan(&mark); err != nil {
				t.Fatal(err)
			}
			if mark != e.ID {
				t.Errorf("after a gap in the ids, a fold on the caller's transaction moved the mark to %d, want %d", mark, e.ID)
			}
			break
		}
	}
	MustVerify(t, f.l)
}

// A long tail of entries booked with plain SQL (a bulk import) is folded at
// once by a write that watches its context, and a slice of 16384 entries at
// a time by one that does not (a write on a caller's transaction, see
// callerTx); reads add what is left of the tail meanwhile.
func TestLongTailIsFoldedInSlicesByShortWrites(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	db := f.l.DB()
	mark := func() int64 {
		t.Helper()
		var m int64
		if err := db.QueryRowContext(ctx, `SELECT entry_id FROM acct_cache_mark`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	imported := int64(0)
	importUpTo := func(to int64) {
		t.Helper()
		var last int64
		if err := db.QueryRowContext(ctx, `SELECT max(entry_id) FROM acct_entries`).Scan(&last); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT ?1 + 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?2)
			INSERT INTO acct_entries (entry_id, kind, allocation_id, amount, month, at, recorded_at, who)
			SELECT i, 'grant', ?3, 1, 202603, ?4, ?4, 'import' FROM c`, last, to, f.alloc.ID, t0.Unix()); err != nil {
			t.Fatal(err)
		}
		imported += to - last
	}
	granted := func() int64 {
		t.Helper()
		return AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID).GrantedCoreSeconds
	}
	before, m0 := granted(), mark()
	// The next entry's id is a multiple of foldEvery (64): its write folds.
	importUpTo(m0 + 20*1024 + 63 - (m0+20*1024)%64)
	e := MustGrantOnTx(t, f.l, f.alloc.ID)
	if e.ID%64 != 0 || mark() != m0+16384 {
		t.Fatalf("grant %d on the caller's transaction: mark %d, want %d (a slice folded)", e.ID, mark(), m0+16384)
	}
	if got, want := granted(), before+imported+1; got != want {
		t.Errorf("granted %d with the tail folded in part, want %d", got, want)
	}
	importUpTo(e.ID + 20*1024 + 63)
	e, err := f.l.Grant(ctx, accounting.GrantRequest{AllocationID: f.alloc.ID, CoreSeconds: 1, Who: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if e.ID%64 != 0 || mark() != e.ID {
		t.Fatalf("grant %d of the ledger's own: mark %d, want the tail folded", e.ID, mark())
	}
	if got, want := granted(), before+imported+2; got != want {
		t.Errorf("granted %d with the tail folded, want %d", got, want)
	}
	MustVerify(t, f.l)
}
