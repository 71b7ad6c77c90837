package accounting

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// pairHashSQL hashes an entry's id and time together, into [0, 2^31-1): h =
// (id*48271 + at) mod p, then h*h mod p, p = 2^31-1. Every product stays
// below 2^63, and a sum of fewer than 2^32 of them cannot overflow.
const pairHashSQL = `((((entry_id % 2147483647) * 48271 + at % 2147483647) % 2147483647)
    * (((entry_id % 2147483647) * 48271 + at % 2147483647) % 2147483647)) % 2147483647`

// verifySQL recomputes every cache from the entries up to the caches' mark
// and returns one row per difference. It is a single statement, so it sees
// one snapshot of the database while writers go on.
const verifySQL = `
WITH mark AS (SELECT entry_id AS m FROM acct_cache_mark WHERE id = 1),
by_kind AS (
    SELECT allocation_id, kind, sum(amount) AS amount, sum(from_hold) AS from_hold, sum(overrun) AS overrun,
           count(*) AS n, sum(entry_id % 4294967296) AS ids, sum(at % 4294967296) AS ats, sum(` + pairHashSQL + `) AS pairs
    FROM acct_entries WHERE entry_id <= (SELECT m FROM mark) GROUP BY allocation_id, kind
),
sums AS (
    SELECT allocation_id,
           sum(CASE kind WHEN 'grant'  THEN amount ELSE 0 END) AS granted,
           sum(CASE kind WHEN 'adjust' THEN amount ELSE 0 END) AS adjusted,
           sum(CASE kind WHEN 'hold' THEN amount WHEN 'release' THEN -amount
                         WHEN 'charge' THEN -from_hold ELSE 0 END) AS held,
           sum(CASE kind WHEN 'charge' THEN amount ELSE 0 END) AS charged,
           sum(CASE kind WHEN 'refund' THEN amount ELSE 0 END) AS refunded,
           sum(overrun) AS overrun
    FROM by_kind GROUP BY allocation_id
),
-- The index of entries by allocation, per allocation and kind, to compare
-- with by_kind: how many, the sums of their ids and times modulo 2^32 (which
-- cannot overflow), so that a row missing, added or changed shows, and the
-- sum of a hash of each (id, time) pair, so that two rows whose times were
-- swapped show too.
indexed AS (
    SELECT allocation_id, kind, count(*) AS n, sum(entry_id % 4294967296) AS ids, sum(at % 4294967296) AS ats,
           sum(` + pairHashSQL + `) AS pairs
    FROM acct_allocation_entries GROUP BY allocation_id, kind
),
usage AS (
    SELECT e.month, j.project, j.site, j.slurm_partition, j.user_name,
           sum(e.kind = 'charge') AS jobs, sum(e.cpu_seconds) AS cpu_seconds,
           sum(CASE e.kind WHEN 'charge' THEN e.amount ELSE 0 END) AS charged,
           sum(CASE e.kind WHEN 'refund' THEN e.amount ELSE 0 END) AS refunded,
           sum(e.overrun) AS overrun
    FROM acct_entries e JOIN acct_jobs j ON j.job_id = e.job_id
    WHERE e.kind IN ('charge', 'refund') AND e.entry_id <= (SELECT m FROM mark)
    GROUP BY e.month, j.project, j.site, j.slurm_partition, j.user_name
),
open_holds AS (
    SELECT j.job_id, j.held_at FROM acct_jobs j
    WHERE j.hold_entry_id <= (SELECT m FROM mark)
      AND (j.release_entry_id IS NULL OR j.release_entry_id > (SELECT m FROM mark))
)
SELECT 'the caches'' mark is entry ' || coalesce((SELECT m FROM mark), 'missing') || ', the last entry ' ||
       (SELECT coalesce(max(entry_id), 0) FROM acct_entries)
WHERE (SELECT m FROM mark) IS NULL OR (SELECT m FROM mark) > (SELECT coalesce(max(entry_id), 0) FROM acct_entries)
UNION ALL
SELECT 'balance of allocation ' || a.allocation_id || ': cache ' ||
       b.granted || '/' || b.adjusted || '/' || b.held || '/' || b.charged || '/' || b.refunded || '/' || b.overrun ||
       ', entries ' || coalesce(s.granted, 0) || '/' || coalesce(s.adjusted, 0) || '/' || coalesce(s.held, 0) || '/' ||
       coalesce(s.charged, 0) || '/' || coalesce(s.refunded, 0) || '/' || coalesce(s.overrun, 0) ||
       ' (granted/adjusted/held/charged/refunded/overrun)'
FROM acct_allocations a
LEFT JOIN acct_balances b ON b.allocation_id = a.allocation_id
LEFT JOIN sums s ON s.allocation_id = a.allocation_id
WHERE b.allocation_id IS NULL
   OR b.granted  IS NOT coalesce(s.granted, 0)  OR b.adjusted IS NOT coalesce(s.adjusted, 0)
   OR b.held     IS NOT coalesce(s.held, 0)     OR b.charged  IS NOT coalesce(s.charged, 0)
   OR b.refunded IS NOT coalesce(s.refunded, 0) OR b.overrun  IS NOT coalesce(s.overrun, 0)
UNION ALL
SELECT 'monthly usage row only in the entries: ' || month || ' ' || project || ' ' || site || ' ' || slurm_partition || ' ' || user_name
FROM (SELECT * FROM usage EXCEPT SELECT * FROM acct_usage_monthly)
UNION ALL
SELECT 'monthly usage row only in the cache: ' || month || ' ' || project || ' ' || site || ' ' || slurm_partition || ' ' || user_name
FROM (SELECT * FROM acct_usage_monthly EXCEPT SELECT * FROM usage)
UNION ALL
SELECT 'open hold only in the entries: job ' || job_id FROM (SELECT * FROM open_holds EXCEPT SELECT * FROM acct_open_holds)
UNION ALL
SELECT 'open hold only in the cache: job ' || job_id FROM (SELECT * FROM acct_open_holds EXCEPT SELECT * FROM open_holds)
UNION ALL
SELECT 'job ' || j.job_id || ' holds ' || j.hold_amount || ' on allocation ' || j.allocation_id || ' at ' || j.held_at ||
       ' but its hold entry ' || coalesce(j.hold_entry_id, '(none)') || ' is ' ||
       coalesce(h.kind || ' of job ' || h.job_id || ': ' || h.amount || ' on allocation ' || h.allocation_id || ' at ' || h.at, 'missing')
FROM acct_jobs j LEFT JOIN acct_entries h ON h.entry_id = j.hold_entry_id
WHERE h.kind IS NOT 'hold' OR h.job_id IS NOT j.job_id OR h.amount IS NOT j.hold_amount
   OR h.allocation_id IS NOT j.allocation_id OR h.at IS NOT j.held_at
UNION ALL
SELECT 'job ' || j.job_id || ' names entry ' || j.charge_entry_id || ' as its charge, which is not'
FROM acct_jobs j LEFT JOIN acct_entries c ON c.entry_id = j.charge_entry_id
WHERE j.charge_entry_id IS NOT NULL AND (c.kind IS NOT 'charge' OR c.job_id IS NOT j.job_id)
UNION ALL
SELECT 'job ' || j.job_id || ' names entry ' || j.release_entry_id || ' as its release, which is not'
FROM acct_jobs j LEFT JOIN acct_entries r ON r.entry_id = j.release_entry_id
WHERE j.release_entry_id IS NOT NULL AND (r.kind IS NOT 'release' OR r.job_id IS NOT j.job_id)
UNION ALL
SELECT 'entry ' || e.entry_id || ', a ' || e.kind || ' of job ' || e.job_id || ', is not the one its job names'
FROM acct_entries e JOIN acct_jobs j ON j.job_id = e.job_id
WHERE e.kind IN ('hold', 'charge', 'release')
  AND e.entry_id IS NOT CASE e.kind WHEN 'hold' THEN j.hold_entry_id WHEN 'charge' THEN j.charge_entry_id
                                    ELSE j.release_entry_id END
UNION ALL
SELECT 'job ' || j.job_id || ' has a negative outstanding hold'
FROM acct_jobs j
WHERE j.hold_amount
      - coalesce((SELECT from_hold FROM acct_entries c WHERE c.entry_id = j.charge_entry_id), 0)
      - coalesce((SELECT amount FROM acct_entries r WHERE r.entry_id = j.release_entry_id), 0) < 0
UNION ALL
SELECT 'the index of entries by allocation has ' || coalesce(i.n, 0) || ' ' || f.kind || ' entries of allocation ' ||
       f.allocation_id || ', the entries ' || f.n || ' (or their ids or times differ)'
FROM by_kind f LEFT JOIN indexed i ON i.allocation_id = f.allocation_id AND i.kind = f.kind
WHERE i.n IS NOT f.n OR i.ids IS NOT f.ids OR i.ats IS NOT f.ats OR i.pairs IS NOT f.pairs
UNION ALL
SELECT 'the index of entries by allocation has ' || i.n || ' ' || i.kind || ' entries of allocation ' || i.allocation_id ||
       ', the entries none'
FROM indexed i LEFT JOIN by_kind f ON f.allocation_id = i.allocation_id AND f.kind = i.kind
WHERE f.n IS NULL
LIMIT 100`

// Verify recomputes the caches (balances per allocation, usage per month,
// open holds, the index of entries by allocation) from the entries up to
// their mark and checks that they agree, that every job's
// hold matches its entries, and that the entry ids a job's row names are its
// hold, charge and release, the only ones it has. It returns nil, or an
// error wrapping ErrInconsistent that lists the first differences. It reads one snapshot,
// so it may run while the ledger is written; on a million jobs it takes
// about ten seconds.
func (l *Ledger) Verify(ctx context.Context) error { return Verify(ctx, l.db) }

// Verify is Ledger.Verify on a database, for instance a backup.
func Verify(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, verifySQL)
	if err != nil {
		return fmt.Errorf("accounting: verify: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return fmt.Errorf("accounting: verify: %w", err)
		}
		problems = append(problems, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("accounting: verify: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("accounting: verify: %w: %s", ErrInconsistent, strings.Join(problems, "; "))
	}
	return nil
}
