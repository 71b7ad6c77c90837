package accounting_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

func TestOpenSetsDurabilityPragmasOnEveryConnection(t *testing.T) {
	ctx := t.Context()
	db, err := accounting.OpenDB(ctx, filepath.Join(t.TempDir(), "a b?#.db")) // a name that needs escaping
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Hold several connections at once so that the pool opens new ones.
	var conns []*sql.Conn
	for range 4 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var mode string
		var syncMode, fk, busy int
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || syncMode != 2 || fk != 1 || busy != 5000 {
			t.Errorf("connection %d: journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d; want wal 2 1 5000",
				i, mode, syncMode, fk, busy)
		}
		c.Close()
	}
}

func TestNewRefusesADatabaseWithoutTheDurabilitySettings(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	tests := []struct {
		name, params, want string
	}{
		{"rollback journal", "_synchronous=FULL&_foreign_keys=on&_busy_timeout=100", "journal_mode"},
		{"wal's default synchronous=NORMAL", "_journal_mode=WAL&_foreign_keys=on&_busy_timeout=100", "synchronous"},
		{"no foreign keys", "_journal_mode=WAL&_synchronous=FULL&_busy_timeout=100", "foreign_keys"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, string(rune('a'+i))+".db")+"?"+tt.params)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_, err = accounting.New(ctx, db, accounting.Options{})
			if !errors.Is(err, accounting.ErrDatabase) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want ErrDatabase about %s", err, tt.want)
			}
		})
	}
}

func TestMigrateOnASharedDatabase(t *testing.T) {
	ctx := t.Context()
	db, err := accounting.OpenDB(ctx, filepath.Join(t.TempDir(), "shared.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Another package's table and version table in the same file.
	if _, err := db.ExecContext(ctx, `CREATE TABLE jobs (id TEXT PRIMARY KEY);
		CREATE TABLE gateway_schema_version (version INTEGER PRIMARY KEY);
		INSERT INTO gateway_schema_version VALUES (7); INSERT INTO jobs VALUES ('j1')`); err != nil {
		t.Fatal(err)
	}
	if v, err := accounting.SchemaVersion(ctx, db); err != nil || v != 0 {
		t.Fatalf("version before migrating = %d, %v; want 0", v, err)
	}
	for range 2 { // the second run must be a no-op
		if err := accounting.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	v, err := accounting.SchemaVersion(ctx, db)
	if err != nil || v != accounting.LatestSchemaVersion() || v < 1 {
		t.Fatalf("version = %d, %v; want %d", v, err, accounting.LatestSchemaVersion())
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+accounting.SchemaVersionTable).Scan(&n); err != nil || n != v {
		t.Fatalf("%d version rows (%v), want %d", n, err, v)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM jobs`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the other package's table was disturbed: %d rows, %v", n, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT version FROM gateway_schema_version`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("the other package's version = %d, %v", n, err)
	}
	// Every table of the ledger is prefixed, so it cannot collide.
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type IN ('table', 'index', 'trigger')
		AND name NOT LIKE 'sqlite_%' AND name NOT IN ('jobs', 'gateway_schema_version')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "acct_") && name != accounting.SchemaVersionTable {
			t.Errorf("ledger object %q is not prefixed acct_", name)
		}
	}
}

func TestMigrateRefusesANewerSchema(t *testing.T) {
	l, _ := MustLedger(t)
	ctx := t.Context()
	if _, err := l.DB().ExecContext(ctx, `INSERT INTO `+accounting.SchemaVersionTable+` VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	err := accounting.Migrate(ctx, l.DB())
	if !errors.Is(err, accounting.ErrDatabase) {
		t.Fatalf("Migrate on a newer schema: %v, want ErrDatabase", err)
	}
}

func TestEntriesAreAppendOnly(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j1", 1, time.Hour))
	for _, stmt := range []string{
		`UPDATE acct_entries SET amount = 0`,
		`DELETE FROM acct_entries`,
		`UPDATE acct_allocations SET ends_at = ends_at + 1`,
		`DELETE FROM acct_allocations`,
		`UPDATE acct_jobs SET hold_amount = 1`,
		`DELETE FROM acct_jobs`,
		`UPDATE acct_rates SET thousandths = 1`,
		`DELETE FROM acct_rates`,
	} {
		if _, err := f.l.DB().ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "accounting:") {
			t.Errorf("%s: error = %v, want the trigger's refusal", stmt, err)
		}
	}
	MustVerify(t, f.l)
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	if b.HeldCoreSeconds != accounting.CoreHour {
		t.Errorf("held = %d after refused tampering, want %d", b.HeldCoreSeconds, accounting.CoreHour)
	}
}

// Every column of a job's record but the ids of its entries is refused a
// change, whatever else the UPDATE sets (the trigger fires on UPDATE OF the
// columns, read here from the table so that a column added later without
// the trigger fails this test).
func TestJobRecordColumnsAreImmutable(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j1", 1, time.Hour))
	if err := f.l.RecordSiteJob(ctx, accounting.SiteJob{JobID: "j1", Cluster: "c", SiteJobID: "7"}); err != nil {
		t.Fatal(err)
	}
	rows, err := f.l.DB().QueryContext(ctx, `SELECT name FROM pragma_table_info('acct_jobs')`)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	checked := 0
	for _, c := range cols {
		if strings.HasSuffix(c, "_entry_id") {
			continue
		}
		for _, stmt := range []string{
			`UPDATE acct_jobs SET ` + c + ` = CASE typeof(` + c + `) WHEN 'integer' THEN ` + c + ` + 1 ELSE ` + c + ` || 'x' END`,
			`UPDATE acct_jobs SET release_entry_id = release_entry_id, ` + c + ` = CASE typeof(` + c + `) WHEN 'integer' THEN ` + c + ` + 1 ELSE ` + c + ` || 'x' END`,
		} {
			if _, err := f.l.DB().ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "immutable") {
				t.Errorf("%s: error = %v, want the trigger's refusal", stmt, err)
			}
		}
		checked++
	}
	if checked != 15 {
		t.Errorf("checked %d columns of %v, want 15", checked, cols)
	}
	MustVerify(t, f.l)
}

// Verify catches a cache that disagrees with the entries (here, one changed
// behind the triggers' back).
func TestVerifyDetectsATamperedCache(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j1", 1, time.Hour))
	MustSettle(t, f.l, "j1", 1800, t0.Add(time.Hour))
	MustHold(t, f.l, hold("j2", 1, time.Hour))
	if err := f.l.FoldCaches(ctx); err != nil { // else the caches hold only the grant
		t.Fatal(err)
	}
	MustVerify(t, f.l)
	for _, stmt := range []string{
		`UPDATE acct_balances SET charged = charged + 1`,
		`UPDATE acct_usage_monthly SET jobs = jobs + 1`,
		`INSERT INTO acct_open_holds SELECT job_id, held_at FROM acct_jobs WHERE job_id = 'j1'`,
	} {
		tx, err := f.l.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := f.l.Verify(ctx); !errors.Is(err, accounting.ErrInconsistent) {
			t.Fatalf("after %s: Verify = %v, want ErrInconsistent", stmt, err)
		}
		t.Logf("after %s: %v", stmt, f.l.Verify(ctx))
		// Undo, to test the next cache alone.
		undo := map[string]string{
			`UPDATE acct_balances SET charged = charged + 1`:                                        `UPDATE acct_balances SET charged = charged - 1`,
			`UPDATE acct_usage_monthly SET jobs = jobs + 1`:                                         `UPDATE acct_usage_monthly SET jobs = jobs - 1`,
			`INSERT INTO acct_open_holds SELECT job_id, held_at FROM acct_jobs WHERE job_id = 'j1'`: `DELETE FROM acct_open_holds WHERE job_id = 'j1'`,
		}[stmt]
		if _, err := f.l.DB().ExecContext(ctx, undo); err != nil {
			t.Fatal(err)
		}
		MustVerify(t, f.l)
	}
}

// Backup copies the database while a writer keeps booking; the copy opens,
// passes integrity_check and Verify, and holds every entry committed before
// the backup began.
func TestOnlineBackup(t *testing.T) {
	f := MustFixture(t, 1_000_000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	for i := range 50 {
		MustHold(t, f.l, hold(jobName(i), 4, time.Hour))
	}
	before, err := f.l.Entries(ctx, accounting.EntryQuery{})
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writerErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 50; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.l.PlaceHold(ctx, hold(jobName(i), 4, time.Hour)); err != nil {
				writerErr = err
				return
			}
		}
	}()
	dest := filepath.Join(t.TempDir(), "backup.db")
	err = f.l.Backup(ctx, dest)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if writerErr != nil {
		t.Fatalf("writer during backup: %v", writerErr)
	}
	if err := f.l.Backup(ctx, dest); !errors.Is(err, accounting.ErrConflict) {
		t.Errorf("backup over an existing file: %v, want ErrConflict", err)
	}

	cp, err := accounting.Open(ctx, dest, accounting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var ok string
	if err := cp.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check of the copy = %q, %v", ok, err)
	}
	MustVerify(t, cp)
	after, err := cp.Entries(ctx, accounting.EntryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) < len(before) {
		t.Fatalf("copy has %d entries, %d were committed before the backup", len(after), len(before))
	}
	for i, e := range before {
		if after[i] != e {
			t.Fatalf("entry %d differs in the copy: %+v vs %+v", e.ID, after[i], e)
		}
	}
	AssertBalanceIsSumOfEntries(t, cp, f.alloc.ID)
}

func jobName(i int) string { return "job-" + strconv.Itoa(i) }

// Verify catches a job row that names the wrong entry as its charge (the ids
// are set once, by the triggers, but plain SQL can set one that is unset).
func TestVerifyDetectsAJobNamingAnotherEntry(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	h := MustHold(t, f.l, hold("j1", 1, time.Hour))
	MustVerify(t, f.l)
	if _, err := f.l.DB().ExecContext(ctx, `UPDATE acct_jobs SET charge_entry_id = ? WHERE job_id = 'j1'`, h.EntryID); err != nil {
		t.Fatal(err)
	}
	if err := f.l.Verify(ctx); !errors.Is(err, accounting.ErrInconsistent) {
		t.Fatalf("Verify = %v, want ErrInconsistent", err)
	}
	if _, err := f.l.DB().ExecContext(ctx, `UPDATE acct_jobs SET charge_entry_id = NULL WHERE job_id = 'j1'`); err == nil {
		t.Fatal("a job's charge entry id was unset")
	}
}

// Entries that would take a job's hold below zero, or land behind the
// caches' mark, are refused at their insert, as is moving the mark back.
func TestTriggersRefuseEntriesTheCachesCouldNotFold(t *testing.T) {
	f := MustFixture(t, 100*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustHold(t, f.l, hold("j1", 1, time.Hour))
	MustHold(t, f.l, hold("j2", 1, time.Hour))
	MustSettle(t, f.l, "j2", 1800, t0.Add(time.Hour))
	if err := f.l.FoldCaches(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.DB().ExecContext(ctx, `INSERT INTO acct_jobs (job_id, tag, allocation_id, project, site, slurm_partition,
		user_name, nodes, cpus_per_node, time_limit, rate, hold_amount, held_at)
		VALUES ('j0', 't0', 1, 'climate', 'ca', 'cpu', 'alice', 1, 1, 3600, 1000, 3600, 0)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ stmt, refusal string }{
		// More than j1 holds.
		{`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, month, at, recorded_at, who)
			VALUES ('release', 1, 'j1', 3601, 202603, 0, 0, 'x')`, "a release gives back at most what its job holds"},
		// From j1's hold, more than it holds.
		{`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, from_hold, month, at, recorded_at, who)
			VALUES ('charge', 1, 'j1', 4000, 3601, 202603, 0, 0, 'x')`, "a charge takes from the hold at most what its job holds"},
		// A second charge of j2, settled.
		{`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, from_hold, month, at, recorded_at, who)
			VALUES ('charge', 1, 'j2', 10, 1, 202603, 0, 0, 'x')`, "a job has at most one hold, one charge and one release"},
		// From j2's hold, more than its release left.
		{`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, from_hold, month, at, recorded_at, who)
			VALUES ('charge', 1, 'j2', 2000, 1801, 202603, 0, 0, 'x')`, "a charge takes from the hold at most what its job holds"},
		// A release of j1 to another allocation.
		{`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, month, at, recorded_at, who)
			VALUES ('release', 2, 'j1', 1, 202603, 0, 0, 'x')`, "a release gives back at most what its job holds, to its job's allocation"},
		// A second hold of another amount.
		{`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, rate, month, at, recorded_at, who)
			VALUES ('hold', 1, 'j1', 1, 1000, 202603, 0, 0, 'x')`, "a hold is its job's hold amount"},
		// A second hold of the same amount.
		{`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, rate, month, at, recorded_at, who)
			VALUES ('hold', 1, 'j1', 3600, 1000, 202603, 0, 0, 'x')`, "a job has at most one hold, one charge and one release"},
		// A job booked with plain SQL without its hold entry (j0, below):
		// nothing held to release or to charge from.
		{`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, month, at, recorded_at, who)
			VALUES ('release', 1, 'j0', 1, 202603, 0, 0, 'x')`, "a release gives back at most what its job holds"},
		{`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, from_hold, month, at, recorded_at, who)
			VALUES ('charge', 1, 'j0', 10, 1, 202603, 0, 0, 'x')`, "a charge takes from the hold at most what its job holds"},
		// Behind the mark.
		{`INSERT INTO acct_entries (entry_id, kind, allocation_id, amount, month, at, recorded_at, who)
			VALUES (0, 'grant', 1, 1, 202603, 0, 0, 'x')`, "an entry is booked after the last one"},
		{`UPDATE acct_cache_mark SET entry_id = entry_id - 1`, "accounting:"},
		{`UPDATE acct_cache_mark SET entry_id = entry_id + 1`, "accounting:"},
		{`DELETE FROM acct_cache_mark`, "accounting:"},
	} {
		if _, err := f.l.DB().ExecContext(ctx, c.stmt); err == nil || !strings.Contains(err.Error(), c.refusal) {
			t.Errorf("%s: error = %v, want the refusal %q", c.stmt, err, c.refusal)
		}
	}
	// j0's hold, booked late: the ledger is whole again.
	if _, err := f.l.DB().ExecContext(ctx, `INSERT INTO acct_entries (kind, allocation_id, job_id, amount, rate, month, at, recorded_at, who)
		VALUES ('hold', 1, 'j0', 3600, 1000, 197001, 0, 0, 'x')`); err != nil {
		t.Fatal(err)
	}
	// A fold as code from before schema 5 made it: the mark moved over an
	// entry without indexing it by allocation.
	MustHold(t, f.l, hold("j3", 1, time.Hour))
	if _, err := f.l.DB().ExecContext(ctx, `UPDATE acct_cache_mark SET entry_id = (SELECT max(entry_id) FROM acct_entries)`); err == nil ||
		!strings.Contains(err.Error(), "indexed by allocation") {
		t.Errorf("mark moved over an entry not indexed: error = %v, want the trigger's refusal", err)
	}
	MustVerify(t, f.l)
	if err := f.l.FoldCaches(ctx); err != nil {
		t.Fatal(err)
	}
	MustVerify(t, f.l)
}

// New refuses a pool that cannot write (opened read-only): the ledger's own
// write connection would write past it.
func TestNewRefusesAReadOnlyPool(t *testing.T) {
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "ledger.db")
	l, err := accounting.Open(ctx, file, accounting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	MustProject(t, l, "p")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := sql.Open("sqlite3", accounting.DSN(file)+"&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if l, err := accounting.New(ctx, ro, accounting.Options{}); err == nil || !strings.Contains(err.Error(), "cannot write") {
		if err == nil {
			l.Close()
		}
		t.Fatalf("New over a read-only pool = %v, want a refusal", err)
	}
}
