package accounting_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

// BenchmarkLedger loads one million jobs' entries (a hold, a charge and a
// release each, ended over the twelve months of 2026, 100 projects of 5
// users each, 2 sites, 3 partitions) in one transaction, then measures:
//
//   - MonthlyUsageByProject: the usage report of one month by project
//     (goal: under 100 ms);
//   - MonthlyUsageByProjectFromEntries: the same figures summed from the
//     entries, without the monthly summary, for comparison;
//   - Cycle: hold, then charge+release (SettleJob), each step one commit,
//     against raw commits of the same rows into plain tables, interleaved in
//     the same run; the metric ledger/raw is the ratio of their commit rates
//     (goal: >= 0.8). Then, untimed, the pages (WAL frames) a cycle of each
//     writes: ledger-pages/cycle and raw-pages/cycle.
//
// The load uses direct INSERTs into the ledger's tables (the public API
// would take minutes for a million jobs), the triggers checking them as in
// normal operation; FoldCaches then brings the caches up to the last entry
// (as a bulk import should), and Verify checks them against the entries. STA_BENCH_JOBS changes the number of jobs; STA_BENCH_DIR the folder
// of the database (default: a temporary folder).
//
//	go test -run '^$' -bench . -benchtime 2s -timeout 60m -v ./accounting/
func BenchmarkLedger(b *testing.B) {
	ctx := context.Background()
	jobs := 1_000_000
	if s := os.Getenv("STA_BENCH_JOBS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		jobs = n
	}
	dir := os.Getenv("STA_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		var err error
		if dir, err = os.MkdirTemp(dir, "acct-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	now := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
	l, err := accounting.Open(ctx, filepath.Join(dir, "bench.db"), accounting.Options{Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()

	start := time.Now()
	loadJobs(b, l, jobs, now)
	loaded := time.Since(start)
	start = time.Now()
	if err := l.FoldCaches(ctx); err != nil {
		b.Fatal(err)
	}
	folded := time.Since(start)
	start = time.Now()
	if err := l.Verify(ctx); err != nil {
		b.Fatal(err)
	}
	verified := time.Since(start)
	if _, err := l.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	var pages, pageSize int64
	_ = l.DB().QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages)
	_ = l.DB().QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize)
	b.Logf("loaded %d jobs (%d entries) in one transaction in %v, folded into the caches in %v; Verify took %v; database %d MB",
		jobs, 3*jobs, loaded.Round(time.Millisecond), folded.Round(time.Millisecond), verified.Round(time.Millisecond), pages*pageSize>>20)

	months := []accounting.Month{202601, 202602, 202603, 202604, 202605, 202606, 202607, 202608, 202609, 202610, 202611, 202612}
	b.Run("MonthlyUsageByProject", func(b *testing.B) {
		var rows []accounting.UsageRow
		for i := 0; b.Loop(); i++ {
			m := months[i%len(months)]
			rows, err = l.Usage(ctx, accounting.UsageQuery{From: m, To: m, GroupBy: []accounting.Dimension{accounting.ByProject}})
			if err != nil {
				b.Fatal(err)
			}
		}
		var n int64
		for _, r := range rows {
			n += r.Jobs
		}
		if len(rows) != 100 || n < int64(jobs)/13 {
			b.Fatalf("report of %d rows covering %d jobs", len(rows), n)
		}
	})
	b.Run("MonthlyUsageByProjectFromEntries", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			m := months[i%len(months)]
			rows, err := l.DB().QueryContext(ctx, `SELECT j.project, count(*), sum(e.amount) FROM acct_entries e
				JOIN acct_jobs j ON j.job_id = e.job_id WHERE e.kind = 'charge' AND e.month = ? GROUP BY j.project`, int64(m))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil || n != 100 {
				b.Fatalf("%d rows, %v", n, err)
			}
			rows.Close()
		}
	})
	b.Run("Cycle", func(b *testing.B) {
		benchCycle(b, l, now)
	})
	if err := l.Verify(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCycleEmptyLedger is the Cycle benchmark on an empty ledger.
func BenchmarkCycleEmptyLedger(b *testing.B) {
	benchCycle(b, emptyLedger(b), time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC))
}

// BenchmarkCycleRequestContext is BenchmarkCycleEmptyLedger with the
// ledger called under a cancellable context, as a server calls it from a
// request (the raw commits keep context.Background).
func BenchmarkCycleRequestContext(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchCycleIn(ctx, b, emptyLedger(b), time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC), false)
}

// BenchmarkCycleOnCallersTx is BenchmarkCycleRequestContext through
// PlaceHoldTx and SettleJobTx, each in a transaction of the caller's begun
// with BeginTx under the request's context, as the gateway books them. The
// raw commits keep their lean path, so ledger/raw here also counts what
// database/sql's transactions cost the caller.
func BenchmarkCycleOnCallersTx(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchCycleIn(ctx, b, emptyLedger(b), time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC), true)
}

// emptyLedger is a ledger of one project with one allocation.
func emptyLedger(b *testing.B) *accounting.Ledger {
	now := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
	l, err := accounting.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), accounting.Options{Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	MustProject(b, l, "p0")
	MustAllocation(b, l, accounting.NewAllocation{Project: "p0", Site: "ca", StartsAt: year(2026), EndsAt: year(2027),
		Overdraft: accounting.UnlimitedOverdraft, Grant: 1 << 40, Who: "bench"})
	MustRate(b, l, "ca", "cpu", 1000, year(2025))
	return l
}

// benchCycle times, per iteration, a hold and a settlement (two commits of
// the ledger) against two raw commits "of the same size": the same rows (a
// job row and an entry, then two entries) inserted into plain tables of the
// same columns without the ledger's checks, reads, indexes and triggers; and,
// for reference, against two commits of one small row. The three are
// interleaved so that they share the machine's conditions.
func benchCycle(b *testing.B, l *accounting.Ledger, now time.Time) {
	benchCycleIn(context.Background(), b, l, now, false)
}

// benchCycleIn is benchCycle with the ledger called under lctx, on
// transactions of the caller's if onCallersTx.
func benchCycleIn(lctx context.Context, b *testing.B, l *accounting.Ledger, now time.Time, onCallersTx bool) {
	ctx := context.Background()
	db := l.DB()
	if _, err := db.ExecContext(ctx, `
		CREATE TABLE IF NOT EXISTS bench_raw_jobs (job_id TEXT, tag TEXT, allocation_id INTEGER, project TEXT, site TEXT,
			slurm_partition TEXT, user_name TEXT, nodes INTEGER, cpus_per_node INTEGER, time_limit INTEGER, rate INTEGER,
			hold_amount INTEGER, held_at INTEGER, cluster TEXT, site_job_id TEXT);
		CREATE TABLE IF NOT EXISTS bench_raw_entries (kind TEXT, allocation_id INTEGER, job_id TEXT, amount INTEGER,
			from_hold INTEGER, overrun INTEGER, cpu_seconds INTEGER, rate INTEGER, month INTEGER, at INTEGER,
			recorded_at INTEGER, who TEXT, why TEXT, request_id TEXT);
		CREATE TABLE IF NOT EXISTS bench_raw_small (id INTEGER PRIMARY KEY, v INTEGER)`); err != nil {
		b.Fatal(err)
	}
	// Raw commits go the way the ledger's own writes do (see Ledger.write):
	// BEGIN IMMEDIATE and COMMIT on a connection of the pool, without the
	// goroutine database/sql runs for every *sql.Tx.
	commit := func(stmts ...func(c *sql.Conn) error) {
		c, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			b.Fatal(err)
		}
		for _, f := range stmts {
			if err := f(c); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
			b.Fatal(err)
		}
	}
	rawJob := func(job string) func(c *sql.Conn) error {
		return func(c *sql.Conn) error {
			_, err := c.ExecContext(ctx, `INSERT INTO bench_raw_jobs VALUES (?, ?, 1, 'p0', 'ca', 'cpu', 'u0', 1, 4, 3600, 1000, 14400, ?, NULL, NULL)`,
				job, job, now.Unix())
			return err
		}
	}
	rawEntry := func(job, kind string) func(c *sql.Conn) error {
		return func(c *sql.Conn) error {
			_, err := c.ExecContext(ctx, `INSERT INTO bench_raw_entries VALUES (?, 1, ?, 7000, 7000, 0, 7000, 1000, 202612, ?, ?, 'bench', '', NULL)`,
				kind, job, now.Unix(), now.Unix())
			return err
		}
	}
	small := func(c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO bench_raw_small (v) VALUES (1)`)
		return err
	}
	onTx := func(f func(tx *sql.Tx) error) error {
		tx, err := db.BeginTx(lctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
		if err := f(tx); err != nil {
			return err
		}
		return tx.Commit()
	}
	ledgerCycle := func(job string) {
		hr := accounting.HoldRequest{JobID: job, Project: "p0", Site: "ca", Partition: "cpu",
			User: "u0", Nodes: 1, CPUsPerNode: 4, TimeLimit: time.Hour, Who: "bench"}
		cr := accounting.ChargeRequest{JobID: job, CPUSeconds: 7000, EndedAt: now, Who: "bench"}
		if onCallersTx {
			if err := onTx(func(tx *sql.Tx) error { _, err := l.PlaceHoldTx(lctx, tx, hr); return err }); err != nil {
				b.Fatal(err)
			}
			if err := onTx(func(tx *sql.Tx) error { _, err := l.SettleJobTx(lctx, tx, cr); return err }); err != nil {
				b.Fatal(err)
			}
			return
		}
		if _, err := l.PlaceHold(lctx, hr); err != nil {
			b.Fatal(err)
		}
		if _, err := l.SettleJob(lctx, cr); err != nil {
			b.Fatal(err)
		}
	}
	rawCycle := func(job string) {
		commit(rawJob(job), rawEntry(job, "hold"))
		commit(rawEntry(job, "charge"), rawEntry(job, "release"))
	}
	var ledgerTime, rawTime, smallTime time.Duration
	// Job ids that grow, as the gateway's do (they start with the time of
	// acceptance): each new job's rows land after the older jobs' (the
	// loaded ones are j00000000...), at the end of the ledger's b-trees.
	prefix := fmt.Sprintf("j%d-", time.Now().UnixNano())
	i := 0
	for b.Loop() {
		job := fmt.Sprintf("%s%09d", prefix, i)
		i++
		t := time.Now()
		ledgerCycle(job)
		ledgerTime += time.Since(t)
		t = time.Now()
		rawCycle(job)
		rawTime += time.Since(t)
		t = time.Now()
		commit(small)
		commit(small)
		smallTime += time.Since(t)
	}
	commits := float64(2 * i)
	ledgerRate, rawRate, smallRate := commits/ledgerTime.Seconds(), commits/rawTime.Seconds(), commits/smallTime.Seconds()
	b.ReportMetric(ledgerRate, "ledger-commits/s")
	b.ReportMetric(rawRate, "raw-commits/s")
	b.ReportMetric(ledgerRate/rawRate, "ledger/raw")
	b.ReportMetric(ledgerRate/smallRate, "ledger/raw1row")

	// Then, untimed, the pages each kind of cycle writes: the WAL frames
	// that 256 more cycles append, in batches short enough that no
	// connection checkpoints meanwhile (the ledger's write connection keeps
	// SQLite's automatic checkpoint at 1000 frames; a checkpoint would
	// restart the WAL), the WAL emptied before each batch.
	b.StopTimer()
	var file string
	var pageSize int64
	if err := db.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		b.Fatal(err)
	}
	walFrames := func() int64 {
		st, err := os.Stat(file + "-wal")
		if err != nil {
			return 0
		}
		return max(0, st.Size()-32) / (24 + pageSize)
	}
	var ledgerFrames, rawFrames int64
	const cycles, batch = 256, 32
	for k := range cycles {
		if k%batch == 0 {
			var busy, log, done int64
			if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &done); err != nil || busy != 0 || walFrames() != 0 {
				b.Fatalf("checkpoint before a batch: busy %d, %v; %d frames left in the WAL", busy, err, walFrames())
			}
		}
		job := fmt.Sprintf("%s%09d", prefix, i+k)
		f := walFrames()
		ledgerCycle(job)
		ledgerFrames += walFrames() - f
		f = walFrames()
		rawCycle(job)
		rawFrames += walFrames() - f
	}
	b.ReportMetric(float64(ledgerFrames)/cycles, "ledger-pages/cycle")
	b.ReportMetric(float64(rawFrames)/cycles, "raw-pages/cycle")
}

// loadJobs books n finished jobs in one transaction with direct inserts.
func loadJobs(b *testing.B, l *accounting.Ledger, n int, now time.Time) {
	ctx := context.Background()
	const projects, users = 100, 500
	sites := []string{"ca", "de"}
	partitions := []struct {
		name string
		rate int64
	}{{"cpu", 1000}, {"gpu", 2500}, {"bigmem", 1500}}
	for p := range projects {
		MustProject(b, l, fmt.Sprintf("p%d", p))
	}
	allocs := map[string]int64{}
	for p := range projects {
		for _, s := range sites {
			a := MustAllocation(b, l, accounting.NewAllocation{Project: fmt.Sprintf("p%d", p), Site: s, SlurmAccount: fmt.Sprintf("def-p%d", p),
				StartsAt: year(2026), EndsAt: year(2027), Overdraft: accounting.UnlimitedOverdraft, Grant: 1 << 40, Who: "bench"})
			allocs[fmt.Sprintf("p%d/%s", p, s)] = a.ID
		}
	}
	for _, s := range sites {
		for _, p := range partitions {
			MustRate(b, l, s, p.name, p.rate, year(2025))
		}
	}

	db := l.DB()
	conn, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	// A larger page cache for the bulk load on this connection only.
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
		b.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	insJob, err := tx.PrepareContext(ctx, `INSERT INTO acct_jobs
		(job_id, tag, allocation_id, project, site, slurm_partition, user_name, nodes, cpus_per_node, time_limit, rate, hold_amount, held_at, cluster, site_job_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	insEntry, err := tx.PrepareContext(ctx, `INSERT INTO acct_entries
		(kind, allocation_id, job_id, amount, from_hold, overrun, cpu_seconds, rate, month, at, recorded_at, who, why)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'bench', '')`)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(42, 42))
	yearSecs := int64(365 * 24 * 3600)
	for i := range n {
		// Each user works in one project (5 users a project).
		u := rng.IntN(users)
		project := fmt.Sprintf("p%d", u%projects)
		site := sites[rng.IntN(len(sites))]
		part := partitions[rng.IntN(len(partitions))]
		user := fmt.Sprintf("u%d", u)
		nodes, cpus := int64(rng.IntN(4)+1), int64(1<<rng.IntN(6))
		limit := int64(rng.IntN(48)+1) * 1800
		end := year(2026).Unix() + 3*24*3600 + rng.Int64N(yearSecs-4*24*3600)
		heldAt := end - rng.Int64N(2*24*3600) - 60
		hold, err := accounting.HoldAmount(nodes, cpus, time.Duration(limit)*time.Second, part.rate)
		if err != nil {
			b.Fatal(err)
		}
		cpuSecs := rng.Int64N(nodes*cpus*limit*11/10 + 1)
		amount, err := accounting.ChargeAmount(cpuSecs, part.rate)
		if err != nil {
			b.Fatal(err)
		}
		fromHold := min(amount, hold)
		alloc := allocs[project+"/"+site]
		job := fmt.Sprintf("j%08d", i)
		if _, err := insJob.ExecContext(ctx, job, job, alloc, project, site, part.name, user, nodes, cpus, limit, part.rate,
			hold, heldAt, "c-"+site, strconv.Itoa(100000+i)); err != nil {
			b.Fatal(err)
		}
		heldMonth := int64(accounting.MonthOf(time.Unix(heldAt, 0)))
		endMonth := int64(accounting.MonthOf(time.Unix(end, 0)))
		for _, e := range []struct {
			kind                                 string
			amount, fromHold, overrun, cpu, rate int64
			month, at                            int64
		}{
			{"hold", hold, 0, 0, 0, part.rate, heldMonth, heldAt},
			{"charge", amount, fromHold, max(0, amount-hold), cpuSecs, part.rate, endMonth, end},
			{"release", hold - fromHold, 0, 0, 0, 0, endMonth, end},
		} {
			if _, err := insEntry.ExecContext(ctx, e.kind, alloc, job, e.amount, e.fromHold, e.overrun, e.cpu, e.rate,
				e.month, e.at, now.Unix()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
