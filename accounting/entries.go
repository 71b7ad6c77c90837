package accounting

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Kind is the kind of a ledger entry.
type Kind string

// The kinds of entries and what each does to its allocation's balance:
//
//	grant    granted  += amount
//	adjust   adjusted += amount (signed; an administrator's correction)
//	hold     held     += amount (at submission)
//	charge   charged  += amount, held -= the part of the hold it uses
//	release  held     -= amount (the rest of the hold)
//	refund   refunded += amount (gives back part of a charge)
//
// remaining = granted + adjusted + refunded - charged - held.
const (
	KindGrant   Kind = "grant"
	KindHold    Kind = "hold"
	KindCharge  Kind = "charge"
	KindRelease Kind = "release"
	KindRefund  Kind = "refund"
	KindAdjust  Kind = "adjust"
)

// Entry is one line of the ledger. Entries are never changed or deleted.
type Entry struct {
	ID           int64  `json:"entry_id,string"`
	Kind         Kind   `json:"kind"`
	AllocationID int64  `json:"allocation_id,string"`
	Project      string `json:"project"`
	Site         string `json:"site"`
	JobID        string `json:"job_id,omitempty"`
	Partition    string `json:"partition,omitempty"`
	User         string `json:"user,omitempty"`
	// CoreSeconds is the entry's amount (signed only for adjustments).
	CoreSeconds int64   `json:"core_seconds"`
	CoreHours   float64 `json:"core_hours"`
	// FromHoldCoreSeconds (charges): the part of the charge the job's hold
	// covered.
	FromHoldCoreSeconds int64 `json:"from_hold_core_seconds,omitempty"`
	// OverrunCoreSeconds (charges): the part of the charge beyond the hold.
	OverrunCoreSeconds int64 `json:"overrun_core_seconds,omitempty"`
	// CPUSeconds (charges): Slurm's CPUTimeRAW the charge was computed from.
	CPUSeconds int64 `json:"cpu_seconds,omitempty"`
	// Rate (holds and charges) in thousandths.
	Rate int64 `json:"rate_thousandths,omitempty"`
	// Month the entry counts in: for a charge, the month the job ended; for
	// a refund, the month of the refunded charge.
	Month Month `json:"month"`
	// At is when the booked event happened: the job's end for a charge, the
	// acceptance of the job for a hold, otherwise when it was recorded.
	At         time.Time `json:"at"`
	RecordedAt time.Time `json:"recorded_at"`
	Who        string    `json:"who"`
	Why        string    `json:"why"`
	RequestID  string    `json:"request_id,omitempty"`
}

type entryRow struct {
	kind         Kind
	allocationID int64
	jobID        string
	amount       int64
	fromHold     int64
	overrun      int64
	cpuSeconds   int64
	rate         int64
	month        Month
	at           time.Time
	recordedAt   time.Time
	who, why     string
	requestID    string
}

// insertEntrySQL books one entry.
const insertEntrySQL = `INSERT INTO acct_entries
	(kind, allocation_id, job_id, amount, from_hold, overrun, cpu_seconds, rate, month, at, recorded_at, who, why, request_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func insertEntry(ctx context.Context, tx querier, e entryRow) (int64, error) {
	if e.amount > MaxCoreSeconds || e.amount < -MaxCoreSeconds {
		return 0, invalidf("%s of %d core-seconds: over the ledger's limit of %d (%.0f core-hours) per entry",
			e.kind, e.amount, int64(MaxCoreSeconds), float64(MaxCoreSeconds)/3600)
	}
	res, err := tx.ExecContext(ctx, insertEntrySQL,
		string(e.kind), e.allocationID, nullString(e.jobID), e.amount, e.fromHold, e.overrun, e.cpuSeconds, e.rate,
		int64(e.month), e.at.Unix(), e.recordedAt.Unix(), e.who, e.why, nullString(e.requestID))
	if err != nil {
		return 0, fmt.Errorf("insert %s entry: %w", e.kind, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if id%foldEvery == 0 {
		// A write that does not watch its context folds a long tail (a
		// bulk import) a slice at a time.
		var maxTail int64
		if mustStayShort(tx) {
			maxTail = shortTail
		}
		if err := foldCaches(ctx, tx, maxTail); err != nil {
			return 0, err
		}
	}
	return id, nil
}

const entrySelect = `SELECT e.entry_id, e.kind, e.allocation_id, a.project, a.site, coalesce(e.job_id, ''),
	coalesce(j.slurm_partition, ''), coalesce(j.user_name, ''), e.amount, e.from_hold, e.overrun,
	e.cpu_seconds, e.rate, e.month, e.at, e.recorded_at, e.who, e.why, coalesce(e.request_id, '')
	FROM acct_entries e
	JOIN acct_allocations a ON a.allocation_id = e.allocation_id
	LEFT JOIN acct_jobs j ON j.job_id = e.job_id `

func scanEntry(sc scanner) (Entry, error) {
	var e Entry
	var kind string
	var month, at, rec int64
	if err := sc.Scan(&e.ID, &kind, &e.AllocationID, &e.Project, &e.Site, &e.JobID, &e.Partition, &e.User,
		&e.CoreSeconds, &e.FromHoldCoreSeconds, &e.OverrunCoreSeconds, &e.CPUSeconds, &e.Rate,
		&month, &at, &rec, &e.Who, &e.Why, &e.RequestID); err != nil {
		return Entry{}, err
	}
	e.Kind, e.Month, e.At, e.RecordedAt = Kind(kind), Month(month), fromUnix(at), fromUnix(rec)
	e.CoreHours = hours(e.CoreSeconds)
	return e, nil
}

func queryEntries(ctx context.Context, q querier, where string, args ...any) ([]Entry, error) {
	rows, err := q.QueryContext(ctx, entrySelect+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EntryQuery selects entries; the zero value selects all of them (mind
// Limit). Conditions combine with AND.
type EntryQuery struct {
	AllocationID int64
	JobID        string
	Project      string
	Kind         Kind
	// AfterID returns entries with a greater id only, for paging.
	AfterID int64
	// Limit caps the number of entries (0: no cap).
	Limit int
}

// Entries lists entries in the order they were booked.
func (l *Ledger) Entries(ctx context.Context, q EntryQuery) ([]Entry, error) {
	if q.JobID != "" {
		// A job has a handful of entries, reached through the indexes of
		// each kind; filter them here.
		es, err := jobEntries(ctx, l.db, q.JobID)
		if err != nil {
			return nil, fmt.Errorf("accounting: entries: %w", err)
		}
		out := []Entry{}
		for _, e := range es {
			if e.ID > q.AfterID && (q.AllocationID == 0 || e.AllocationID == q.AllocationID) &&
				(q.Project == "" || e.Project == q.Project) && (q.Kind == "" || e.Kind == q.Kind) &&
				(q.Limit <= 0 || len(out) < q.Limit) {
				out = append(out, e)
			}
		}
		return out, nil
	}
	where := "WHERE e.entry_id > ?"
	args := []any{q.AfterID}
	if q.AllocationID != 0 {
		where += " AND e.entry_id IN (" + allocationEntriesSQL("?", func(string) string { return "true" }) + ")"
		args = append(args, q.AllocationID, q.AllocationID)
	}
	if q.Project != "" {
		where += " AND a.project = ?"
		args = append(args, q.Project)
	}
	if q.Kind != "" {
		where += " AND e.kind = ?"
		args = append(args, string(q.Kind))
	}
	where += " ORDER BY e.entry_id"
	if q.Limit > 0 {
		where += " LIMIT " + strconv.Itoa(q.Limit)
	}
	es, err := queryEntries(ctx, l.db, where, args...)
	if err != nil {
		return nil, fmt.Errorf("accounting: entries: %w", err)
	}
	return es, nil
}

// Entry returns one entry by id.
func (l *Ledger) Entry(ctx context.Context, id int64) (Entry, error) {
	es, err := queryEntries(ctx, l.db, `WHERE e.entry_id = ?`, id)
	if err != nil {
		return Entry{}, fmt.Errorf("accounting: entry %d: %w", id, err)
	}
	if len(es) == 0 {
		return Entry{}, fmt.Errorf("accounting: %w", notFoundf("entry %d", id))
	}
	return es[0], nil
}
