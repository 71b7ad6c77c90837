package accounting

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A database booked under each older schema upgrades to the latest: the
// migrations carry its entries over, Verify passes, and the rules hold on
// the upgraded data.
func TestMigrateUpgradesABookedDatabase(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for upTo := 1; upTo < len(ms); upTo++ {
		t.Run(ms[upTo-1].name, func(t *testing.T) {
			ctx := t.Context()
			db := dbAtSchema(t, ms, upTo)
			// Booked with plain SQL, as that version's code would have: its
			// triggers keep its caches.
			for _, q := range []string{
				`INSERT INTO acct_projects (project, created_at, created_by) VALUES ('p', 0, 'a')`,
				`INSERT INTO acct_allocations (allocation_id, project, site, starts_at, ends_at, created_at, created_by)
					VALUES (1, 'p', 'ca', 1767225600, 1798761600, 0, 'a')`,
				`INSERT INTO acct_rates (site, slurm_partition, effective_from, thousandths, created_at, created_by)
					VALUES ('ca', 'cpu', 0, 1000, 0, 'a')`,
				`INSERT INTO acct_entries (kind, allocation_id, amount, month, at, recorded_at, who)
					VALUES ('grant', 1, 1000000, 202601, 1767225600, 1767225600, 'a')`,
				`INSERT INTO acct_jobs (job_id, tag, allocation_id, project, site, slurm_partition, user_name, nodes,
					cpus_per_node, time_limit, rate, hold_amount, held_at)
					VALUES ('j1', 't1', 1, 'p', 'ca', 'cpu', 'u', 1, 4, 3600, 1000, 14400, 1772000000),
					       ('j2', 't2', 1, 'p', 'ca', 'cpu', 'u', 1, 4, 3600, 1000, 14400, 1772000100),
					       ('j3', 't3', 1, 'p', 'ca', 'cpu', 'u', 1, 4, 3600, 1000, 14400, 1772000200)`,
				`INSERT INTO acct_entries (kind, allocation_id, job_id, amount, from_hold, overrun, cpu_seconds, rate, month, at, recorded_at, who)
					VALUES ('hold', 1, 'j1', 14400, 0, 0, 0, 1000, 202602, 1772000000, 1772000000, 'g'),
					       ('hold', 1, 'j2', 14400, 0, 0, 0, 1000, 202602, 1772000100, 1772000100, 'g'),
					       ('hold', 1, 'j3', 14400, 0, 0, 0, 1000, 202602, 1772000200, 1772000200, 'g'),
					       ('charge', 1, 'j1', 20000, 14400, 5600, 20000, 1000, 202602, 1772003600, 1772003700, 'g'),
					       ('release', 1, 'j1', 0, 0, 0, 0, 0, 202602, 1772003700, 1772003700, 'g'),
					       ('release', 1, 'j3', 14400, 0, 0, 0, 0, 202602, 1772000300, 1772000300, 'g'),
					       ('refund', 1, 'j1', 600, 0, 0, 0, 0, 202602, 1772009000, 1772009000, 'admin')`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			now := time.Unix(1772010000, 0)
			l, err := New(ctx, db, Options{Now: func() time.Time { return now }}) // migrates
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if v, err := SchemaVersion(ctx, db); err != nil || v != len(ms) {
				t.Fatalf("schema version %d, %v; want %d", v, err, len(ms))
			}
			if err := l.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			j1, err := l.Job(ctx, "j1")
			if err != nil {
				t.Fatal(err)
			}
			if j1.Charge == nil || j1.Charge.CoreSeconds != 20000 || !j1.Released || j1.RefundedCoreSeconds != 600 || j1.HeldCoreSeconds != 0 {
				t.Errorf("j1 = %+v", j1)
			}
			es, err := l.Entries(ctx, EntryQuery{JobID: "j1"})
			if err != nil || len(es) != 4 {
				t.Errorf("j1's entries: %d, %v", len(es), err)
			}
			holds, err := l.OpenHolds(ctx, now)
			if err != nil || len(holds) != 1 || holds[0].JobID != "j2" {
				t.Errorf("open holds = %+v, %v", holds, err)
			}
			// The carried-over entries count for idempotency.
			c, err := l.ChargeJob(ctx, ChargeRequest{JobID: "j1", CPUSeconds: 20000, EndedAt: time.Unix(1772003600, 0), Who: "g"})
			if err != nil || !c.Replayed {
				t.Errorf("charge j1 again = %+v, %v", c, err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO acct_entries (kind, allocation_id, job_id, amount, month, at, recorded_at, who)
				VALUES ('release', 1, 'j3', 1, 202602, 0, 0, 'x')`); err == nil || !strings.Contains(err.Error(), "accounting:") {
				t.Errorf("a second release of j3: %v", err)
			}
			if _, err := l.SettleJob(ctx, ChargeRequest{JobID: "j2", CPUSeconds: 100, EndedAt: now, Who: "g"}); err != nil {
				t.Fatal(err)
			}
			if err := l.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Migration 7: booking an entry opens no ephemeral table (the check of its
// kind was an IN over six constants), also on a connection that read the
// schema before the migration; a kind outside the six is still refused.
func TestEntryKindCheckOpensNoEphemeralTable(t *testing.T) {
	ctx := t.Context()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db := dbAtSchema(t, ms, 6)
	explains := 0
	ephemeral := func(c *sql.Conn) bool {
		t.Helper()
		// A statement that reads the file first: EXPLAIN alone does not,
		// and so does not see a change of the schema by another connection.
		if _, err := c.ExecContext(ctx, `SELECT count(*) FROM acct_entries`); err != nil {
			t.Fatal(err)
		}
		// Each EXPLAIN a text of its own: go-sqlite3 crashed (SIGSEGV) when
		// it stepped a cached EXPLAIN that SQLite had re-prepared after the
		// schema changed.
		explains++
		rows, err := c.QueryContext(ctx, "EXPLAIN "+insertEntrySQL+" -- "+strconv.Itoa(explains), make([]any, 14)...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(sql.RawBytes)
		}
		found := false
		for rows.Next() {
			if err := rows.Scan(vals...); err != nil {
				t.Fatal(err)
			}
			if string(*vals[1].(*sql.RawBytes)) == "OpenEphemeral" {
				found = true
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return found
	}
	early, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	if !ephemeral(early) {
		t.Fatal("under schema 6, the entry INSERT opens no ephemeral table: this test no longer sees what it checks")
	}
	// Migration 7 alone: the next ones change the schema too, which would
	// hide a connection left with the old one.
	if err := applyMigration(ctx, db, ms[6]); err != nil {
		t.Fatal(err)
	}
	late, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	for name, c := range map[string]*sql.Conn{"a connection open before the migration": early, "a new connection": late} {
		if ephemeral(c) {
			t.Errorf("%s: the entry INSERT opens an ephemeral table", name)
		}
	}
	var text string
	if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE name = 'acct_entries'`).Scan(&text); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "kind IN (") || !strings.Contains(text, "kind = 'adjust')") {
		t.Errorf("acct_entries after migration 7:\n%s", text)
	}
	for _, c := range []*sql.Conn{early, late} {
		_, err := c.ExecContext(ctx, `INSERT INTO acct_entries (kind, allocation_id, amount, month, at, recorded_at, who)
			VALUES ('gift', 1, 1, 202601, 0, 0, 'a')`)
		if err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
			t.Errorf("an entry of kind 'gift': %v, want a CHECK constraint failure", err)
		}
	}
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check: %q, %v", ok, err)
	}
}

// Migration 7 rewrites the text migration 1 wrote; over a table defined
// otherwise it fails rather than keep the old check silently.
func TestEntryKindCheckMigrationRefusesAnotherDefinition(t *testing.T) {
	ctx := t.Context()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db := dbAtSchema(t, ms, 6)
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"PRAGMA writable_schema = ON",
		`UPDATE sqlite_schema SET sql = replace(sql, 'kind IN (', 'kind IN  (') WHERE name = 'acct_entries'`,
		"PRAGMA writable_schema = RESET", "CREATE TABLE cookie (x)", "DROP TABLE cookie"} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	c.Close()
	if err := applyMigration(ctx, db, ms[6]); !errors.Is(err, ErrDatabase) {
		t.Fatalf("migration 7 over another definition = %v, want ErrDatabase", err)
	}
	if v, err := SchemaVersion(ctx, db); err != nil || v != 6 {
		t.Fatalf("schema version %d, %v; want 6", v, err)
	}
}

// dbAtSchema is a new database file with the first n of ms applied, closed
// when the test ends.
func dbAtSchema(t *testing.T, ms []migration, n int) *sql.DB {
	t.Helper()
	db, err := OpenDB(t.Context(), filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, m := range ms[:n] {
		if err := applyMigration(t.Context(), db, m); err != nil {
			t.Fatal(err)
		}
	}
	return db
}
