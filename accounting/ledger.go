package accounting

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Options configure a Ledger.
type Options struct {
	// Now is the ledger's clock: the recorded time of every entry and the
	// default time of holds, balances and re-checks. Nil means time.Now.
	Now func() time.Time
}

// Ledger is the core-hour ledger kept in a SQLite database. It is safe for
// concurrent use. Its own write methods run one at a time (one writer); each
// is one immediate transaction, on a connection of the ledger's own to the
// same file (see writeTx). Every write also exists as a ...Tx method on a
// transaction of the caller's, which the method neither commits nor rolls
// back: it runs inside a savepoint, so that when it fails the caller's
// transaction is left exactly as it was.
type Ledger struct {
	db    *sql.DB // the caller's pool (or Open's): reads, and DB()
	owned bool
	now   func() time.Time
	w     *sql.DB // the ledger's own write connection: one, at temp_store=MEMORY (see writeTx)
}

// Open opens the SQLite file at path with OpenDB, migrates it and returns a
// Ledger that owns the database (Close closes it).
func Open(ctx context.Context, file string, opts Options) (*Ledger, error) {
	db, err := OpenDB(ctx, file)
	if err != nil {
		return nil, err
	}
	l, err := New(ctx, db, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	l.owned = true
	return l, nil
}

// New returns a Ledger over a database the caller opened with go-sqlite3
// (with DSN, or at least DSNParams, so that it can be shared with the
// caller's own tables). It checks the pragmas, that the caller's connections
// may write, runs Migrate and FoldCaches. The caller keeps ownership of db,
// and must Close the ledger when done with it.
//
// The ledger's reads and its ...Tx methods use db. Its own writes go through
// one connection of its own to db's file, opened with DSN by go-sqlite3 (see
// writeTx): the caller's other DSN options (a longer busy timeout, an
// exclusive locking mode, which the ledger does not support) and its
// driver's hooks do not apply to them. Writes that must go through the
// caller's connections go through the ...Tx methods.
func New(ctx context.Context, db *sql.DB, opts Options) (*Ledger, error) {
	if db == nil {
		return nil, fmt.Errorf("accounting: new ledger: %w: nil database", ErrInvalid)
	}
	if err := CheckPragmas(ctx, db); err != nil {
		return nil, fmt.Errorf("accounting: new ledger: %w", err)
	}
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	// The write connection would write whatever the caller's pool may do
	// (a pool opened read-only, mode=ro): its writes are tried first.
	if err := probeWrite(ctx, db); err != nil {
		return nil, fmt.Errorf("accounting: new ledger: the caller's connections cannot write: %w", err)
	}
	w, err := openWriter(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("accounting: new ledger: %w", err)
	}
	l := &Ledger{db: db, now: now, w: w}
	if err := l.FoldCaches(ctx); err != nil {
		w.Close()
		return nil, err
	}
	return l, nil
}

// DB is the ledger's database, for callers that begin transactions that
// combine their writes with the ledger's (...Tx methods).
func (l *Ledger) DB() *sql.DB { return l.db }

// Close closes the ledger's write connection, and the database if Open
// opened it.
func (l *Ledger) Close() error {
	err := l.w.Close()
	if l.owned {
		err = errors.Join(err, l.db.Close())
	}
	return err
}

// Backup writes a consistent copy of the database to dest (see Backup).
func (l *Ledger) Backup(ctx context.Context, dest string) error { return Backup(ctx, l.db, dest) }

func (l *Ledger) nowUTC() time.Time { return l.now().UTC().Truncate(time.Second) }

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ querier = (*sql.DB)(nil)
	_ querier = (*sql.Tx)(nil)
	_ querier = (*sql.Conn)(nil)
)

// ownTx is the connection of one of the ledger's own write transactions
// (see writeTx), begun with BEGIN IMMEDIATE on the ledger's write connection.
//
// The statements of a short write do not watch the caller's context while
// they run. go-sqlite3 watches a cancellable context with a goroutine per
// statement, which under a request's context made a hold and a settlement
// cost 60% more CPU; a short write's statements take microseconds. The
// context is checked before each statement instead (Exec and Query return
// its error without running) and before COMMIT, which a write whose context
// ended never reaches. The statements of a long write (FoldCaches, or any
// write that finds a long tail of entries to fold when it begins) watch the
// context.
type ownTx struct {
	*sql.Conn
	short bool
}

// detached is ctx without its cancellation, for a statement that must not
// be interrupted, or ctx's error if it has ended already.
func detached(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

func (t ownTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.short {
		var err error
		if ctx, err = detached(ctx); err != nil {
			return nil, err
		}
	}
	return t.Conn.ExecContext(ctx, query, args...)
}

func (t ownTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t.short {
		var err error
		if ctx, err = detached(ctx); err != nil {
			return nil, err
		}
	}
	return t.Conn.QueryContext(ctx, query, args...)
}

func (t ownTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if t.short && ctx.Err() == nil {
		ctx = context.WithoutCancel(ctx)
	}
	return t.Conn.QueryRowContext(ctx, query, args...)
}

// callerTx is the caller's transaction, given to a ...Tx method. The
// ledger's statements that write on it do not watch the caller's context:
// SQLite rolls back the whole transaction when it interrupts an INSERT,
// UPDATE or DELETE, which would undo the caller's own writes behind
// database/sql's back. The context is checked before each of them instead,
// and they are short: the fold a write may do on a caller's transaction is
// of a short tail only (see insertEntry). Its reads watch the context (an
// interrupted read leaves the transaction as it was).
type callerTx struct{ *sql.Tx }

func (t callerTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, err := detached(ctx)
	if err != nil {
		return nil, err
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// mustStayShort reports whether the writes on q do not watch their
// context (a short ownTx, a callerTx): a fold on q must then be short too.
func mustStayShort(q querier) bool {
	t, ok := q.(ownTx)
	return !ok || t.short
}

// write runs fn in one immediate transaction of the ledger's own, after the
// ledger's other writers (see writeTx).
func (l *Ledger) write(ctx context.Context, fn func(tx querier) error) error {
	return l.writeTx(ctx, false, fn)
}

// writeLong is write for a transaction whose statements may take long (see
// ownTx).
func (l *Ledger) writeLong(ctx context.Context, fn func(tx querier) error) error {
	return l.writeTx(ctx, true, fn)
}

// shortTail is the longest tail of entries not yet folded with which a
// write is short (see ownTx): its fold and the balance reads that add up
// the tail then take milliseconds at most.
const shortTail = 1 << 14

// tailSQL is the length of the tail in ids (at least its length in
// entries).
const tailSQL = `SELECT (SELECT coalesce(max(entry_id), 0) FROM acct_entries) - coalesce(` + markSQL + `, 0)`

// errLongTail is what a short write returns, rolled back before fn ran,
// when it finds a long tail: writeTx runs it again as a long write.
var errLongTail = errors.New("accounting: a long tail to fold")

// writeTx runs fn in one immediate transaction on the ledger's write
// connection (l.w), begun and ended with SQL rather than with BeginTx:
// database/sql runs a goroutine for every transaction and for every query
// made in one, which on a hold or a settlement cost as much CPU as the
// ledger's own statements. The pool holds one connection, so the ledger's
// own writes take turns (waiting for it watches ctx). Whatever ends fn (an
// error, a panic, a cancelled context), the connection goes back outside
// any transaction, or is closed.
//
// The write connection keeps its statement journals in memory
// (temp_store=MEMORY, set as it opens). Every statement of a write that may
// abort halfway (the entries' triggers make all of them such) copies the
// pages it changes into its statement journal. Under the default temp_store
// (FILE) that journal is a 64 KiB buffer allocated and freed at every
// statement, which the C allocator gives back to the kernel each time: on a
// hold and a settlement, 20-40 us of page faults and madvise calls a cycle,
// more than a third of the ledger's own CPU. The connection is the
// ledger's, so the setting touches no connection of the caller's (it would
// drop their TEMP tables), and the readers on the caller's pool keep theirs
// (Verify's peak RSS on a million jobs was 21 MB under FILE, 194 MB under
// MEMORY).
//
// A long write runs under FILE: under MEMORY nothing spills to disk, not
// even a sort, and a fold of a bulk import would hold it all in memory.
// SQLite reads the setting when a transaction begins, so a short write that
// finds a long tail when it begins (the tail is measured inside the
// transaction, after the write lock is taken) rolls back before fn runs and
// is run again as a long one.
func (l *Ledger) writeTx(ctx context.Context, long bool, fn func(tx querier) error) error {
	conn, err := l.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("accounting: waiting to write: %w", err)
	}
	defer conn.Close()
	if !long {
		if err := writeOn(ctx, conn, false, fn); err != errLongTail { //nolint:errorlint // errLongTail itself, not wrapped: the rollback worked
			return err
		}
	}
	return writeOn(ctx, conn, true, fn)
}

// writeOn is writeTx on conn, short or long.
func writeOn(ctx context.Context, conn *sql.Conn, long bool, fn func(tx querier) error) (err error) {
	if long {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA temp_store = FILE"); err != nil {
			return fmt.Errorf("accounting: begin: %w", err)
		}
		defer func() {
			// After the transaction has ended (the deferred endTx below
			// runs first): SQLite refuses the change inside one.
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA temp_store = MEMORY"); rerr != nil {
				// Closed rather than kept at FILE: the pool opens
				// another at MEMORY.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	committed := false
	defer func() {
		if !committed {
			// Also on a panic: a connection left inside BEGIN IMMEDIATE
			// would keep every writer of the file out.
			if rerr := endTx(ctx, conn); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
	}()
	// A short write's BEGIN does not watch ctx either (see ownTx): it waits
	// for the file's write lock at most the busy timeout (DSNParams).
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("accounting: begin: %w", err)
	}
	beginCtx := ctx
	if !long {
		beginCtx = context.WithoutCancel(ctx)
	}
	if _, err := conn.ExecContext(beginCtx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("accounting: begin: %w", err)
	}
	if !long {
		tail, err := tailLength(context.WithoutCancel(ctx), conn)
		if err != nil {
			return fmt.Errorf("accounting: begin: %w", err)
		}
		if tail > shortTail {
			return errLongTail
		}
	}
	if err := fn(ownTx{conn, !long}); err != nil {
		return err
	}
	// A context cancelled by now rolls the write back. Past this point the
	// COMMIT is not interrupted (an interrupt races the statement), so that
	// what the caller is told is what the file holds.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("accounting: not committed: %w", err)
	}
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		return fmt.Errorf("accounting: commit: %w", err)
	}
	committed = true
	return nil
}

// tailLength is the number of entries after the caches' mark, counted up
// to shortTail+1 only.
func tailLength(ctx context.Context, q querier) (int64, error) {
	var tail int64
	if err := q.QueryRowContext(ctx, tailSQL).Scan(&tail); err != nil || tail <= shortTail {
		return tail, err
	}
	// More ids than shortTail; entries, maybe not (ids may have gaps).
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM acct_entries
		WHERE entry_id > `+markSQL+` LIMIT ?)`, shortTail+1).Scan(&tail)
	return tail, err
}

// endTx rolls back whatever transaction conn, a connection of the
// ledger's writer, is still in (none if SQLite ended it already) and, if it
// stays in one, has the pool close conn. It reports only a failure that
// leaves the transaction in doubt.
func endTx(ctx context.Context, conn *sql.Conn) error {
	if !inTx(conn) {
		return nil
	}
	_, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	if !inTx(conn) {
		return nil
	}
	// driver.ErrBadConn from Raw makes the pool discard the connection.
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	return fmt.Errorf("accounting: rollback: %w", cmp.Or(rerr, errors.New("the connection stayed in a transaction")))
}

// inTx reports whether conn, a connection of the ledger's writer (always
// go-sqlite3's), is inside a transaction.
func inTx(conn *sql.Conn) (in bool) {
	_ = conn.Raw(func(dc any) error {
		if c, ok := dc.(interface{ AutoCommit() bool }); ok {
			in = !c.AutoCommit()
		}
		return nil
	})
	return in
}

// atomically runs fn in a savepoint of tx, the caller's transaction: if fn
// fails, everything it wrote is rolled back and tx is left as it was. Errors
// are prefixed with what op returns (called only then). On the ledger's own
// transaction (ownTx) it needs no savepoint: write rolls the whole
// transaction back.
func (l *Ledger) atomically(ctx context.Context, tx querier, op func() string, fn func() error) error {
	switch t := tx.(type) {
	case ownTx:
		if err := fn(); err != nil {
			return fmt.Errorf("accounting: %s: %w", op(), err)
		}
		return nil
	case callerTx:
		if t.Tx == nil {
			return fmt.Errorf("accounting: %s: %w: nil transaction", op(), ErrInvalid)
		}
	default:
		return fmt.Errorf("accounting: %s: %w: not a transaction", op(), ErrInvalid)
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT accounting"); err != nil {
		return fmt.Errorf("accounting: %s: %w", op(), err)
	}
	if err := fn(); err != nil {
		bg := context.WithoutCancel(ctx)
		if _, rerr := tx.ExecContext(bg, "ROLLBACK TO accounting"); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		} else if _, rerr := tx.ExecContext(bg, "RELEASE accounting"); rerr != nil {
			err = errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
		}
		return fmt.Errorf("accounting: %s: %w", op(), err)
	}
	// Not the caller's ctx: cancelled now, it would leave the savepoint
	// open with fn's writes in tx while the caller is told it failed.
	bg := context.WithoutCancel(ctx)
	if _, err := tx.ExecContext(bg, "RELEASE accounting"); err != nil {
		if _, rerr := tx.ExecContext(bg, "ROLLBACK TO accounting"); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		return fmt.Errorf("accounting: %s: release savepoint: %w", op(), err)
	}
	return nil
}

// opf is a lazily formatted operation name for atomically.
func opf(format string, args ...any) func() string {
	return func() string { return fmt.Sprintf(format, args...) }
}

func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// checkName validates an identifier-like field (project, site, partition,
// user, job id, who): not empty, at most 256 bytes of printable UTF-8.
func checkName(field, v string) error {
	if v == "" {
		return invalidf("%s is empty", field)
	}
	if len(v) > 256 || !utf8.ValidString(v) {
		return invalidf("%s %.40q is too long or not UTF-8", field, v)
	}
	if strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return invalidf("%s %q has unprintable characters", field, v)
	}
	return nil
}

// checkWhy requires a reason for administrators' actions.
func checkWhy(why string) error {
	if strings.TrimSpace(why) == "" {
		return invalidf("no reason given (why)")
	}
	if len(why) > 4096 || !utf8.ValidString(why) {
		return invalidf("the reason is too long or not UTF-8")
	}
	return nil
}

func checkNames(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkName(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// ---- Projects ----

// Project is a research project that holds allocations.
type Project struct {
	Name        string    `json:"project"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

// NewProject is a request to create a project.
type NewProject struct {
	Name        string
	Description string
	Who         string
}

// CreateProject creates a project. Creating an existing project with the
// same description returns it (a safe retry); with another, ErrConflict.
func (l *Ledger) CreateProject(ctx context.Context, p NewProject) (Project, error) {
	var out Project
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.createProjectOn(ctx, tx, p)
		return err
	})
	return out, err
}

// CreateProjectTx is CreateProject on the caller's transaction.
func (l *Ledger) CreateProjectTx(ctx context.Context, tx *sql.Tx, p NewProject) (Project, error) {
	return l.createProjectOn(ctx, callerTx{tx}, p)
}

// createProjectOn is CreateProject on tx, the caller's transaction or the ledger's own.
func (l *Ledger) createProjectOn(ctx context.Context, tx querier, p NewProject) (Project, error) {
	var out Project
	err := l.atomically(ctx, tx, opf("create project %s", p.Name), func() error {
		if err := checkNames("project", p.Name, "who", p.Who); err != nil {
			return err
		}
		existing, err := getProject(ctx, tx, p.Name)
		switch {
		case err == nil:
			if existing.Description != p.Description {
				return conflictf("project %q exists with description %q", p.Name, existing.Description)
			}
			out = existing
			return nil
		case !errors.Is(err, ErrNotFound):
			return err
		}
		now := l.nowUTC()
		if _, err := tx.ExecContext(ctx, `INSERT INTO acct_projects (project, description, created_at, created_by) VALUES (?, ?, ?, ?)`,
			p.Name, p.Description, now.Unix(), p.Who); err != nil {
			return err
		}
		out = Project{Name: p.Name, Description: p.Description, CreatedAt: now, CreatedBy: p.Who}
		return nil
	})
	return out, err
}

// Project returns one project, ErrNotFound if there is none of that name.
func (l *Ledger) Project(ctx context.Context, name string) (Project, error) {
	p, err := getProject(ctx, l.db, name)
	if err != nil {
		return Project{}, fmt.Errorf("accounting: %w", err)
	}
	return p, nil
}

func getProject(ctx context.Context, q querier, name string) (Project, error) {
	var p Project
	var created int64
	err := q.QueryRowContext(ctx, `SELECT project, description, created_at, created_by FROM acct_projects WHERE project = ?`, name).
		Scan(&p.Name, &p.Description, &created, &p.CreatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return Project{}, notFoundf("project %q", name)
	}
	if err != nil {
		return Project{}, fmt.Errorf("project %q: %w", name, err)
	}
	p.CreatedAt = fromUnix(created)
	return p, nil
}

// Projects lists the projects by name.
func (l *Ledger) Projects(ctx context.Context) ([]Project, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT project, description, created_at, created_by FROM acct_projects ORDER BY project`)
	if err != nil {
		return nil, fmt.Errorf("accounting: projects: %w", err)
	}
	defer rows.Close()
	out := []Project{}
	for rows.Next() {
		var p Project
		var created int64
		if err := rows.Scan(&p.Name, &p.Description, &created, &p.CreatedBy); err != nil {
			return nil, fmt.Errorf("accounting: projects: %w", err)
		}
		p.CreatedAt = fromUnix(created)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounting: projects: %w", err)
	}
	return out, nil
}

// ---- Allocations ----

// Allocation is core-seconds granted to a project at a site for the period
// [StartsAt, EndsAt). Allocations of one project at one site never overlap,
// so at any instant at most one applies. The amounts are entries (see
// Balance); the allocation itself never changes.
type Allocation struct {
	ID           int64     `json:"allocation_id,string"`
	Project      string    `json:"project"`
	Site         string    `json:"site"`
	SlurmAccount string    `json:"slurm_account"`
	StartsAt     time.Time `json:"starts_at"`
	EndsAt       time.Time `json:"ends_at"`
	// Overdraft is how many core-seconds below zero holds may take the
	// balance: 0 none, -1 unlimited.
	Overdraft Overdraft `json:"overdraft_core_seconds"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Why       string    `json:"why"`
	RequestID string    `json:"request_id,omitempty"`
}

// Covers reports whether t lies in the allocation's period.
func (a Allocation) Covers(t time.Time) bool {
	return !t.Before(a.StartsAt) && t.Before(a.EndsAt)
}

// NewAllocation is a request to create an allocation.
type NewAllocation struct {
	Project string
	Site    string
	// SlurmAccount is the Slurm account of (project, site); reconciliation
	// uses it to find usage on the account that bypassed the gateway.
	SlurmAccount string
	StartsAt     time.Time // inclusive; whole seconds
	EndsAt       time.Time // exclusive
	Overdraft    Overdraft
	// Grant, if positive, is booked as the allocation's first grant entry,
	// in the same transaction.
	Grant int64
	Who   string
	Why   string
	// RequestID, if set, makes a retried request safe: a second request with
	// the same id and figures returns the allocation created by the first.
	RequestID string
}

// CreateAllocation creates an allocation (and its initial grant). An
// allocation overlapping another of the same project and site is refused with
// ErrConflict; an unknown project with ErrNotFound.
func (l *Ledger) CreateAllocation(ctx context.Context, a NewAllocation) (Allocation, error) {
	var out Allocation
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.createAllocationOn(ctx, tx, a)
		return err
	})
	return out, err
}

// CreateAllocationTx is CreateAllocation on the caller's transaction.
func (l *Ledger) CreateAllocationTx(ctx context.Context, tx *sql.Tx, a NewAllocation) (Allocation, error) {
	return l.createAllocationOn(ctx, callerTx{tx}, a)
}

// createAllocationOn is CreateAllocation on tx, the caller's transaction or the ledger's own.
func (l *Ledger) createAllocationOn(ctx context.Context, tx querier, a NewAllocation) (Allocation, error) {
	var out Allocation
	err := l.atomically(ctx, tx, opf("create allocation for project %q at site %q", a.Project, a.Site), func() error {
		if err := checkNames("project", a.Project, "site", a.Site, "who", a.Who); err != nil {
			return err
		}
		start, end := a.StartsAt.UTC().Truncate(time.Second), a.EndsAt.UTC().Truncate(time.Second)
		if a.StartsAt.IsZero() || a.EndsAt.IsZero() || !end.After(start) {
			return invalidf("period [%s, %s) is empty", a.StartsAt.Format(time.RFC3339), a.EndsAt.Format(time.RFC3339))
		}
		if a.Overdraft < UnlimitedOverdraft {
			return invalidf("overdraft %d: want -1 (unlimited), 0 (none) or a positive number of core-seconds", a.Overdraft)
		}
		if a.Grant < 0 {
			return invalidf("grant %d is negative", a.Grant)
		}
		if a.RequestID != "" {
			prev, err := scanAllocation(tx.QueryRowContext(ctx, `SELECT `+allocationCols+` FROM acct_allocations WHERE request_id = ?`, a.RequestID))
			switch {
			case err == nil:
				if prev.Project != a.Project || prev.Site != a.Site || prev.SlurmAccount != a.SlurmAccount ||
					!prev.StartsAt.Equal(start) || !prev.EndsAt.Equal(end) || prev.Overdraft != a.Overdraft {
					return conflictf("request %q created allocation %d with other figures", a.RequestID, prev.ID)
				}
				out = prev
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		if _, err := getProject(ctx, tx, a.Project); err != nil {
			return err
		}
		var other int64
		err := tx.QueryRowContext(ctx, `SELECT allocation_id FROM acct_allocations
			WHERE project = ? AND site = ? AND starts_at < ? AND ? < ends_at LIMIT 1`,
			a.Project, a.Site, end.Unix(), start.Unix()).Scan(&other)
		if err == nil {
			return conflictf("the period overlaps allocation %d of the same project and site", other)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := l.nowUTC()
		res, err := tx.ExecContext(ctx, `INSERT INTO acct_allocations
			(project, site, slurm_account, starts_at, ends_at, overdraft, created_at, created_by, why, request_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.Project, a.Site, a.SlurmAccount, start.Unix(), end.Unix(), int64(a.Overdraft), now.Unix(), a.Who, a.Why, nullString(a.RequestID))
		if isTrigger(err) || isUnique(err) { // the overlap trigger, or a request id taken meanwhile
			return conflictf("%v", err)
		}
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if a.Grant > 0 {
			if _, err := insertEntry(ctx, tx, entryRow{
				kind: KindGrant, allocationID: id, amount: a.Grant,
				month: MonthOf(now), at: now, recordedAt: now, who: a.Who, why: a.Why,
			}); err != nil {
				return err
			}
		}
		out = Allocation{
			ID: id, Project: a.Project, Site: a.Site, SlurmAccount: a.SlurmAccount,
			StartsAt: start, EndsAt: end, Overdraft: a.Overdraft,
			CreatedAt: now, CreatedBy: a.Who, Why: a.Why, RequestID: a.RequestID,
		}
		return nil
	})
	return out, err
}

const allocationCols = `allocation_id, project, site, slurm_account, starts_at, ends_at, overdraft, created_at, created_by, why, coalesce(request_id, '')`

type scanner interface{ Scan(dest ...any) error }

func scanAllocation(sc scanner) (Allocation, error) {
	var a Allocation
	var start, end, created, overdraft int64
	if err := sc.Scan(&a.ID, &a.Project, &a.Site, &a.SlurmAccount, &start, &end, &overdraft, &created, &a.CreatedBy, &a.Why, &a.RequestID); err != nil {
		return Allocation{}, err
	}
	a.StartsAt, a.EndsAt, a.CreatedAt = fromUnix(start), fromUnix(end), fromUnix(created)
	a.Overdraft = Overdraft(overdraft)
	return a, nil
}

// Allocation returns one allocation, ErrNotFound if there is none.
func (l *Ledger) Allocation(ctx context.Context, id int64) (Allocation, error) {
	a, err := getAllocation(ctx, l.db, id)
	if err != nil {
		return Allocation{}, fmt.Errorf("accounting: %w", err)
	}
	return a, nil
}

func getAllocation(ctx context.Context, q querier, id int64) (Allocation, error) {
	a, err := scanAllocation(q.QueryRowContext(ctx, `SELECT `+allocationCols+` FROM acct_allocations WHERE allocation_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Allocation{}, notFoundf("allocation %d", id)
	}
	if err != nil {
		return Allocation{}, fmt.Errorf("allocation %d: %w", id, err)
	}
	return a, nil
}

// Allocations lists the allocations of a project (all projects if empty) at
// a site (all sites if empty), by project, site and start.
func (l *Ledger) Allocations(ctx context.Context, project, site string) ([]Allocation, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT `+allocationCols+` FROM acct_allocations
		WHERE (?1 = '' OR project = ?1) AND (?2 = '' OR site = ?2) ORDER BY project, site, starts_at`, project, site)
	if err != nil {
		return nil, fmt.Errorf("accounting: allocations: %w", err)
	}
	defer rows.Close()
	out := []Allocation{}
	for rows.Next() {
		a, err := scanAllocation(rows)
		if err != nil {
			return nil, fmt.Errorf("accounting: allocations: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounting: allocations: %w", err)
	}
	return out, nil
}

// allocationAt is the allocation of (project, site) whose period covers at:
// ErrNotFound if the project does not exist, ErrNoAllocation if no period
// covers at.
func allocationAt(ctx context.Context, q querier, project, site string, at time.Time) (Allocation, error) {
	a, err := scanAllocation(q.QueryRowContext(ctx, `SELECT `+allocationCols+` FROM acct_allocations
		WHERE project = ? AND site = ? AND starts_at <= ?3 AND ?3 < ends_at`, project, site, at.Unix()))
	if err == nil {
		return a, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Allocation{}, err
	}
	if _, err := getProject(ctx, q, project); err != nil {
		return Allocation{}, err
	}
	return Allocation{}, fmt.Errorf("%w: project %q has no allocation at site %q covering %s",
		ErrNoAllocation, project, site, at.UTC().Format(time.RFC3339))
}

// ---- Rates ----

// AnyPartition is the partition name of a site's default rate, used for
// partitions that have no rate of their own.
const AnyPartition = "*"

// Rate is the charge rate of a partition at a site from EffectiveFrom until
// the next rate of the same partition takes effect.
type Rate struct {
	Site          string    `json:"site"`
	Partition     string    `json:"partition"`
	EffectiveFrom time.Time `json:"effective_from"`
	// Thousandths: 1000 charges one core-second per CPU-second.
	Thousandths int64     `json:"rate_thousandths"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	Why         string    `json:"why"`
}

// NewRate is a request to set a rate from a given time on.
type NewRate struct {
	Site          string
	Partition     string // or AnyPartition
	EffectiveFrom time.Time
	Thousandths   int64
	Who           string
	Why           string
}

// SetRate records a rate. Rates are never changed or removed: a new rate
// with a later EffectiveFrom supersedes the old one, so past charges keep
// the rate they were computed with. Setting the same rate again is a no-op;
// a different rate for the same (site, partition, EffectiveFrom) is an
// ErrConflict.
func (l *Ledger) SetRate(ctx context.Context, r NewRate) (Rate, error) {
	var out Rate
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.setRateOn(ctx, tx, r)
		return err
	})
	return out, err
}

// SetRateTx is SetRate on the caller's transaction.
func (l *Ledger) SetRateTx(ctx context.Context, tx *sql.Tx, r NewRate) (Rate, error) {
	return l.setRateOn(ctx, callerTx{tx}, r)
}

// setRateOn is SetRate on tx, the caller's transaction or the ledger's own.
func (l *Ledger) setRateOn(ctx context.Context, tx querier, r NewRate) (Rate, error) {
	var out Rate
	err := l.atomically(ctx, tx, opf("set rate of %s/%s", r.Site, r.Partition), func() error {
		if err := checkNames("site", r.Site, "partition", r.Partition, "who", r.Who); err != nil {
			return err
		}
		if r.Thousandths < 0 {
			return invalidf("rate %d is negative", r.Thousandths)
		}
		if r.EffectiveFrom.IsZero() {
			return invalidf("no effective-from time")
		}
		from := r.EffectiveFrom.UTC().Truncate(time.Second)
		prev, err := scanRate(tx.QueryRowContext(ctx, `SELECT `+rateCols+` FROM acct_rates
			WHERE site = ? AND slurm_partition = ? AND effective_from = ?`, r.Site, r.Partition, from.Unix()))
		switch {
		case err == nil:
			if prev.Thousandths != r.Thousandths {
				return conflictf("a rate of %s is already set from %s", FormatRate(prev.Thousandths), from.Format(time.RFC3339))
			}
			out = prev
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		now := l.nowUTC()
		if _, err := tx.ExecContext(ctx, `INSERT INTO acct_rates (site, slurm_partition, effective_from, thousandths, created_at, created_by, why)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Site, r.Partition, from.Unix(), r.Thousandths, now.Unix(), r.Who, r.Why); err != nil {
			return err
		}
		out = Rate{Site: r.Site, Partition: r.Partition, EffectiveFrom: from, Thousandths: r.Thousandths, CreatedAt: now, CreatedBy: r.Who, Why: r.Why}
		return nil
	})
	return out, err
}

const rateCols = `site, slurm_partition, effective_from, thousandths, created_at, created_by, why`

func scanRate(sc scanner) (Rate, error) {
	var r Rate
	var from, created int64
	if err := sc.Scan(&r.Site, &r.Partition, &from, &r.Thousandths, &created, &r.CreatedBy, &r.Why); err != nil {
		return Rate{}, err
	}
	r.EffectiveFrom, r.CreatedAt = fromUnix(from), fromUnix(created)
	return r, nil
}

// RateAt is the rate in force for partition at site at time at: the
// partition's own latest rate effective at or before at, else the site's
// AnyPartition rate; ErrNoRate if neither exists.
func (l *Ledger) RateAt(ctx context.Context, site, partition string, at time.Time) (Rate, error) {
	r, err := rateAt(ctx, l.db, site, partition, at)
	if err != nil {
		return Rate{}, fmt.Errorf("accounting: %w", err)
	}
	return r, nil
}

func rateAt(ctx context.Context, q querier, site, partition string, at time.Time) (Rate, error) {
	// Two lookups on the primary key rather than one query ordered by an
	// expression: that needs a temporary b-tree, which costs a temporary
	// file (about a millisecond) at every hold.
	for _, p := range []string{partition, AnyPartition} {
		r, err := scanRate(q.QueryRowContext(ctx, `SELECT `+rateCols+` FROM acct_rates
			WHERE site = ? AND slurm_partition = ? AND effective_from <= ?
			ORDER BY effective_from DESC LIMIT 1`, site, p, at.Unix()))
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Rate{}, fmt.Errorf("rate of %s/%s: %w", site, partition, err)
		}
	}
	return Rate{}, fmt.Errorf("%w: for partition %q at site %q at %s", ErrNoRate, partition, site, at.UTC().Format(time.RFC3339))
}

// Rates lists the rate history of a site (all sites if empty), by site,
// partition and effective time.
func (l *Ledger) Rates(ctx context.Context, site string) ([]Rate, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT `+rateCols+` FROM acct_rates WHERE (?1 = '' OR site = ?1)
		ORDER BY site, slurm_partition, effective_from`, site)
	if err != nil {
		return nil, fmt.Errorf("accounting: rates: %w", err)
	}
	defer rows.Close()
	out := []Rate{}
	for rows.Next() {
		r, err := scanRate(rows)
		if err != nil {
			return nil, fmt.Errorf("accounting: rates: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounting: rates: %w", err)
	}
	return out, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
