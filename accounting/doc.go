// Package accounting is STA Gateway's core-hour ledger, kept in SQLite
// (github.com/mattn/go-sqlite3): projects, their allocations of core-hours at
// each site, the sites' charge rates, and the append-only entries that hold,
// charge, release, refund, grant and adjust core-seconds. It imports nothing
// else of the project.
//
// # Model
//
// An Allocation grants a project core-seconds at a site for a period
// [StartsAt, EndsAt); allocations of one (project, site) never overlap, and
// each has an Overdraft policy. A Rate, per (site, partition), is an exact
// integer in thousandths (1000: one core-second per CPU-second; a GPU
// partition may charge more), kept with its history. Amounts are integer
// core-seconds; floats appear only in the core_hours fields of reports.
//
// A job's life in the ledger:
//
//  1. PlaceHold, when the gateway accepts the job (in the same transaction
//     with PlaceHoldTx): HoldAmount = nodes x CPUs per node x time limit x
//     rate / 1000, rounded up, on the allocation covering the acceptance
//     time. It is refused with an *InsufficientError, saying how much is left,
//     if it would take the allocation below its overdraft limit.
//  2. RecordSiteJob, once Slurm's job id is known.
//  3. SettleJob at the end: ChargeJob books CPUTimeRAW (all runs) x the rate
//     in force when the job ended, on the allocation covering that time and
//     in that month; the charge may exceed the hold, and the overrun is
//     booked and reported (Overruns). ReleaseJob gives back the rest of the
//     hold. Both are idempotent per job (a job's row names its one hold,
//     charge and release entries, set once by triggers).
//     A job that never ran is only released.
//  4. Refund and Adjust correct afterwards; they never rewrite an entry.
//
// Balances derive from the entries: remaining = granted + adjusted +
// refunded - charged - held. The balance per allocation, the usage per month
// and the open holds are caches of the entries up to a mark; every read of
// them adds the entries booked after the mark in the same statement, so what
// the ledger reports is the sum of all the entries, whatever wrote them. The
// write that books every 64th entry folds the entries after the mark into the
// caches and moves the mark, in its transaction (FoldCaches does it at once),
// so a hold or a settlement writes no cache; Verify recomputes the caches
// from the entries up to the mark. Triggers refuse, at its insert, any entry
// that would take a job's hold below zero.
//
// # Database
//
// The ledger owns its tables (prefixed acct_) and their migrations, numbered
// SQL files embedded in the binary and recorded in accounting_schema_version,
// inside a database file it may share with other packages. Every connection
// uses DSNParams: WAL, synchronous=FULL, immediate write transactions, a busy
// timeout and foreign keys; OpenDB and New check that they took effect. There
// is one writer at a time: SQLite's write lock, taken at BEGIN, serializes
// the check of a balance and the hold that depends on it, so concurrent holds
// never overspend.
//
// Every write has a ...Tx form on the caller's *sql.Tx, which runs in a
// savepoint: on error the caller's transaction is left as it was.
//
// The ledger's own writes run on one connection of its own to the file
// (opened by New with DSN, closed by Close), which keeps its statement
// journals in memory (temp_store=MEMORY): the caller's connections keep
// their settings, and the ledger's reads run on the caller's pool. A
// write's statements are short, and do not watch the caller's context while
// they run (go-sqlite3 would start a goroutine for each): the context is
// checked before each statement and before COMMIT, and a write whose context
// ended is rolled back. A write that may take long (FoldCaches, or the first
// write after a bulk import of entries) watches it, and runs at
// temp_store=FILE, where large sorts spill to disk. On a caller's
// transaction (the ...Tx methods) the ledger's reads watch the context and
// its writes do not: SQLite rolls back the whole transaction when it
// interrupts a write, the caller's own writes with it. A write on a caller's
// transaction folds a long tail (a bulk import) a slice at a time.
//
// # Reports
//
// Usage (by project, user, site, partition, month), Balances (with burn rate),
// Overruns, Entries, OpenHolds and RecheckHolds (holds of jobs that waited
// too long), and Reconcile against sacct. Row types carry JSON tags following
// the gateway's conventions (core_seconds integers, core_hours numbers, times
// RFC 3339 UTC, ids as strings) and CSV methods (WriteCSV). Backup writes an
// online copy with VACUUM INTO.
package accounting
