package accounting

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The caches (acct_balances, acct_usage_monthly, acct_open_holds) and the
// index of entries by allocation (acct_allocation_entries) hold the entries
// up to the mark, acct_cache_mark.entry_id; the entries after it, the tail,
// are added by whatever reads them, in the same statement (see migrations
// 0003 and 0005). A hold's or a settlement's commit writes none of them.

// foldEvery is how often the tail is folded into the caches: by the write
// that books an entry whose id is a multiple of it. A read adds at most about
// that many entries (more only after entries booked with plain SQL).
const foldEvery = 64

// markSQL is the mark, as a scalar subquery.
const markSQL = `(SELECT entry_id FROM acct_cache_mark WHERE id = 1)`

// tailAvailableSQL is what the entries after the mark add to the available
// core-seconds of allocation alloc (an expression naming its allocation id).
// NOT INDEXED: the tail is read by entry id (the rowid), never through the
// allocation's index of all its entries.
func tailAvailableSQL(alloc string) string {
	return `(SELECT coalesce(sum(CASE t.kind WHEN 'hold' THEN -t.amount WHEN 'charge' THEN t.from_hold - t.amount
	                                    ELSE t.amount END), 0)
	   FROM acct_entries t NOT INDEXED WHERE t.entry_id > ` + markSQL + ` AND t.allocation_id = ` + alloc + `)`
}

// allocationEntriesSQL selects the ids of the entries of allocation alloc
// (an SQL expression) whose kind and time meet cond, called with the alias
// of a table that has the columns kind and at: the folded entries through
// acct_allocation_entries, the tail's by entry id.
func allocationEntriesSQL(alloc string, cond func(alias string) string) string {
	return `SELECT x.entry_id FROM acct_allocation_entries x WHERE x.allocation_id = ` + alloc + ` AND ` + cond("x") + `
	UNION ALL
	SELECT t.entry_id FROM acct_entries t NOT INDEXED WHERE t.entry_id > ` + markSQL + ` AND t.allocation_id = ` + alloc + ` AND ` + cond("t")
}

// balanceSumsSQL sums entries (aliased e) into the columns of acct_balances.
const balanceSumsSQL = `
	sum(CASE e.kind WHEN 'grant'  THEN e.amount ELSE 0 END) AS granted,
	sum(CASE e.kind WHEN 'adjust' THEN e.amount ELSE 0 END) AS adjusted,
	sum(CASE e.kind WHEN 'hold' THEN e.amount WHEN 'release' THEN -e.amount
	                WHEN 'charge' THEN -e.from_hold ELSE 0 END) AS held,
	sum(CASE e.kind WHEN 'charge' THEN e.amount ELSE 0 END) AS charged,
	sum(CASE e.kind WHEN 'refund' THEN e.amount ELSE 0 END) AS refunded,
	sum(e.overrun) AS overrun`

// usageRowsSQL are the rows of acct_usage_monthly that the charges and
// refunds after (the value of) from add, one per entry.
func usageRowsSQL(from string) string {
	return `SELECT e.month, j.project, j.site, j.slurm_partition, j.user_name,
	       (e.kind = 'charge') AS jobs, e.cpu_seconds,
	       (CASE e.kind WHEN 'charge' THEN e.amount ELSE 0 END) AS charged,
	       (CASE e.kind WHEN 'refund' THEN e.amount ELSE 0 END) AS refunded,
	       e.overrun
	FROM acct_entries e NOT INDEXED CROSS JOIN acct_jobs j ON j.job_id = e.job_id
	WHERE e.entry_id > ` + from + ` AND e.kind IN ('charge', 'refund')`
}

// foldCaches adds the entries after the mark to the caches and moves the
// mark to the last entry, on tx. With maxTail > 0 it folds the first
// maxTail entries after the mark only, for a write that must stay short
// (see ownTx): a long tail (a bulk import) is then folded a slice at a time
// by the writes that follow, and the readers add what is left of it
// meanwhile.
func foldCaches(ctx context.Context, q querier, maxTail int64) error {
	var mark, last int64
	if err := q.QueryRowContext(ctx, `SELECT entry_id, (SELECT coalesce(max(entry_id), 0) FROM acct_entries)
		FROM acct_cache_mark WHERE id = 1`).Scan(&mark, &last); err != nil {
		return fmt.Errorf("fold caches: %w", err)
	}
	if last <= mark {
		return nil
	}
	if maxTail > 0 && last-mark > maxTail {
		// More ids than maxTail; entries, maybe not (ids may have gaps).
		var end int64
		err := q.QueryRowContext(ctx, `SELECT entry_id FROM acct_entries WHERE entry_id > ?1
			ORDER BY entry_id LIMIT 1 OFFSET ?2`, mark, maxTail-1).Scan(&end)
		switch {
		case errors.Is(err, sql.ErrNoRows): // at most maxTail entries: all of them
		case err != nil:
			return fmt.Errorf("fold caches: %w", err)
		default:
			last = end
		}
	}
	// The balances of the allocations the tail touches (a few), summed here
	// and written one by one: an UPDATE ... FROM over the sums costs more.
	rows, err := q.QueryContext(ctx, `SELECT e.allocation_id, `+balanceSumsSQL+`
		FROM acct_entries e NOT INDEXED WHERE e.entry_id > ?1 AND e.entry_id <= ?2 GROUP BY e.allocation_id`, mark, last)
	if err != nil {
		return fmt.Errorf("fold caches: %w", err)
	}
	type sums struct{ alloc, granted, adjusted, held, charged, refunded, overrun int64 }
	var all []sums
	for rows.Next() {
		var s sums
		if err := rows.Scan(&s.alloc, &s.granted, &s.adjusted, &s.held, &s.charged, &s.refunded, &s.overrun); err != nil {
			rows.Close()
			return fmt.Errorf("fold caches: %w", err)
		}
		all = append(all, s)
	}
	// An error that ends the rows early (a sum overflowing) must not let
	// the mark move past entries not folded.
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("fold caches: %w", err)
	}
	for _, s := range all {
		if _, err := q.ExecContext(ctx, `UPDATE acct_balances SET granted = granted + ?, adjusted = adjusted + ?,
			held = held + ?, charged = charged + ?, refunded = refunded + ?, overrun = overrun + ? WHERE allocation_id = ?`,
			s.granted, s.adjusted, s.held, s.charged, s.refunded, s.overrun, s.alloc); err != nil {
			return fmt.Errorf("fold caches: %w", err)
		}
	}
	if err := closeReleasedHolds(ctx, q, mark, last); err != nil {
		return fmt.Errorf("fold caches: %w", err)
	}
	for _, stmt := range []string{
		`INSERT INTO acct_usage_monthly
		    (month, project, site, slurm_partition, user_name, jobs, cpu_seconds, charged, refunded, overrun)
		SELECT month, project, site, slurm_partition, user_name,
		       sum(jobs), sum(cpu_seconds), sum(charged), sum(refunded), sum(overrun)
		FROM (` + usageRowsSQL("?1") + ` AND e.entry_id <= ?2)
		WHERE true
		GROUP BY month, project, site, slurm_partition, user_name
		ON CONFLICT (month, project, site, slurm_partition, user_name) DO UPDATE SET
		    jobs        = jobs        + excluded.jobs,
		    cpu_seconds = cpu_seconds + excluded.cpu_seconds,
		    charged     = charged     + excluded.charged,
		    refunded    = refunded    + excluded.refunded,
		    overrun     = overrun     + excluded.overrun`,
		`INSERT INTO acct_allocation_entries (allocation_id, kind, at, entry_id)
		SELECT allocation_id, kind, at, entry_id FROM acct_entries NOT INDEXED WHERE entry_id > ?1 AND entry_id <= ?2
		ORDER BY allocation_id, kind, at, entry_id`,
		`INSERT INTO acct_open_holds (job_id, held_at)
		SELECT h.job_id, h.at FROM acct_entries h NOT INDEXED CROSS JOIN acct_jobs j ON j.job_id = h.job_id
		WHERE h.entry_id > ?1 AND h.entry_id <= ?2 AND h.kind = 'hold'
		  AND (j.release_entry_id IS NULL OR j.release_entry_id > ?2)`,
		`UPDATE acct_cache_mark SET entry_id = ?2 WHERE id = 1`,
	} {
		if _, err := q.ExecContext(ctx, stmt, mark, last); err != nil {
			return fmt.Errorf("fold caches: %w", err)
		}
	}
	return nil
}

// closeReleasedHolds removes from the open holds the jobs released by the
// entries in (mark, last], one DELETE by key each, reading the releases a
// page at a time (by entry id, so that a gap in the ids costs nothing). One
// DELETE ... WHERE job_id IN (the releases) cost ~0.25 ms at every fold, as
// much as the rest of the fold: a DELETE from a WITHOUT ROWID table through
// IN collects the keys in an ephemeral table, and under SQLite's default
// temp_store (FILE) that statement took 0.21 ms against 9 us under
// temp_store=MEMORY. The ledger's short writes run under MEMORY (see
// writeTx), but a fold may run in a long one or in a caller's transaction,
// under FILE.
func closeReleasedHolds(ctx context.Context, q querier, mark, last int64) error {
	const page = 1 << 14
	for after := mark; ; {
		rows, err := q.QueryContext(ctx, `SELECT entry_id, job_id FROM acct_entries NOT INDEXED
			WHERE entry_id > ?1 AND entry_id <= ?2 AND kind = 'release' ORDER BY entry_id LIMIT ?3`, after, last, page)
		if err != nil {
			return err
		}
		var jobs []string
		for rows.Next() {
			var j string
			if err := rows.Scan(&after, &j); err != nil {
				rows.Close()
				return err
			}
			jobs = append(jobs, j)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, j := range jobs {
			if _, err := q.ExecContext(ctx, `DELETE FROM acct_open_holds WHERE job_id = ?`, j); err != nil {
				return err
			}
		}
		if len(jobs) < page {
			return nil
		}
	}
}

// FoldCaches brings the caches up to the last entry now rather than at the
// next multiple of foldEvery. The ledger's writes need not call it; New does,
// and so should a program that booked many entries with plain SQL (a bulk
// import), so that reads need not add them up one by one meanwhile: the
// next write of the ledger's own folds a long tail at once (as a long
// write), a write on a caller's transaction a slice of shortTail entries.
func (l *Ledger) FoldCaches(ctx context.Context) error {
	return l.writeLong(ctx, func(tx querier) error {
		if err := foldCaches(ctx, tx, 0); err != nil {
			return fmt.Errorf("accounting: %w", err)
		}
		return nil
	})
}
