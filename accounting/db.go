package accounting

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// DSNParams are the per-connection settings every connection to the ledger's
// database must have: write-ahead log, a full fsync at every commit, write
// transactions that take the write lock at BEGIN (so that a balance read and
// the hold that depends on it cannot interleave with another writer), a busy
// timeout instead of immediate SQLITE_BUSY, and foreign keys enforced. The
// last one, a cache of prepared statements per connection, is for speed only
// (a ledger insert compiles its triggers: ~0.1 ms saved per statement).
const DSNParams = "_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&_busy_timeout=5000&_foreign_keys=on&_stmt_cache_size=64"

// DSN is the data source name for the SQLite file at path, for the
// "sqlite3" driver (github.com/mattn/go-sqlite3), with DSNParams.
func DSN(file string) string {
	return "file:" + (&url.URL{Path: file}).EscapedPath() + "?" + DSNParams
}

// OpenDB opens (creating it if need be) the SQLite file at path with DSN and
// checks with CheckPragmas that the settings took effect. The database may be
// shared with other packages; Migrate or New set up the ledger's tables.
func OpenDB(ctx context.Context, file string) (*sql.DB, error) {
	if file == "" || file == ":memory:" || strings.HasPrefix(file, "file:") {
		return nil, fmt.Errorf("accounting: open: %w: want the path of a database file, got %q", ErrInvalid, file)
	}
	db, err := sql.Open("sqlite3", DSN(file))
	if err != nil {
		return nil, fmt.Errorf("accounting: open %s: %w", file, err)
	}
	if err := CheckPragmas(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("accounting: open %s: %w", file, err)
	}
	return db, nil
}

// CheckPragmas verifies, on a connection of db, that the journal mode is WAL,
// synchronous is FULL (or EXTRA), foreign keys are on and a busy timeout is
// set. It cannot see the transaction lock mode: the caller's DSN must have
// _txlock=immediate (see DSNParams).
func CheckPragmas(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("check pragmas: %w", err)
	}
	defer conn.Close()
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("check pragmas: journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("%w: journal_mode is %q, want wal", ErrDatabase, mode)
	}
	var syncMode, fk, busy int
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return fmt.Errorf("check pragmas: synchronous: %w", err)
	}
	if syncMode < 2 { // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
		return fmt.Errorf("%w: synchronous is %d, want 2 (FULL)", ErrDatabase, syncMode)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("check pragmas: foreign_keys: %w", err)
	}
	if fk != 1 {
		return fmt.Errorf("%w: foreign_keys is off", ErrDatabase)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		return fmt.Errorf("check pragmas: busy_timeout: %w", err)
	}
	if busy <= 0 {
		return fmt.Errorf("%w: busy_timeout is 0", ErrDatabase)
	}
	return nil
}

// SchemaVersionTable is the table that records which of the ledger's
// migrations a database has run. Other packages sharing the file keep their
// own.
const SchemaVersionTable = "accounting_schema_version"

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the embedded files migrations/NNNN_name.sql, numbered 1, 2,
// 3... without gaps.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", base)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestSchemaVersion is the number of the last embedded migration.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate brings the ledger's tables in db up to date: each embedded
// migration not yet applied runs in its own transaction together with the
// row that records it in accounting_schema_version, so a migration is either
// wholly applied or not at all. It is safe to call at every start and from
// several processes (the transactions are serialized). A database migrated by
// a newer version of this package is refused with ErrDatabase.
func Migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("accounting: migrate: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m); err != nil {
			return fmt.Errorf("accounting: migrate %s: %w", m.name, err)
		}
	}
	v, err := SchemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if latest := len(ms); v > latest {
		return fmt.Errorf("accounting: migrate: %w: schema version %d is newer than this program's %d", ErrDatabase, v, latest)
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+SchemaVersionTable+` (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+SchemaVersionTable+` WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil // already applied
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if check := migrationChecks[m.version]; check != nil {
		if err := check(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+SchemaVersionTable+` (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// migrationChecks check, in a migration's transaction, what its SQL cannot
// check itself.
var migrationChecks = map[int]func(ctx context.Context, tx *sql.Tx) error{
	// Migration 7 rewrites the text of acct_entries' kind check, as
	// migration 1 wrote it; a table defined otherwise would keep its old
	// check silently.
	7: func(ctx context.Context, tx *sql.Tx) error {
		var text string
		if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'acct_entries'`).Scan(&text); err != nil {
			return err
		}
		if strings.Contains(text, "kind IN (") || !strings.Contains(text, "kind = 'adjust')") {
			return fmt.Errorf("%w: acct_entries is not defined as migration 1 defined it; its kind check was not rewritten", ErrDatabase)
		}
		return nil
	},
}

// SchemaVersion is the highest ledger migration applied to db, 0 if none.
func SchemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var exists int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, SchemaVersionTable).Scan(&exists); err != nil {
		return 0, fmt.Errorf("accounting: schema version: %w", err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM `+SchemaVersionTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("accounting: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// Backup writes a consistent copy of the whole database file (the ledger and
// whatever else shares the file) to dest with VACUUM INTO, while other
// connections keep reading and writing. dest must not exist.
func Backup(ctx context.Context, db *sql.DB, dest string) error {
	if dest == "" {
		return fmt.Errorf("accounting: backup: %w: no destination", ErrInvalid)
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("accounting: backup to %s: %w: the file exists", dest, ErrConflict)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("accounting: backup to %s: %w", dest, err)
	}
	// Into a temporary file beside dest, then linked to dest (which fails
	// rather than overwrite a file that appeared meanwhile): a failed or
	// cancelled backup leaves no partial file at dest.
	tmp := fmt.Sprintf("%s.tmp-%d-%d", dest, os.Getpid(), time.Now().UnixNano())
	defer os.Remove(tmp)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return fmt.Errorf("accounting: backup to %s: %w", dest, err)
	}
	if err := os.Link(tmp, dest); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("accounting: backup to %s: %w: the file exists", dest, ErrConflict)
		}
		return fmt.Errorf("accounting: backup to %s: %w", dest, err)
	}
	return nil
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

// isTrigger reports whether err is a RAISE(ABORT) from one of the triggers
// that guard the ledger's invariants.
func isTrigger(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintTrigger
}

// probeWrite checks on a connection of db that it may write: it takes the
// write lock, rewrites the caches' mark as it is (the mark's triggers let an
// unchanged mark through) and rolls back.
func probeWrite(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `UPDATE acct_cache_mark SET entry_id = entry_id WHERE id = 1`)
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		err = errors.Join(err, rerr)
	}
	return err
}

// openWriter opens the ledger's write connection to db's file: DSN's
// settings, and temp_store=MEMORY (see writeTx). The pool holds one
// connection, kept open: the ledger's own writes take turns on it. It uses
// go-sqlite3, the library the caller's connections must use too: two SQLite
// libraries in one process would not see each other's POSIX locks.
func openWriter(ctx context.Context, db *sql.DB) (*sql.DB, error) {
	var file string
	if err := db.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		return nil, fmt.Errorf("write connection: %w", err)
	}
	if file == "" {
		return nil, fmt.Errorf("write connection: %w: the database is not a file", ErrInvalid)
	}
	w := sql.OpenDB(writerConnector{DSN(file)})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	if err := CheckPragmas(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("write connection: %w", err)
	}
	return w, nil
}

// writerDriver opens the connections of the ledger's writes: go-sqlite3's,
// with temp_store set to MEMORY as each connection opens.
var writerDriver = &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
	_, err := c.Exec("PRAGMA temp_store = MEMORY", nil)
	return err
}}

// writerConnector opens writerDriver's connections to one DSN.
type writerConnector struct{ dsn string }

func (c writerConnector) Connect(context.Context) (driver.Conn, error) {
	return writerDriver.Open(c.dsn)
}
func (c writerConnector) Driver() driver.Driver { return writerDriver }
