package accounting_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

func TestProjectsAndAllocations(t *testing.T) {
	l, _ := MustLedger(t)
	ctx := t.Context()
	p, err := l.CreateProject(ctx, accounting.NewProject{Name: "climate", Description: "Climate CA", Who: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "climate" || !p.CreatedAt.Equal(t0) || p.CreatedBy != "admin" {
		t.Errorf("project = %+v", p)
	}
	// Creating it again is a safe retry; with another description a conflict.
	if again, err := l.CreateProject(ctx, accounting.NewProject{Name: "climate", Description: "Climate CA", Who: "admin"}); err != nil || again != p {
		t.Errorf("retry = %+v, %v; want %+v", again, err, p)
	}
	if _, err := l.CreateProject(ctx, accounting.NewProject{Name: "climate", Description: "other", Who: "admin"}); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("different description: %v, want ErrConflict", err)
	}

	base := accounting.NewAllocation{Project: "climate", Site: "ca", StartsAt: year(2026), EndsAt: year(2027),
		Grant: 1000, Who: "admin", Why: "call 2026", RequestID: "req-1"}
	a := MustAllocation(t, l, base)
	if again := MustAllocation(t, l, base); again.ID != a.ID {
		t.Errorf("replayed request created allocation %d, first was %d", again.ID, a.ID)
	}
	if b := MustBalance(t, l, a.ID); b.GrantedCoreSeconds != 1000 {
		t.Errorf("granted after a replayed creation = %d, want 1000 (granted once)", b.GrantedCoreSeconds)
	}

	tests := []struct {
		name string
		mod  func(*accounting.NewAllocation)
		want error
	}{
		{"same request id, other figures", func(n *accounting.NewAllocation) { n.Grant = 5; n.EndsAt = year(2028) }, accounting.ErrConflict},
		{"overlaps the end", func(n *accounting.NewAllocation) {
			n.RequestID = ""
			n.StartsAt = year(2026).AddDate(0, 6, 0)
			n.EndsAt = year(2028)
		}, accounting.ErrConflict},
		{"inside", func(n *accounting.NewAllocation) { n.RequestID = ""; n.StartsAt = t0; n.EndsAt = t0.Add(time.Hour) }, accounting.ErrConflict},
		{"empty period", func(n *accounting.NewAllocation) { n.RequestID = ""; n.StartsAt = year(2030); n.EndsAt = year(2030) }, accounting.ErrInvalid},
		{"unknown project", func(n *accounting.NewAllocation) {
			n.RequestID = ""
			n.Project = "nope"
			n.StartsAt = year(2030)
			n.EndsAt = year(2031)
		}, accounting.ErrNotFound},
		{"bad overdraft", func(n *accounting.NewAllocation) {
			n.RequestID = ""
			n.Overdraft = -2
			n.StartsAt = year(2030)
			n.EndsAt = year(2031)
		}, accounting.ErrInvalid},
		{"no who", func(n *accounting.NewAllocation) {
			n.RequestID = ""
			n.Who = ""
			n.StartsAt = year(2030)
			n.EndsAt = year(2031)
		}, accounting.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := base
			tt.mod(&n)
			if _, err := l.CreateAllocation(ctx, n); !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
	// Adjacent periods are fine: [2027, 2028) follows [2026, 2027).
	next := base
	next.RequestID, next.StartsAt, next.EndsAt = "", year(2027), year(2028)
	MustAllocation(t, l, next)
	// Another site is another allocation.
	other := base
	other.RequestID, other.Site = "", "de"
	MustAllocation(t, l, other)
	all, err := l.Allocations(ctx, "climate", "")
	if err != nil || len(all) != 3 {
		t.Fatalf("allocations = %d, %v; want 3", len(all), err)
	}
	// The trigger refuses overlaps even from raw SQL.
	if _, err := l.DB().ExecContext(ctx, `INSERT INTO acct_allocations (project, site, starts_at, ends_at, created_at, created_by)
		VALUES ('climate', 'ca', ?, ?, 0, 'x')`, t0.Unix(), t0.Unix()+1); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("raw overlapping insert: %v", err)
	}
}

func TestRatesHistory(t *testing.T) {
	l, _ := MustLedger(t)
	ctx := t.Context()
	jan, apr := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	MustRate(t, l, "ca", "cpu", 1000, jan)
	MustRate(t, l, "ca", "cpu", 1200, apr)
	MustRate(t, l, "ca", accounting.AnyPartition, 700, jan)
	// Same rate again: no-op. Different rate, same time: conflict.
	MustRate(t, l, "ca", "cpu", 1200, apr)
	if _, err := l.SetRate(ctx, accounting.NewRate{Site: "ca", Partition: "cpu", EffectiveFrom: apr, Thousandths: 1300, Who: "admin"}); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("conflicting rate: %v", err)
	}
	tests := []struct {
		partition string
		at        time.Time
		want      int64
		wantErr   error
	}{
		{"cpu", jan, 1000, nil},
		{"cpu", apr.Add(-time.Second), 1000, nil},
		{"cpu", apr, 1200, nil},
		{"cpu", year(2030), 1200, nil},
		{"bigmem", t0, 700, nil}, // the site's default
		{"cpu", jan.Add(-time.Second), 0, accounting.ErrNoRate},
	}
	for _, tt := range tests {
		r, err := l.RateAt(ctx, "ca", tt.partition, tt.at)
		if !errors.Is(err, tt.wantErr) || r.Thousandths != tt.want {
			t.Errorf("RateAt(%s, %v) = %d, %v; want %d, %v", tt.partition, tt.at, r.Thousandths, err, tt.want, tt.wantErr)
		}
	}
	if _, err := l.RateAt(ctx, "de", "cpu", t0); !errors.Is(err, accounting.ErrNoRate) {
		t.Errorf("unknown site: %v", err)
	}
	hist, err := l.Rates(ctx, "ca")
	if err != nil || len(hist) != 3 {
		t.Fatalf("history = %v, %v", hist, err)
	}
}

func TestPlaceHold(t *testing.T) {
	const grant = 10 * accounting.CoreHour
	tests := []struct {
		name      string
		overdraft accounting.Overdraft
		req       func(*accounting.HoldRequest)
		want      int64 // hold, core-seconds
		wantErr   error
	}{
		{"fits", 0, func(r *accounting.HoldRequest) {}, 4 * accounting.CoreHour, nil},
		{"exactly all that is left", 0, func(r *accounting.HoldRequest) { r.CPUsPerNode = 10 }, grant, nil},
		{"one core-second too many", 0, func(r *accounting.HoldRequest) { r.CPUsPerNode = 10; r.TimeLimit += time.Second }, 0, accounting.ErrInsufficient},
		{"gpu rate", 0, func(r *accounting.HoldRequest) { r.Partition = "gpu"; r.CPUsPerNode = 2 }, 5 * accounting.CoreHour, nil},
		{"limited overdraft covers", accounting.Overdraft(2 * accounting.CoreHour), func(r *accounting.HoldRequest) { r.CPUsPerNode = 12 }, 12 * accounting.CoreHour, nil},
		{"limited overdraft exceeded", accounting.Overdraft(2 * accounting.CoreHour), func(r *accounting.HoldRequest) { r.CPUsPerNode = 13 }, 0, accounting.ErrInsufficient},
		{"unlimited overdraft", accounting.UnlimitedOverdraft, func(r *accounting.HoldRequest) { r.Nodes = 1000 }, 4000 * accounting.CoreHour, nil},
		{"before the allocation", 0, func(r *accounting.HoldRequest) { r.At = year(2026).Add(-time.Second) }, 0, accounting.ErrNoAllocation},
		{"at its end (exclusive)", 0, func(r *accounting.HoldRequest) { r.At = year(2027) }, 0, accounting.ErrNoAllocation},
		{"at its start (inclusive)", 0, func(r *accounting.HoldRequest) { r.At = year(2026) }, 4 * accounting.CoreHour, nil},
		{"other site", 0, func(r *accounting.HoldRequest) { r.Site = "de" }, 0, accounting.ErrNoAllocation},
		{"unknown project", 0, func(r *accounting.HoldRequest) { r.Project = "nope" }, 0, accounting.ErrNotFound},
		{"no rate for partition", 0, func(r *accounting.HoldRequest) { r.Partition = "bigmem" }, 0, accounting.ErrNoRate},
		{"no time limit", 0, func(r *accounting.HoldRequest) { r.TimeLimit = 0 }, 0, accounting.ErrInvalid},
		{"no job id", 0, func(r *accounting.HoldRequest) { r.JobID = "" }, 0, accounting.ErrInvalid},
		{"no user", 0, func(r *accounting.HoldRequest) { r.User = "" }, 0, accounting.ErrInvalid},
		{"zero nodes", 0, func(r *accounting.HoldRequest) { r.Nodes = 0 }, 0, accounting.ErrInvalid},
		{"control character", 0, func(r *accounting.HoldRequest) { r.JobID = "a\nb" }, 0, accounting.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := MustFixture(t, grant, tt.overdraft)
			req := hold("j1", 4, time.Hour)
			tt.req(&req)
			h, err := f.l.PlaceHold(t.Context(), req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
			if err != nil {
				if b.HeldCoreSeconds != 0 {
					t.Errorf("a refused hold left %d held", b.HeldCoreSeconds)
				}
				if _, jerr := f.l.Job(t.Context(), req.JobID); !errors.Is(jerr, accounting.ErrNotFound) {
					t.Errorf("a refused hold left a job record: %v", jerr)
				}
				return
			}
			if h.CoreSeconds != tt.want || b.HeldCoreSeconds != tt.want {
				t.Errorf("hold = %d, held = %d; want %d", h.CoreSeconds, b.HeldCoreSeconds, tt.want)
			}
			if h.AvailableCoreSeconds != grant-tt.want || b.RemainingCoreSeconds != grant-tt.want {
				t.Errorf("available after = %d, remaining = %d; want %d", h.AvailableCoreSeconds, b.RemainingCoreSeconds, grant-tt.want)
			}
		})
	}
}

// A write of the ledger's own that fails after it wrote (here the hold's
// entry, after the job's row) leaves nothing behind, and its connection goes
// back outside any transaction: the next write, on the same connection (the
// ledger's writer has one), works.
func TestFailedWriteLeavesNothing(t *testing.T) {
	f := MustFixture(t, 10*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	db := f.l.DB()
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER test_refuse BEFORE INSERT ON acct_entries WHEN NEW.who = 'refused'
		BEGIN SELECT RAISE(ABORT, 'test: refused'); END`); err != nil {
		t.Fatal(err)
	}
	req := hold("j1", 4, time.Hour)
	req.Who = "refused"
	if _, err := f.l.PlaceHold(ctx, req); err == nil || !strings.Contains(err.Error(), "test: refused") {
		t.Fatalf("hold = %v, want the trigger's refusal", err)
	}
	if _, err := f.l.Job(ctx, "j1"); !errors.Is(err, accounting.ErrNotFound) {
		t.Fatalf("the failed hold left its job row: %v", err)
	}
	var jobs int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM acct_jobs`).Scan(&jobs); err != nil || jobs != 0 {
		t.Fatalf("jobs after a failed hold: %d, %v", jobs, err)
	}
	req.Who = "admin"
	if _, err := f.l.PlaceHold(ctx, req); err != nil {
		t.Fatalf("the hold after a failed one: %v", err)
	}
	if _, err := f.l.SettleJob(ctx, accounting.ChargeRequest{JobID: "j1", CPUSeconds: 60, EndedAt: t0, Who: "admin"}); err != nil {
		t.Fatalf("settle after a failed hold: %v", err)
	}
	AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
}

// A write interrupted inside its transaction, by its context cancelled or by
// a panic (here both from the ledger's clock, read after BEGIN), leaves
// nothing behind and no lock: another connection to the file writes at
// once, and the ledger's next write works on the same connection (the
// ledger's writer has one).
func TestInterruptedWriteLeavesNoLock(t *testing.T) {
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "ledger.db")
	var mode atomic.Value // "", "cancel" or "panic"
	mode.Store("")
	var cancel context.CancelFunc
	l, err := accounting.Open(ctx, file, accounting.Options{Now: func() time.Time {
		switch mode.Load() {
		case "cancel":
			cancel()
		case "panic":
			panic("clock broke")
		}
		return t0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	other, err := accounting.OpenDB(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherWrites := func() {
		t.Helper()
		// Within the busy timeout (5 s) a leaked write lock would make
		// this fail with "database is locked".
		if _, err := other.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS other_writer (x INTEGER)`); err != nil {
			t.Fatalf("another connection cannot write: %v", err)
		}
	}

	mode.Store("cancel")
	cctx, c := context.WithCancel(ctx)
	cancel = c
	if _, err := l.CreateProject(cctx, accounting.NewProject{Name: "p1", Who: "admin"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("project with the context cancelled mid-write = %v, want context.Canceled", err)
	}
	otherWrites()

	mode.Store("panic")
	func() {
		defer func() {
			if r := recover(); r != "clock broke" {
				t.Fatalf("recovered %v, want the clock's panic", r)
			}
		}()
		MustProject(t, l, "p2")
		t.Fatal("no panic")
	}()
	otherWrites()

	mode.Store("")
	MustProject(t, l, "p3")
	ps, err := l.Projects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Name != "p3" {
		t.Fatalf("projects %+v, want only p3", ps)
	}
}

// The ledger keeps its writes' statement journals in memory on a connection
// of its own (see Ledger.writeTx): the caller's connections keep their
// temp_store and their TEMP tables through its writes, whether the database
// is the ledger's own or shared.
func TestWriteLeavesTheConnectionAsItWas(t *testing.T) {
	ctx := t.Context()
	owned, _ := MustLedger(t)
	db, err := accounting.OpenDB(ctx, filepath.Join(t.TempDir(), "shared.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	shared, err := accounting.New(ctx, db, accounting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	for _, l := range []*accounting.Ledger{owned, shared} {
		l.DB().SetMaxOpenConns(1)
		tempStore := func() int {
			t.Helper()
			var v int
			if err := l.DB().QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		for _, set := range []string{"", "FILE", "MEMORY", "DEFAULT", "TEMP"} {
			switch set {
			case "":
			case "TEMP":
				// A TEMP table on the connection: changing temp_store
				// would drop it.
				if _, err := l.DB().ExecContext(ctx, `CREATE TEMP TABLE scratch (x INTEGER)`); err != nil {
					t.Fatal(err)
				}
			default:
				if _, err := l.DB().ExecContext(ctx, `PRAGMA temp_store = `+set); err != nil {
					t.Fatal(err)
				}
			}
			want := tempStore()
			MustProject(t, l, "p-"+set)
			if got := tempStore(); got != want {
				t.Errorf("owned %v: temp_store %d after a write, want %d (set %q)", l == owned, got, want, set)
			}
			// A refused write too: the project has no allocation.
			if _, err := l.PlaceHold(ctx, accounting.HoldRequest{JobID: "j-" + set, Project: "p-" + set, Site: "ca", Partition: "cpu",
				User: "u", Nodes: 1, CPUsPerNode: 1, TimeLimit: time.Hour, Who: "gw"}); err == nil {
				t.Fatal("a hold without an allocation")
			}
			if got := tempStore(); got != want {
				t.Errorf("owned %v: temp_store %d after a refused write, want %d (set %q)", l == owned, got, want, set)
			}
		}
		var n int
		if err := l.DB().QueryRowContext(ctx, `SELECT count(*) FROM temp.scratch`).Scan(&n); err != nil {
			t.Errorf("owned %v: the connection's TEMP table after writes: %v", l == owned, err)
		}
	}
}

func TestInsufficientErrorSaysHowMuchIsLeft(t *testing.T) {
	f := MustFixture(t, 10*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j1", 8, time.Hour)) // 2 core-hours left
	_, err := f.l.PlaceHold(ctx, hold("j2", 3, time.Hour))
	var ie *accounting.InsufficientError
	if !errors.As(err, &ie) || !errors.Is(err, accounting.ErrInsufficient) {
		t.Fatalf("error = %v, want *InsufficientError", err)
	}
	want := accounting.InsufficientError{Project: "climate", Site: "ca", AllocationID: f.alloc.ID,
		Requested: 3 * accounting.CoreHour, Available: 2 * accounting.CoreHour}
	if *ie != want {
		t.Errorf("error = %+v, want %+v", *ie, want)
	}
	if ie.Shortfall() != accounting.CoreHour {
		t.Errorf("shortfall = %d", ie.Shortfall())
	}
	for _, s := range []string{`"j2"`, "7200 core-seconds (2.00 core-hours) left", "needs 10800"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
}

func TestHoldIsIdempotentPerJob(t *testing.T) {
	f := MustFixture(t, 10*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	first := MustHold(t, f.l, hold("j1", 4, time.Hour))
	f.clk.Advance(time.Minute) // a retry comes later
	again := MustHold(t, f.l, hold("j1", 4, time.Hour))
	if !again.Replayed || again.EntryID != first.EntryID || again.CoreSeconds != first.CoreSeconds || !again.At.Equal(first.At) {
		t.Errorf("replay = %+v, first = %+v", again, first)
	}
	other := hold("j1", 5, time.Hour)
	if _, err := f.l.PlaceHold(ctx, other); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("same job, other figures: %v", err)
	}
	tagged := hold("j2", 1, time.Hour)
	tagged.Tag = "j1" // j1's tag
	if _, err := f.l.PlaceHold(ctx, tagged); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("reused tag: %v", err)
	}
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	if b.HeldCoreSeconds != 4*accounting.CoreHour {
		t.Errorf("held = %d, want one hold of 4 core-hours", b.HeldCoreSeconds)
	}
}

func TestSettleChargesAndReleases(t *testing.T) {
	const grant = 100 * accounting.CoreHour
	const held = 4 * accounting.CoreHour // 4 CPUs x 1 h
	tests := []struct {
		name                                    string
		cpuSeconds                              int64
		wantFromHold, wantOverrun, wantReleased int64
	}{
		{"used half", held / 2, held / 2, 0, held / 2},
		{"used nothing", 0, 0, 0, held},
		{"used all", held, held, 0, 0},
		{"overran", held + 1800, held, 1800, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := MustFixture(t, grant, accounting.NoOverdraft)
			MustHold(t, f.l, hold("j1", 4, time.Hour))
			s := MustSettle(t, f.l, "j1", tt.cpuSeconds, t0.Add(time.Hour))
			c := s.Charge
			if c.CoreSeconds != tt.cpuSeconds || c.FromHoldCoreSeconds != tt.wantFromHold || c.OverrunCoreSeconds != tt.wantOverrun ||
				c.HoldCoreSeconds != held || c.Rate != 1000 || c.Month != 202603 || c.AllocationID != f.alloc.ID {
				t.Errorf("charge = %+v", c)
			}
			if s.Release.CoreSeconds != tt.wantReleased {
				t.Errorf("released %d, want %d", s.Release.CoreSeconds, tt.wantReleased)
			}
			b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
			if b.HeldCoreSeconds != 0 || b.ChargedCoreSeconds != tt.cpuSeconds || b.RemainingCoreSeconds != grant-tt.cpuSeconds ||
				b.OverrunCoreSeconds != tt.wantOverrun {
				t.Errorf("balance = %+v", b)
			}
			MustVerify(t, f.l)
		})
	}
}

// The entry ids a settlement returns are those of its charge and release,
// also when either lands on a fold of the caches (an id that is a multiple
// of 64).
func TestSettlementEntryIDs(t *testing.T) {
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	for i := range 70 {
		job := fmt.Sprintf("j%02d", i)
		MustHold(t, f.l, hold(job, 1, time.Hour))
		s := MustSettle(t, f.l, job, int64(100+i), t0.Add(time.Hour))
		es, err := f.l.Entries(ctx, accounting.EntryQuery{JobID: job})
		if err != nil {
			t.Fatal(err)
		}
		got := map[accounting.Kind]accounting.Entry{}
		for _, e := range es {
			got[e.Kind] = e
		}
		c, r := got[accounting.KindCharge], got[accounting.KindRelease]
		if len(es) != 3 || c.ID != s.Charge.EntryID || c.CPUSeconds != int64(100+i) || c.CoreSeconds != s.Charge.CoreSeconds ||
			r.ID != s.Release.EntryID || r.CoreSeconds != s.Release.CoreSeconds || r.CoreSeconds != 3600-c.FromHoldCoreSeconds {
			t.Fatalf("%s: settlement %+v, entries %+v", job, s, es)
		}
	}
	MustVerify(t, f.l)
}

func TestChargeAndReleaseAreIdempotent(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j1", 4, time.Hour))
	end := t0.Add(30 * time.Minute)
	req := accounting.ChargeRequest{JobID: "j1", CPUSeconds: 5000, EndedAt: end, Who: "poller"}
	first, err := f.l.SettleJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		again, err := f.l.SettleJob(ctx, req)
		if err != nil {
			t.Fatalf("settle #%d: %v", i+2, err)
		}
		if !again.Charge.Replayed || !again.Release.Replayed || again.Charge.EntryID != first.Charge.EntryID ||
			again.Release.EntryID != first.Release.EntryID || again.Charge.CoreSeconds != first.Charge.CoreSeconds {
			t.Fatalf("replay %+v differs from %+v", again, first)
		}
		if c, err := f.l.ChargeJob(ctx, req); err != nil || !c.Replayed {
			t.Fatalf("charge again: %+v, %v", c, err)
		}
		if r, err := f.l.ReleaseJob(ctx, accounting.ReleaseRequest{JobID: "j1", Who: "poller"}); err != nil || !r.Replayed {
			t.Fatalf("release again: %+v, %v", r, err)
		}
	}
	// A second charge with other figures is refused, not added.
	req.CPUSeconds = 6000
	if _, err := f.l.ChargeJob(ctx, req); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("different second charge: %v", err)
	}
	es, err := f.l.Entries(ctx, accounting.EntryQuery{JobID: "j1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("job has %d entries, want hold, charge, release: %+v", len(es), es)
	}
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	if b.ChargedCoreSeconds != 5000 || b.HeldCoreSeconds != 0 {
		t.Errorf("balance = %+v", b)
	}
	// Even raw SQL cannot add a second charge for the job.
	if _, err := f.l.DB().ExecContext(ctx, `INSERT INTO acct_entries (kind, allocation_id, job_id, amount, month, at, recorded_at, who)
		VALUES ('charge', ?, 'j1', 1, 202603, 0, 0, 'x')`, f.alloc.ID); err == nil || !strings.Contains(err.Error(), "at most one hold, one charge and one release") {
		t.Errorf("raw second charge: %v", err)
	}
}

func TestReleaseBeforeChargeAndChargeWithoutHold(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j1", 4, time.Hour))
	r, err := f.l.ReleaseJob(ctx, accounting.ReleaseRequest{JobID: "j1", Who: "gateway", Why: "cancelled while pending"})
	if err != nil || r.CoreSeconds != 4*accounting.CoreHour {
		t.Fatalf("release = %+v, %v", r, err)
	}
	// sacct later shows it ran 10 CPU-seconds before the cancel: the charge
	// is booked in full, none of it from the (released) hold.
	c, err := f.l.ChargeJob(ctx, accounting.ChargeRequest{JobID: "j1", CPUSeconds: 10, EndedAt: t0.Add(time.Minute), Who: "poller"})
	if err != nil || c.FromHoldCoreSeconds != 0 || c.CoreSeconds != 10 {
		t.Fatalf("charge after release = %+v, %v", c, err)
	}
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	if b.HeldCoreSeconds != 0 || b.ChargedCoreSeconds != 10 {
		t.Errorf("balance = %+v", b)
	}
	for _, err := range []error{
		func() error {
			_, err := f.l.ChargeJob(ctx, accounting.ChargeRequest{JobID: "ghost", CPUSeconds: 1, EndedAt: t0, Who: "p"})
			return err
		}(),
		func() error {
			_, err := f.l.ReleaseJob(ctx, accounting.ReleaseRequest{JobID: "ghost", Who: "p"})
			return err
		}(),
	} {
		if !errors.Is(err, accounting.ErrNotFound) || !strings.Contains(err.Error(), `"ghost"`) {
			t.Errorf("job without hold: %v", err)
		}
	}
	if _, err := f.l.ChargeJob(ctx, accounting.ChargeRequest{JobID: "j1", CPUSeconds: 1, Who: "p"}); !errors.Is(err, accounting.ErrInvalid) {
		t.Errorf("charge without end time: %v", err)
	}
	MustVerify(t, f.l)
}

// A job's usage belongs to the month it ended (UTC), not the month it
// started; and it is charged at the rate in force when it ended.
func TestUsageBelongsToTheMonthTheJobEnded(t *testing.T) {
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustRate(t, f.l, "ca", "cpu", 1500, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	f.clk.Set(time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC))
	for _, id := range []string{"march", "april"} {
		MustHold(t, f.l, hold(id, 1, 10*time.Hour))
	}
	lastSecond := time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC)
	sm := MustSettle(t, f.l, "march", 3600, lastSecond)
	sa := MustSettle(t, f.l, "april", 3600, lastSecond.Add(time.Second))
	if sm.Charge.Month != 202603 || sm.Charge.Rate != 1000 || sm.Charge.CoreSeconds != 3600 {
		t.Errorf("march job: %+v", sm.Charge)
	}
	if sa.Charge.Month != 202604 || sa.Charge.Rate != 1500 || sa.Charge.CoreSeconds != 5400 {
		t.Errorf("april job: %+v", sa.Charge)
	}
	rows, err := f.l.Usage(ctx, accounting.UsageQuery{GroupBy: []accounting.Dimension{accounting.ByMonth}})
	if err != nil {
		t.Fatal(err)
	}
	want := []accounting.UsageRow{
		{Month: 202603, Jobs: 1, CPUSeconds: 3600, CoreSeconds: 3600, CoreHours: 1, ChargedCoreSeconds: 3600},
		{Month: 202604, Jobs: 1, CPUSeconds: 3600, CoreSeconds: 5400, CoreHours: 1.5, ChargedCoreSeconds: 5400},
	}
	if len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] {
		t.Errorf("usage by month = %+v, want %+v", rows, want)
	}
}

// A job accepted under one allocation period that ends in the next is
// charged to the period it ended in; the hold goes back to the first.
func TestChargeLandsInThePeriodTheJobEnded(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	next := MustAllocation(t, f.l, accounting.NewAllocation{Project: "climate", Site: "ca", StartsAt: year(2027), EndsAt: year(2028),
		Grant: 50 * accounting.CoreHour, Who: "admin", Why: "call 2027"})
	f.clk.Set(year(2027).Add(-time.Hour))
	h := MustHold(t, f.l, hold("nye", 4, 2*time.Hour))
	if h.AllocationID != f.alloc.ID {
		t.Fatalf("held on %d, want the 2026 allocation %d", h.AllocationID, f.alloc.ID)
	}
	s := MustSettle(t, f.l, "nye", 5*3600, year(2027).Add(30*time.Minute))
	if s.Charge.AllocationID != next.ID || s.Charge.FromHoldCoreSeconds != 0 || s.Release.AllocationID != f.alloc.ID ||
		s.Release.CoreSeconds != h.CoreSeconds || s.Charge.Month != 202701 {
		t.Errorf("settlement = %+v", s)
	}
	old := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	cur := AssertBalanceIsSumOfEntries(t, f.l, next.ID)
	if old.HeldCoreSeconds != 0 || old.ChargedCoreSeconds != 0 || old.RemainingCoreSeconds != 100*accounting.CoreHour {
		t.Errorf("2026 balance = %+v", old)
	}
	if cur.ChargedCoreSeconds != 5*3600 || cur.RemainingCoreSeconds != 45*accounting.CoreHour {
		t.Errorf("2027 balance = %+v", cur)
	}
	// With no allocation covering the end, the charge falls back to the
	// hold's allocation: usage is never lost.
	f.clk.Set(year(2028).Add(-time.Hour))
	MustHold(t, f.l, hold("late", 1, 2*time.Hour))
	s = MustSettle(t, f.l, "late", 7200, year(2028).Add(time.Hour))
	if s.Charge.AllocationID != next.ID || s.Charge.FromHoldCoreSeconds != 7200 || s.Charge.Month != 202801 {
		t.Errorf("charge after the last period = %+v", s.Charge)
	}
	AssertBalanceIsSumOfEntries(t, f.l, next.ID)
	MustVerify(t, f.l)
}

func TestOverrunIsBookedAndReported(t *testing.T) {
	f := MustFixture(t, 5*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j1", 4, time.Hour))
	// Slurm's OverTimeLimit let it run 2 hours on 4 CPUs: 8 core-hours,
	// more than the whole allocation. The charge is booked anyway.
	s := MustSettle(t, f.l, "j1", 8*3600, t0.Add(2*time.Hour))
	if s.Charge.OverrunCoreSeconds != 4*accounting.CoreHour || s.Charge.CoreSeconds != 8*accounting.CoreHour {
		t.Fatalf("charge = %+v", s.Charge)
	}
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	if b.RemainingCoreSeconds != -3*accounting.CoreHour || b.OverrunCoreSeconds != 4*accounting.CoreHour ||
		b.ExhaustedAt == nil || !b.ExhaustedAt.Equal(t0) {
		t.Errorf("balance = %+v", b)
	}
	over, err := f.l.Overruns(ctx, accounting.OverrunQuery{Project: "climate"})
	if err != nil || len(over) != 1 || over[0].JobID != "j1" || over[0].OverrunCoreSeconds != 4*accounting.CoreHour ||
		over[0].HoldCoreSeconds != 4*accounting.CoreHour || over[0].Month != 202603 {
		t.Fatalf("overruns = %+v, %v", over, err)
	}
	u, err := f.l.Usage(ctx, accounting.UsageQuery{})
	if err != nil || len(u) != 1 || u[0].OverrunCoreSeconds != 4*accounting.CoreHour {
		t.Fatalf("usage = %+v, %v", u, err)
	}
	// The overdrawn allocation now refuses even a small hold.
	_, err = f.l.PlaceHold(ctx, hold("j2", 1, time.Second))
	var ie *accounting.InsufficientError
	if !errors.As(err, &ie) || ie.Available != -3*accounting.CoreHour {
		t.Errorf("hold on overdrawn allocation: %v", err)
	}
}

func TestRefundsAndAdjustments(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j1", 4, time.Hour))
	MustSettle(t, f.l, "j1", 3*3600, time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC))
	f.clk.Set(time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)) // refunded in May, for a March job

	req := accounting.RefundRequest{JobID: "j1", CoreSeconds: 3600, Who: "admin", Why: "node failure", RequestID: "r1"}
	e, err := f.l.Refund(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != accounting.KindRefund || e.Month != 202603 || e.CoreSeconds != 3600 || e.Who != "admin" || e.Why != "node failure" {
		t.Errorf("refund entry = %+v", e)
	}
	if again, err := f.l.Refund(ctx, req); err != nil || again.ID != e.ID {
		t.Errorf("replayed refund = %+v, %v; want entry %d", again, err, e.ID)
	}
	req.CoreSeconds = 10
	if _, err := f.l.Refund(ctx, req); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("request id reused with other figures: %v", err)
	}
	tests := []struct {
		name string
		req  accounting.RefundRequest
		want error
	}{
		{"more than is left", accounting.RefundRequest{JobID: "j1", CoreSeconds: 2*3600 + 1, Who: "admin", Why: "x"}, accounting.ErrInvalid},
		{"no reason", accounting.RefundRequest{JobID: "j1", CoreSeconds: 1, Who: "admin"}, accounting.ErrInvalid},
		{"zero", accounting.RefundRequest{JobID: "j1", CoreSeconds: 0, Who: "admin", Why: "x"}, accounting.ErrInvalid},
		{"uncharged job", accounting.RefundRequest{JobID: "nope", CoreSeconds: 1, Who: "admin", Why: "x"}, accounting.ErrNotFound},
	}
	for _, tt := range tests {
		if _, err := f.l.Refund(ctx, tt.req); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// The rest can be refunded, exactly.
	if _, err := f.l.Refund(ctx, accounting.RefundRequest{JobID: "j1", CoreSeconds: 2 * 3600, Who: "admin", Why: "all of it"}); err != nil {
		t.Fatal(err)
	}

	adj, err := f.l.Adjust(ctx, accounting.AdjustRequest{AllocationID: f.alloc.ID, CoreSeconds: -30 * accounting.CoreHour, Who: "admin", Why: "correction"})
	if err != nil || adj.CoreSeconds != -30*accounting.CoreHour || adj.Month != 202605 {
		t.Fatalf("adjust = %+v, %v", adj, err)
	}
	if _, err := f.l.Adjust(ctx, accounting.AdjustRequest{AllocationID: f.alloc.ID, CoreSeconds: 1, Who: "admin"}); !errors.Is(err, accounting.ErrInvalid) {
		t.Errorf("adjust without reason: %v", err)
	}
	if _, err := f.l.Adjust(ctx, accounting.AdjustRequest{AllocationID: 999, CoreSeconds: 1, Who: "admin", Why: "x"}); !errors.Is(err, accounting.ErrNotFound) {
		t.Errorf("adjust unknown allocation: %v", err)
	}
	if _, err := f.l.Grant(ctx, accounting.GrantRequest{AllocationID: f.alloc.ID, CoreSeconds: 5 * accounting.CoreHour, Who: "admin", Why: "top-up"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Grant(ctx, accounting.GrantRequest{AllocationID: f.alloc.ID, CoreSeconds: -5, Who: "admin"}); !errors.Is(err, accounting.ErrInvalid) {
		t.Errorf("negative grant: %v", err)
	}
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	want := (100 + 5 - 30) * accounting.CoreHour // charged 3 h, refunded 3 h
	if b.RemainingCoreSeconds != want || b.RefundedCoreSeconds != 3*3600 || b.AdjustedCoreSeconds != -30*accounting.CoreHour {
		t.Errorf("balance = %+v, want remaining %d", b, want)
	}
	u, err := f.l.Usage(ctx, accounting.UsageQuery{From: 202603, To: 202603})
	if err != nil || len(u) != 1 || u[0].CoreSeconds != 0 || u[0].ChargedCoreSeconds != 3*3600 || u[0].RefundedCoreSeconds != 3*3600 || u[0].Jobs != 1 {
		t.Errorf("march usage after refunds = %+v, %v", u, err)
	}
	MustVerify(t, f.l)
}

// The gateway records "job accepted + hold placed" in one transaction of its
// own: both commit together or neither does, and a refused hold leaves the
// caller's transaction as it was.
func TestWritesOnTheCallersTransaction(t *testing.T) {
	f := MustFixture(t, 10*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	db := f.l.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE gw_jobs (id TEXT PRIMARY KEY, state TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	accept := func(id string, cpus int64, commit bool) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `INSERT INTO gw_jobs VALUES (?, 'ACCEPTED')`, id); err != nil {
			return err
		}
		if _, err := f.l.PlaceHoldTx(ctx, tx, hold(id, cpus, time.Hour)); err != nil {
			return err
		}
		if !commit {
			return tx.Rollback()
		}
		return tx.Commit()
	}
	count := func(q string) int {
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := accept("a", 4, true); err != nil {
		t.Fatal(err)
	}
	if err := accept("b", 4, false); err != nil { // the gateway rolls back
		t.Fatal(err)
	}
	if n, m := count(`SELECT count(*) FROM gw_jobs`), count(`SELECT count(*) FROM acct_jobs`); n != 1 || m != 1 {
		t.Fatalf("after commit and rollback: %d gateway jobs, %d ledger jobs; want 1 and 1", n, m)
	}

	// A refused hold inside the caller's transaction: the caller's own
	// write stays, the ledger wrote nothing, the transaction still commits.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO gw_jobs VALUES ('c', 'REJECTED')`); err != nil {
		t.Fatal(err)
	}
	_, err = f.l.PlaceHoldTx(ctx, tx, hold("c", 100, time.Hour))
	if !errors.Is(err, accounting.ErrInsufficient) {
		t.Fatalf("oversized hold: %v", err)
	}
	// Settle in the same transaction as the job's final state.
	if _, err := tx.ExecContext(ctx, `UPDATE gw_jobs SET state = 'COMPLETED' WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.SettleJobTx(ctx, tx, accounting.ChargeRequest{JobID: "a", CPUSeconds: 600, EndedAt: t0.Add(time.Hour), Who: "poller"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM gw_jobs`); n != 2 {
		t.Errorf("%d gateway jobs, want 2", n)
	}
	if n := count(`SELECT count(*) FROM acct_jobs WHERE job_id = 'c'`); n != 0 {
		t.Errorf("the refused hold left a ledger job")
	}
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	if b.ChargedCoreSeconds != 600 || b.HeldCoreSeconds != 0 {
		t.Errorf("balance = %+v", b)
	}
	if _, err := f.l.PlaceHoldTx(ctx, nil, hold("d", 1, time.Hour)); !errors.Is(err, accounting.ErrInvalid) {
		t.Errorf("nil transaction: %v", err)
	}

	// A request whose context ended before the hold: the hold fails with
	// the context's error and writes nothing; the caller's transaction
	// (begun under another context) goes on.
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.l.PlaceHoldTx(rctx, tx, hold("e", 1, time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("hold under an ended context: %v, want context.Canceled", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO gw_jobs VALUES ('e', 'CANCELLED')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM acct_jobs WHERE job_id = 'e'`); n != 0 {
		t.Errorf("the cancelled hold left a ledger job")
	}
	MustVerify(t, f.l)
}

func TestJobRecordAndSiteJob(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	req := hold("j1", 4, 90*time.Minute)
	req.Tag = "sta:j1"
	MustHold(t, f.l, req)
	sj := accounting.SiteJob{JobID: "j1", Cluster: "narval", SiteJobID: "4242"}
	for range 2 {
		if err := f.l.RecordSiteJob(ctx, sj); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.l.RecordSiteJob(ctx, accounting.SiteJob{JobID: "j1", Cluster: "narval", SiteJobID: "4243"}); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("second site job id: %v", err)
	}
	if err := f.l.RecordSiteJob(ctx, accounting.SiteJob{JobID: "nope", SiteJobID: "1"}); !errors.Is(err, accounting.ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
	r, err := f.l.Job(ctx, "j1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Tag != "sta:j1" || r.SiteJobID != "4242" || r.Cluster != "narval" || r.HoldCoreSeconds != 6*3600 ||
		r.HeldCoreSeconds != 6*3600 || r.Charge != nil || r.Released || r.TimeLimitSeconds != 5400 {
		t.Errorf("job = %+v", r)
	}
	if _, err := f.l.ChargeJob(ctx, accounting.ChargeRequest{JobID: "j1", CPUSeconds: 3600, EndedAt: t0.Add(time.Hour), Who: "p"}); err != nil {
		t.Fatal(err)
	}
	r, err = f.l.Job(ctx, "j1")
	if err != nil || r.Charge == nil || r.HeldCoreSeconds != 5*3600 || r.Released {
		t.Errorf("after charge: %+v, %v", r, err)
	}
	if _, err := f.l.ReleaseJob(ctx, accounting.ReleaseRequest{JobID: "j1", Who: "p"}); err != nil {
		t.Fatal(err)
	}
	r, err = f.l.Job(ctx, "j1")
	if err != nil || r.HeldCoreSeconds != 0 || !r.Released || r.ReleasedCoreSeconds != 5*3600 {
		t.Errorf("after release: %+v, %v", r, err)
	}
	if _, err := f.l.Job(ctx, "nope"); !errors.Is(err, accounting.ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
}

func TestEntriesQueries(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		MustHold(t, f.l, hold(id, 1, time.Hour))
	}
	MustSettle(t, f.l, "b", 100, t0.Add(time.Hour))
	if _, err := f.l.Refund(ctx, accounting.RefundRequest{JobID: "b", CoreSeconds: 10, Who: "admin", Why: "test"}); err != nil {
		t.Fatal(err)
	}
	all, err := f.l.Entries(ctx, accounting.EntryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// grant, 3 holds, charge, release, refund
	kinds := ""
	for i, e := range all {
		kinds += string(e.Kind) + " "
		if i > 0 && e.ID <= all[i-1].ID {
			t.Errorf("entries out of order: %d after %d", e.ID, all[i-1].ID)
		}
	}
	if kinds != "grant hold hold hold charge release refund " {
		t.Fatalf("kinds = %q", kinds)
	}
	tests := []struct {
		name string
		q    accounting.EntryQuery
		want []int64 // indexes into all
	}{
		{"job b", accounting.EntryQuery{JobID: "b"}, []int64{2, 4, 5, 6}},
		{"job b charges", accounting.EntryQuery{JobID: "b", Kind: accounting.KindCharge}, []int64{4}},
		{"job b after its hold", accounting.EntryQuery{JobID: "b", AfterID: all[2].ID, Limit: 2}, []int64{4, 5}},
		{"holds", accounting.EntryQuery{Kind: accounting.KindHold}, []int64{1, 2, 3}},
		{"page", accounting.EntryQuery{AfterID: all[1].ID, Limit: 2}, []int64{2, 3}},
		{"allocation and project", accounting.EntryQuery{AllocationID: f.alloc.ID, Project: "climate", Kind: accounting.KindGrant}, []int64{0}},
		{"other project", accounting.EntryQuery{Project: "bio"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.l.Entries(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d entries, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				if got[i] != all[w] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], all[w])
				}
			}
		})
	}
	e, err := f.l.Entry(ctx, all[4].ID)
	if err != nil || e != all[4] || e.CPUSeconds != 100 || e.Partition != "cpu" || e.User != "alice" || e.Who != "poller" {
		t.Errorf("entry = %+v, %v", e, err)
	}
	if _, err := f.l.Entry(ctx, 999); !errors.Is(err, accounting.ErrNotFound) {
		t.Errorf("unknown entry: %v", err)
	}
}

func TestOpenRefusesWhatIsNotAFile(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := accounting.Open(t.Context(), p, accounting.Options{}); !errors.Is(err, accounting.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", p, err)
		}
	}
}
