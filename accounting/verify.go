package accounting

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// verifySQL recomputes every cache from the entries and returns one row per
// difference. It is a single statement, so it sees one snapshot of the
// database while writers go on.
const verifySQL = `
WITH sums AS (
    SELECT allocation_id,
           sum(CASE kind WHEN 'grant'  THEN amount ELSE 0 END) AS granted,
           sum(CASE kind WHEN 'adjust' THEN amount ELSE 0 END) AS adjusted,
           sum(CASE kind WHEN 'hold' THEN amount WHEN 'release' THEN -amount
                         WHEN 'charge' THEN -from_hold ELSE 0 END) AS held,
           sum(CASE kind WHEN 'charge' THEN amount ELSE 0 END) AS charged,
           sum(CASE kind WHEN 'refund' THEN amount ELSE 0 END) AS refunded,
           sum(overrun) AS overrun
    FROM acct_entries GROUP BY allocation_id
),
usage AS (
    SELECT e.month, j.project, j.site, j.slurm_partition, j.user_name,
           sum(e.kind = 'charge') AS jobs, sum(e.cpu_seconds) AS cpu_seconds,
           sum(CASE e.kind WHEN 'charge' THEN e.amount ELSE 0 END) AS charged,
           sum(CASE e.kind WHEN 'refund' THEN e.amount ELSE 0 END) AS refunded,
           sum(e.overrun) AS overrun
    FROM acct_entries e JOIN acct_jobs j ON j.job_id = e.job_id
    WHERE e.kind IN ('charge', 'refund')
    GROUP BY e.month, j.project, j.site, j.slurm_partition, j.user_name
),
open_holds AS (
    SELECT h.job_id, j.held_at FROM acct_entries h JOIN acct_jobs j ON j.job_id = h.job_id
    WHERE h.kind = 'hold'
      AND NOT EXISTS (SELECT 1 FROM acct_entries r WHERE r.job_id = h.job_id AND r.kind = 'release')
)
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
SELECT 'job ' || j.job_id || ' holds ' || j.hold_amount || ' but its hold entry is ' || coalesce(h.amount, 'missing')
FROM acct_jobs j LEFT JOIN acct_entries h ON h.job_id = j.job_id AND h.kind = 'hold'
WHERE h.amount IS NOT j.hold_amount
UNION ALL
SELECT 'job ' || j.job_id || ' has a negative outstanding hold'
FROM acct_jobs j
WHERE j.hold_amount
      - coalesce((SELECT from_hold FROM acct_entries c WHERE c.job_id = j.job_id AND c.kind = 'charge'), 0)
      - coalesce((SELECT amount FROM acct_entries r WHERE r.job_id = j.job_id AND r.kind = 'release'), 0) < 0
LIMIT 100`

// Verify recomputes the caches (balances per allocation, usage per month,
// open holds) from the entries and checks that they agree, and that every
// job's hold matches its entries. It returns nil, or an error wrapping
// ErrInconsistent that lists the first differences. It reads one snapshot,
// so it may run while the ledger is written; on a million jobs it takes a
// few seconds.
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
