package accounting_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

// Many goroutines race for the last core-hours through three paths at once:
// the ledger's own writes, a second ledger on its own connection pool to the
// same file (as another process would), and holds placed on callers' own
// transactions. No allocation is ever overspent.
func TestConcurrentHoldsNeverOverspend(t *testing.T) {
	const grant = 100 * accounting.CoreHour
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ledger.db")
	clk := &clock{t: t0}
	l1, err := accounting.Open(ctx, path, accounting.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	MustProject(t, l1, "climate")
	alloc := MustAllocation(t, l1, accounting.NewAllocation{Project: "climate", Site: "ca", StartsAt: year(2026), EndsAt: year(2027),
		Grant: grant, Who: "admin"})
	MustRate(t, l1, "ca", "cpu", 1000, year(2025))
	db2, err := accounting.OpenDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	l2, err := accounting.New(ctx, db2, accounting.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()

	const racers = 150
	rng := rand.New(rand.NewPCG(7, 7))
	sizes := make([]int64, racers) // core-hours, 1..5: ~450 asked, 100 granted
	for i := range sizes {
		sizes[i] = int64(rng.IntN(5) + 1)
	}
	type result struct {
		size int64
		err  error
	}
	results := make([]result, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req := hold(fmt.Sprintf("race-%d", i), sizes[i], time.Hour)
			var err error
			switch i % 3 {
			case 0:
				_, err = l1.PlaceHold(ctx, req)
			case 1:
				_, err = l2.PlaceHold(ctx, req)
			case 2: // the gateway's way: its own transaction, hold inside
				tx, berr := db2.BeginTx(ctx, nil)
				if berr != nil {
					err = berr
					break
				}
				if _, err = l2.PlaceHoldTx(ctx, tx, req); err != nil {
					_ = tx.Rollback()
					break
				}
				err = tx.Commit()
			}
			results[i] = result{sizes[i] * accounting.CoreHour, err}
		}()
	}
	close(start)
	wg.Wait()

	var placed, refused int64
	var nPlaced int
	for i, r := range results {
		switch {
		case r.err == nil:
			placed += r.size
			nPlaced++
		case errors.Is(r.err, accounting.ErrInsufficient):
			refused++
		default:
			t.Fatalf("racer %d: unexpected error %v", i, r.err)
		}
	}
	b := AssertBalanceIsSumOfEntries(t, l1, alloc.ID)
	if placed > grant || b.HeldCoreSeconds != placed || b.RemainingCoreSeconds != grant-placed || b.RemainingCoreSeconds < 0 {
		t.Fatalf("placed %d core-seconds of %d; balance %+v", placed, grant, b)
	}
	// Every refused hold was larger than what is left even now (holds only
	// ever reduced it): no hold was refused that would have fitted.
	for i, r := range results {
		if r.err != nil && r.size <= b.RemainingCoreSeconds {
			t.Errorf("racer %d: hold of %d refused though %d remain", i, r.size, b.RemainingCoreSeconds)
		}
	}
	if nPlaced == 0 || refused == 0 {
		t.Fatalf("the race was not a race: %d placed, %d refused", nPlaced, refused)
	}
	t.Logf("%d holds placed (%d of %d core-seconds), %d refused", nPlaced, placed, grant, refused)
	MustVerify(t, l1)
}

// Many pollers settle the same job at once: one charge, one release.
func TestConcurrentSettlementsOfOneJob(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	db2, err := accounting.OpenDB(ctx, dbPath(t, f.l))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	l2, err := accounting.New(ctx, db2, accounting.Options{Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	MustHold(t, f.l, hold("j", 8, time.Hour))
	req := accounting.ChargeRequest{JobID: "j", CPUSeconds: 7000, EndedAt: t0.Add(time.Hour), Who: "poller"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := []*accounting.Ledger{f.l, l2}[i%2]
			s, err := l.SettleJob(ctx, req)
			if err != nil {
				t.Errorf("settle: %v", err)
				return
			}
			if s.Charge.CoreSeconds != 7000 || s.Release.CoreSeconds != 8*3600-7000 {
				t.Errorf("settlement = %+v", s)
			}
			if !s.Charge.Replayed {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d settlements were not replays, want exactly 1", fresh)
	}
	es, err := f.l.Entries(ctx, accounting.EntryQuery{JobID: "j"})
	if err != nil || len(es) != 3 {
		t.Fatalf("job entries = %+v, %v", es, err)
	}
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	if b.ChargedCoreSeconds != 7000 || b.HeldCoreSeconds != 0 {
		t.Errorf("balance = %+v", b)
	}
}

// dbPath is the file of the ledger's main database.
func dbPath(t *testing.T, l *accounting.Ledger) string {
	t.Helper()
	var seq int
	var name, file string
	if err := l.DB().QueryRowContext(t.Context(), `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	return file
}
