package accounting

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ---- Holds ----

// HoldRequest asks to hold core-seconds for a job the gateway accepts.
type HoldRequest struct {
	// JobID is the gateway's id of the job; it identifies the job in the
	// ledger and makes the hold idempotent.
	JobID string
	// Tag is what the gateway puts in the Slurm job's --comment, used by
	// Reconcile to find the job in sacct; empty means JobID.
	Tag       string
	Project   string
	Site      string
	Partition string
	User      string
	// Nodes and CPUsPerNode are what the partition will allocate (whole
	// nodes when exclusive).
	Nodes       int64
	CPUsPerNode int64
	// TimeLimit is the job's time limit (the request's, else the partition's
	// DefaultTime, else its MaxTime; never infinite).
	TimeLimit time.Duration
	// At is when the job was accepted: it chooses the allocation and the
	// rate. Zero means now.
	At  time.Time
	Who string
	Why string
}

// Hold is a placed hold.
type Hold struct {
	JobID        string  `json:"job_id"`
	EntryID      int64   `json:"entry_id,string"`
	AllocationID int64   `json:"allocation_id,string"`
	CoreSeconds  int64   `json:"core_seconds"`
	CoreHours    float64 `json:"core_hours"`
	// Rate is the rate the hold was computed with, in thousandths.
	Rate int64     `json:"rate_thousandths"`
	At   time.Time `json:"at"`
	// AvailableCoreSeconds is what the allocation has left after the hold
	// (for a replayed request: what it has left now).
	AvailableCoreSeconds int64 `json:"available_core_seconds"`
	// Replayed is true when the job already had this hold and nothing was
	// written.
	Replayed bool `json:"replayed,omitempty"`
}

// PlaceHold holds core-seconds for a job: HoldAmount(Nodes, CPUsPerNode,
// TimeLimit, rate) on the allocation of (Project, Site) covering At, at the
// rate of (Site, Partition) in force at At.
//
// Errors: ErrNoAllocation if no allocation covers At; ErrNoRate; an
// *InsufficientError (ErrInsufficient) if the hold would take the
// allocation's available core-seconds below what its overdraft policy
// allows, saying how much is left; ErrConflict if the job already has a hold
// computed from other figures or its tag is another job's. Placing the same
// hold again returns it with Replayed set and writes nothing.
//
// Concurrent holds never overspend: the balance is read and the hold written
// in one immediate transaction, and SQLite admits one writer at a time.
func (l *Ledger) PlaceHold(ctx context.Context, req HoldRequest) (Hold, error) {
	var out Hold
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.placeHoldOn(ctx, tx, req)
		return err
	})
	return out, err
}

// PlaceHoldTx is PlaceHold on the caller's transaction (for instance the one
// that records the accepted job), which must be an immediate transaction
// (DSNParams) for the balance check to hold until commit.
func (l *Ledger) PlaceHoldTx(ctx context.Context, tx *sql.Tx, req HoldRequest) (Hold, error) {
	return l.placeHoldOn(ctx, callerTx{tx}, req)
}

// placeHoldOn is PlaceHold on tx, the caller's transaction or the ledger's own.
func (l *Ledger) placeHoldOn(ctx context.Context, tx querier, req HoldRequest) (Hold, error) {
	var out Hold
	err := l.atomically(ctx, tx, opf("place hold for job %q", req.JobID), func() (err error) {
		out, err = l.placeHold(ctx, tx, req)
		return err
	})
	return out, err
}

func (l *Ledger) placeHold(ctx context.Context, tx querier, req HoldRequest) (Hold, error) {
	if err := checkNames("job id", req.JobID, "project", req.Project, "site", req.Site,
		"partition", req.Partition, "user", req.User, "who", req.Who); err != nil {
		return Hold{}, err
	}
	if req.Partition == AnyPartition {
		return Hold{}, invalidf("partition %q is not a partition", req.Partition)
	}
	tag := req.Tag
	if tag == "" {
		tag = req.JobID
	} else if err := checkName("tag", tag); err != nil {
		return Hold{}, err
	}
	if req.TimeLimit <= 0 {
		return Hold{}, invalidf("time limit %v: a job without a finite time limit cannot be held", req.TimeLimit)
	}
	now := l.nowUTC()
	at := now
	if !req.At.IsZero() {
		at = req.At.UTC().Truncate(time.Second)
	}
	limit := int64((req.TimeLimit + time.Second - 1) / time.Second)

	t, err := termsAt(ctx, tx, req.Project, req.Site, req.Partition, at, req.JobID)
	if err != nil {
		return Hold{}, err
	}
	if t.jobExists {
		job, err := loadJob(ctx, tx, req.JobID)
		if err != nil {
			return Hold{}, err
		}
		if job.Tag != tag || job.Project != req.Project || job.Site != req.Site || job.Partition != req.Partition ||
			job.User != req.User || job.Nodes != req.Nodes || job.CPUsPerNode != req.CPUsPerNode || job.TimeLimit != limit {
			return Hold{}, conflictf("job %q already has a hold computed from other figures", req.JobID)
		}
		e, err := jobEntry(ctx, tx, req.JobID, KindHold)
		if err != nil {
			return Hold{}, err
		}
		avail, err := available(ctx, tx, job.AllocationID)
		if err != nil {
			return Hold{}, err
		}
		return Hold{JobID: job.JobID, EntryID: e.ID, AllocationID: job.AllocationID, CoreSeconds: job.HoldAmount,
			CoreHours: hours(job.HoldAmount), Rate: job.Rate, At: fromUnix(job.HeldAt), AvailableCoreSeconds: avail, Replayed: true}, nil
	}
	if t.allocationID == 0 {
		_, err := allocationAt(ctx, tx, req.Project, req.Site, at) // says why
		return Hold{}, err
	}
	if !t.rate.Valid {
		_, err := rateAt(ctx, tx, req.Site, req.Partition, at)
		return Hold{}, err
	}
	rate := t.rate.Int64
	amount, err := HoldAmount(req.Nodes, req.CPUsPerNode, req.TimeLimit, rate)
	if err != nil {
		return Hold{}, err
	}
	allocID, avail := t.allocationID, t.available
	if !t.overdraft.allows(avail, amount) {
		return Hold{}, &InsufficientError{Project: req.Project, Site: req.Site, AllocationID: allocID,
			Requested: amount, Available: avail, Overdraft: int64(t.overdraft)}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO acct_jobs
		(job_id, tag, allocation_id, project, site, slurm_partition, user_name, nodes, cpus_per_node, time_limit, rate, hold_amount, held_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		req.JobID, tag, allocID, req.Project, req.Site, req.Partition, req.User, req.Nodes, req.CPUsPerNode,
		limit, rate, amount, at.Unix()); err != nil {
		if isUnique(err) {
			return Hold{}, conflictf("tag %q is already another job's", tag)
		}
		return Hold{}, err
	}
	id, err := insertEntry(ctx, tx, entryRow{kind: KindHold, allocationID: allocID, jobID: req.JobID, amount: amount,
		rate: rate, month: MonthOf(at), at: at, recordedAt: now, who: req.Who, why: req.Why})
	if err != nil {
		return Hold{}, err
	}
	return Hold{JobID: req.JobID, EntryID: id, AllocationID: allocID, CoreSeconds: amount, CoreHours: hours(amount),
		Rate: rate, At: at, AvailableCoreSeconds: avail - amount}, nil
}

// terms are what a hold or a charge at a given time depends on, read in one
// statement: the allocation of (project, site) covering that time (0 if
// none), its overdraft and what it has left, the rate of (site, partition)
// then (NULL if none), and whether the job is already known.
type terms struct {
	allocationID int64
	overdraft    Overdraft
	available    int64
	rate         sql.NullInt64
	jobExists    bool
}

// termsAt reads the terms in one statement when an allocation covers at (the
// usual case), in another when none does. The rate is the one with no later
// rate in force at ?4 rather than the first of an ORDER BY ... LIMIT 1, and
// each statement reads one table besides its scalar subqueries: SQLite
// re-prepares a statement whose ORDER BY, or whose join of two tables, meets
// bound equalities at every new binding (30-50 us at every hold).
func termsAt(ctx context.Context, q querier, project, site, partition string, at time.Time, jobID string) (terms, error) {
	var t terms
	var avail sql.NullInt64
	err := q.QueryRowContext(ctx, termsSQL, project, site, partition, at.Unix(), jobID).Scan(&t.allocationID, (*int64)(&t.overdraft), &avail, &t.rate, &t.jobExists)
	if errors.Is(err, sql.ErrNoRows) {
		t = terms{}
		err = q.QueryRowContext(ctx, termsWithoutAllocationSQL, project, site, partition, at.Unix(), jobID).Scan(&t.rate, &t.jobExists, new(string))
	}
	if err != nil {
		return terms{}, fmt.Errorf("terms for %s at %s: %w", project, site, err)
	}
	t.available = avail.Int64
	return t, nil
}

// rateAtSQL is the rate in force for partition part at site site at time
// at (SQL expressions: parameters or columns): the partition's own, else the
// site's default (AnyPartition), else NULL.
func rateAtSQL(site, part, at string) string {
	return `coalesce(
		           (SELECT r.thousandths FROM acct_rates r WHERE r.site = ` + site + ` AND r.slurm_partition = ` + part + ` AND r.effective_from <= ` + at + `
		               AND NOT EXISTS (SELECT 1 FROM acct_rates n WHERE n.site = ` + site + ` AND n.slurm_partition = ` + part + `
		                               AND n.effective_from > r.effective_from AND n.effective_from <= ` + at + `)),
		           (SELECT r.thousandths FROM acct_rates r WHERE r.site = ` + site + ` AND r.slurm_partition = '*' AND r.effective_from <= ` + at + `
		               AND NOT EXISTS (SELECT 1 FROM acct_rates n WHERE n.site = ` + site + ` AND n.slurm_partition = '*'
		                               AND n.effective_from > r.effective_from AND n.effective_from <= ` + at + `)))`
}

// termsSQL and termsWithoutAllocationSQL are termsAt's statements, for
// project ?1, site ?2, partition ?3, time ?4 and job ?5 (built once: a hold
// should not concatenate a kilobyte of SQL each time).
var (
	termsSQL = `SELECT a.allocation_id, a.overdraft,
		       (SELECT b.granted + b.adjusted + b.refunded - b.charged - b.held FROM acct_balances b
		         WHERE b.allocation_id = a.allocation_id) + ` + tailAvailableSQL("a.allocation_id") + `,
		       ` + rateAtSQL("?2", "?3", "?4") + `,
		       EXISTS (SELECT 1 FROM acct_jobs WHERE job_id = ?5)
		FROM acct_allocations a
		WHERE a.project = ?1 AND a.site = ?2 AND a.starts_at <= ?4 AND ?4 < a.ends_at`
	termsWithoutAllocationSQL = `SELECT ` + rateAtSQL("?2", "?3", "?4") + `, EXISTS (SELECT 1 FROM acct_jobs WHERE job_id = ?5), ?1`
)

// availableSQL is what allocation ? has left (see available).
var availableSQL = `SELECT b.granted + b.adjusted + b.refunded - b.charged - b.held + ` + tailAvailableSQL("b.allocation_id") + `
		FROM acct_balances b WHERE b.allocation_id = ?`

// available is what an allocation has left: granted + adjusted + refunded -
// charged - held, read from the balance cache and the entries after its mark.
func available(ctx context.Context, q querier, allocationID int64) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, availableSQL, allocationID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFoundf("allocation %d", allocationID)
	}
	if err != nil {
		return 0, fmt.Errorf("balance of allocation %d: %w", allocationID, err)
	}
	return v, nil
}

// ---- Charges, releases, settlement ----

// ChargeRequest books the real usage of a job that ended.
type ChargeRequest struct {
	JobID string
	// CPUSeconds is Slurm's CPUTimeRAW summed over every run of the job
	// (sacct -D for a requeued job).
	CPUSeconds int64
	// EndedAt is when the job (its last run) ended. It decides the month the
	// usage belongs to, the rate, and the allocation charged: the one of the
	// job's project and site covering EndedAt, else the allocation of the
	// hold.
	EndedAt time.Time
	Who     string
	Why     string
}

// Charge is a booked charge.
type Charge struct {
	JobID        string  `json:"job_id"`
	EntryID      int64   `json:"entry_id,string"`
	AllocationID int64   `json:"allocation_id,string"`
	CPUSeconds   int64   `json:"cpu_seconds"`
	Rate         int64   `json:"rate_thousandths"`
	CoreSeconds  int64   `json:"core_seconds"`
	CoreHours    float64 `json:"core_hours"`
	// HoldCoreSeconds is the job's hold.
	HoldCoreSeconds int64 `json:"hold_core_seconds"`
	// FromHoldCoreSeconds is the part of the charge the hold covered.
	FromHoldCoreSeconds int64 `json:"from_hold_core_seconds"`
	// OverrunCoreSeconds is the part of the charge beyond the hold.
	OverrunCoreSeconds int64     `json:"overrun_core_seconds"`
	Month              Month     `json:"month"`
	EndedAt            time.Time `json:"ended_at"`
	Replayed           bool      `json:"replayed,omitempty"`
}

// ChargeJob books a job's charge: ChargeAmount(CPUSeconds, rate in force at
// EndedAt for the job's site and partition, or the hold's rate if none). The
// charge may exceed the hold: the overrun is booked in full and reported. The
// part of the hold the charge uses leaves "held"; the rest stays held until
// ReleaseJob (SettleJob does both).
//
// Idempotent per job: a second charge with the same CPUSeconds and EndedAt
// returns the first with Replayed set and writes nothing; with other figures
// it is an ErrConflict (correct a charge with a refund or an adjustment). A
// job without a hold is ErrNotFound.
func (l *Ledger) ChargeJob(ctx context.Context, req ChargeRequest) (Charge, error) {
	var out Charge
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.chargeJobOn(ctx, tx, req)
		return err
	})
	return out, err
}

// ChargeJobTx is ChargeJob on the caller's transaction.
func (l *Ledger) ChargeJobTx(ctx context.Context, tx *sql.Tx, req ChargeRequest) (Charge, error) {
	return l.chargeJobOn(ctx, callerTx{tx}, req)
}

// chargeJobOn is ChargeJob on tx, the caller's transaction or the ledger's own.
func (l *Ledger) chargeJobOn(ctx context.Context, tx querier, req ChargeRequest) (Charge, error) {
	var out Charge
	err := l.atomically(ctx, tx, opf("charge job %q", req.JobID), func() error {
		st, err := loadJobState(ctx, tx, req.JobID, req.EndedAt.UTC().Truncate(time.Second))
		if err != nil {
			return err
		}
		out, err = l.charge(ctx, tx, &st, req)
		return err
	})
	return out, err
}

// jobState is a job and its charge and release entries, if any, and for a
// charge the terms at the job's end.
type jobState struct {
	job     jobRow
	charge  *Entry
	release *Entry
	// end are the terms at the end time given to loadJobState: the
	// allocation of the job's project and site then (0 if none) and the
	// rate of its site and partition (NULL if none).
	end struct {
		allocationID int64
		rate         sql.NullInt64
	}
}

// jobStateSQL reads a job's row and, with ?2 the Unix time of its end, the
// terms then (NULL for a NULL ?2). One statement: a settlement makes no
// other read.
var jobStateSQL = `SELECT ` + jobColsJ + `, j.charge_entry_id, j.release_entry_id,
	coalesce((SELECT a.allocation_id FROM acct_allocations a
	           WHERE a.project = j.project AND a.site = j.site AND a.starts_at <= ?2 AND ?2 < a.ends_at), 0),
	` + rateAtSQL("j.site", "j.slurm_partition", "?2") + `
	FROM acct_jobs j WHERE j.job_id = ?1`

// loadJobState reads a job, its charge and release if it has them
// (ErrNotFound if the job has no hold), and, unless endedAt is zero, the
// terms at endedAt.
func loadJobState(ctx context.Context, q querier, jobID string, endedAt time.Time) (jobState, error) {
	var st jobState
	j := &st.job
	var chargeID, releaseID sql.NullInt64
	var at sql.NullInt64
	if !endedAt.IsZero() {
		at = sql.NullInt64{Int64: endedAt.Unix(), Valid: true}
	}
	err := q.QueryRowContext(ctx, jobStateSQL, jobID, at).Scan(&j.JobID, &j.Tag, &j.AllocationID, &j.Project, &j.Site,
		&j.Partition, &j.User, &j.Nodes, &j.CPUsPerNode, &j.TimeLimit, &j.Rate, &j.HoldAmount, &j.HeldAt, &j.Cluster, &j.SiteJobID,
		&chargeID, &releaseID, &st.end.allocationID, &st.end.rate)
	if errors.Is(err, sql.ErrNoRows) {
		return jobState{}, notFoundf("job %q has no hold", jobID)
	}
	if err != nil {
		return jobState{}, fmt.Errorf("job %q: %w", jobID, err)
	}
	if !chargeID.Valid && !releaseID.Valid {
		return st, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT entry_id, kind, allocation_id, amount, from_hold, overrun, cpu_seconds, rate, month, at
		FROM acct_entries WHERE entry_id IN (?, ?)`, chargeID, releaseID)
	if err != nil {
		return jobState{}, fmt.Errorf("job %q: %w", jobID, err)
	}
	defer rows.Close()
	for rows.Next() {
		e := Entry{JobID: jobID}
		var kind string
		var month, at int64
		if err := rows.Scan(&e.ID, &kind, &e.AllocationID, &e.CoreSeconds, &e.FromHoldCoreSeconds, &e.OverrunCoreSeconds,
			&e.CPUSeconds, &e.Rate, &month, &at); err != nil {
			return jobState{}, fmt.Errorf("job %q: %w", jobID, err)
		}
		e.Kind, e.Month, e.At, e.CoreHours = Kind(kind), Month(month), fromUnix(at), hours(e.CoreSeconds)
		switch e.Kind {
		case KindCharge:
			st.charge = &e
		case KindRelease:
			st.release = &e
		}
	}
	if err := rows.Err(); err != nil {
		return jobState{}, fmt.Errorf("job %q: %w", jobID, err)
	}
	return st, nil
}

func (l *Ledger) charge(ctx context.Context, tx querier, st *jobState, req ChargeRequest) (Charge, error) {
	if err := checkNames("job id", req.JobID, "who", req.Who); err != nil {
		return Charge{}, err
	}
	if req.CPUSeconds < 0 {
		return Charge{}, invalidf("CPU seconds %d is negative", req.CPUSeconds)
	}
	if req.EndedAt.IsZero() {
		return Charge{}, invalidf("no end time: only a job that ended can be charged")
	}
	ended := req.EndedAt.UTC().Truncate(time.Second)
	job := st.job
	if prev := st.charge; prev != nil {
		if prev.CPUSeconds != req.CPUSeconds || !prev.At.Equal(ended) {
			return Charge{}, conflictf("job %q was already charged %d core-seconds for %d CPU-seconds ending %s; correct it with a refund or an adjustment",
				req.JobID, prev.CoreSeconds, prev.CPUSeconds, prev.At.Format(time.RFC3339))
		}
		return chargeFromEntry(*prev, job.HoldAmount, true), nil
	}
	allocID := job.AllocationID // no allocation covers the end: the hold's
	if st.end.allocationID != 0 {
		allocID = st.end.allocationID
	}
	rate := job.Rate // no rate in force at the end: the hold's
	if st.end.rate.Valid {
		rate = st.end.rate.Int64
	}
	amount, err := ChargeAmount(req.CPUSeconds, rate)
	if err != nil {
		return Charge{}, err
	}
	// The charge uses the hold only when it lands on the hold's allocation
	// and the hold has not been released; otherwise the release gives the
	// whole hold back.
	var fromHold int64
	if allocID == job.AllocationID && st.release == nil {
		fromHold = min(amount, job.HoldAmount)
	}
	overrun := max(0, amount-job.HoldAmount)
	now := l.nowUTC()
	e := entryRow{kind: KindCharge, allocationID: allocID, jobID: req.JobID, amount: amount, fromHold: fromHold,
		overrun: overrun, cpuSeconds: req.CPUSeconds, rate: rate, month: MonthOf(ended), at: ended, recordedAt: now,
		who: req.Who, why: req.Why}
	id, err := insertEntry(ctx, tx, e)
	if err != nil {
		return Charge{}, err
	}
	st.charge = &Entry{ID: id, Kind: KindCharge, AllocationID: allocID, JobID: req.JobID, CoreSeconds: amount,
		CoreHours: hours(amount), FromHoldCoreSeconds: fromHold, OverrunCoreSeconds: overrun, CPUSeconds: req.CPUSeconds,
		Rate: rate, Month: e.month, At: ended}
	return chargeFromEntry(*st.charge, job.HoldAmount, false), nil
}

func chargeFromEntry(e Entry, hold int64, replayed bool) Charge {
	return Charge{JobID: e.JobID, EntryID: e.ID, AllocationID: e.AllocationID, CPUSeconds: e.CPUSeconds, Rate: e.Rate,
		CoreSeconds: e.CoreSeconds, CoreHours: e.CoreHours, HoldCoreSeconds: hold, FromHoldCoreSeconds: e.FromHoldCoreSeconds,
		OverrunCoreSeconds: e.OverrunCoreSeconds, Month: e.Month, EndedAt: e.At, Replayed: replayed}
}

// ReleaseRequest gives back what is left of a job's hold.
type ReleaseRequest struct {
	JobID string
	Who   string
	Why   string
}

// Release is a booked release.
type Release struct {
	JobID        string `json:"job_id"`
	EntryID      int64  `json:"entry_id,string"`
	AllocationID int64  `json:"allocation_id,string"`
	// CoreSeconds is what went back to the allocation: the hold less the
	// part a charge used (0 if the charge used it all).
	CoreSeconds int64     `json:"core_seconds"`
	CoreHours   float64   `json:"core_hours"`
	At          time.Time `json:"at"`
	Replayed    bool      `json:"replayed,omitempty"`
}

// ReleaseJob releases the rest of a job's hold: all of it for a job that
// never ran (rejected, cancelled while pending), the part its charge did not
// use otherwise. Idempotent per job: a second release returns the first with
// Replayed set. A job without a hold is ErrNotFound.
func (l *Ledger) ReleaseJob(ctx context.Context, req ReleaseRequest) (Release, error) {
	var out Release
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.releaseJobOn(ctx, tx, req)
		return err
	})
	return out, err
}

// ReleaseJobTx is ReleaseJob on the caller's transaction.
func (l *Ledger) ReleaseJobTx(ctx context.Context, tx *sql.Tx, req ReleaseRequest) (Release, error) {
	return l.releaseJobOn(ctx, callerTx{tx}, req)
}

// releaseJobOn is ReleaseJob on tx, the caller's transaction or the ledger's own.
func (l *Ledger) releaseJobOn(ctx context.Context, tx querier, req ReleaseRequest) (Release, error) {
	var out Release
	err := l.atomically(ctx, tx, opf("release job %q", req.JobID), func() error {
		st, err := loadJobState(ctx, tx, req.JobID, time.Time{})
		if err != nil {
			return err
		}
		out, err = l.release(ctx, tx, &st, req)
		return err
	})
	return out, err
}

func (l *Ledger) release(ctx context.Context, tx querier, st *jobState, req ReleaseRequest) (Release, error) {
	if err := checkNames("job id", req.JobID, "who", req.Who); err != nil {
		return Release{}, err
	}
	job := st.job
	if prev := st.release; prev != nil {
		return Release{JobID: prev.JobID, EntryID: prev.ID, AllocationID: prev.AllocationID, CoreSeconds: prev.CoreSeconds,
			CoreHours: prev.CoreHours, At: prev.At, Replayed: true}, nil
	}
	var used int64
	if st.charge != nil {
		used = st.charge.FromHoldCoreSeconds
	}
	amount := job.HoldAmount - used
	now := l.nowUTC()
	id, err := insertEntry(ctx, tx, entryRow{kind: KindRelease, allocationID: job.AllocationID, jobID: req.JobID,
		amount: amount, month: MonthOf(now), at: now, recordedAt: now, who: req.Who, why: req.Why})
	if err != nil {
		return Release{}, err
	}
	st.release = &Entry{ID: id, Kind: KindRelease, AllocationID: job.AllocationID, JobID: req.JobID, CoreSeconds: amount,
		CoreHours: hours(amount), At: now}
	return Release{JobID: req.JobID, EntryID: id, AllocationID: job.AllocationID, CoreSeconds: amount,
		CoreHours: hours(amount), At: now}, nil
}

// Settlement is the charge and the release that close a job.
type Settlement struct {
	Charge  Charge  `json:"charge"`
	Release Release `json:"release"`
}

// SettleJob is the end of a job that ran: ChargeJob then ReleaseJob, in one
// transaction. Idempotent as both are.
func (l *Ledger) SettleJob(ctx context.Context, req ChargeRequest) (Settlement, error) {
	var out Settlement
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.settleJobOn(ctx, tx, req)
		return err
	})
	return out, err
}

// SettleJobTx is SettleJob on the caller's transaction (for instance the one
// that records the job's final state).
func (l *Ledger) SettleJobTx(ctx context.Context, tx *sql.Tx, req ChargeRequest) (Settlement, error) {
	return l.settleJobOn(ctx, callerTx{tx}, req)
}

// settleJobOn is SettleJob on tx, the caller's transaction or the ledger's own.
func (l *Ledger) settleJobOn(ctx context.Context, tx querier, req ChargeRequest) (Settlement, error) {
	var out Settlement
	err := l.atomically(ctx, tx, opf("settle job %q", req.JobID), func() error {
		st, err := loadJobState(ctx, tx, req.JobID, req.EndedAt.UTC().Truncate(time.Second))
		if err != nil {
			return err
		}
		if out.Charge, err = l.charge(ctx, tx, &st, req); err != nil {
			return err
		}
		out.Release, err = l.release(ctx, tx, &st, ReleaseRequest{JobID: req.JobID, Who: req.Who, Why: req.Why})
		return err
	})
	return out, err
}

// ---- Refunds, adjustments, grants ----

// RefundRequest gives back part or all of a job's charge (a node failure,
// a site outage).
type RefundRequest struct {
	JobID       string
	CoreSeconds int64
	Who         string
	Why         string // required
	// RequestID, if set, makes a retried refund safe: the same id with the
	// same figures returns the first entry.
	RequestID string
}

// Refund books a refund on the allocation and in the month of the job's
// charge. Refunds of a job never exceed its charge (ErrInvalid); a job not
// charged yet is ErrNotFound.
func (l *Ledger) Refund(ctx context.Context, req RefundRequest) (Entry, error) {
	var out Entry
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.refundOn(ctx, tx, req)
		return err
	})
	return out, err
}

// RefundTx is Refund on the caller's transaction.
func (l *Ledger) RefundTx(ctx context.Context, tx *sql.Tx, req RefundRequest) (Entry, error) {
	return l.refundOn(ctx, callerTx{tx}, req)
}

// refundOn is Refund on tx, the caller's transaction or the ledger's own.
func (l *Ledger) refundOn(ctx context.Context, tx querier, req RefundRequest) (Entry, error) {
	var out Entry
	err := l.atomically(ctx, tx, opf("refund job %q", req.JobID), func() error {
		if err := checkNames("job id", req.JobID, "who", req.Who); err != nil {
			return err
		}
		if err := checkWhy(req.Why); err != nil {
			return err
		}
		if req.CoreSeconds <= 0 {
			return invalidf("refund of %d core-seconds: want a positive amount", req.CoreSeconds)
		}
		if prev, ok, err := replay(ctx, tx, req.RequestID); err != nil {
			return err
		} else if ok {
			if prev.Kind != KindRefund || prev.JobID != req.JobID || prev.CoreSeconds != req.CoreSeconds {
				return conflictf("request %q booked entry %d with other figures", req.RequestID, prev.ID)
			}
			out = prev
			return nil
		}
		ch, err := jobEntry(ctx, tx, req.JobID, KindCharge)
		if err != nil {
			return fmt.Errorf("job %q has no charge to refund: %w", req.JobID, err)
		}
		var refunded int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(amount), 0) FROM acct_entries WHERE job_id = ? AND kind = 'refund'`,
			req.JobID).Scan(&refunded); err != nil {
			return err
		}
		if left := ch.CoreSeconds - refunded; req.CoreSeconds > left {
			return invalidf("refund of %d core-seconds exceeds the %d still refundable of the job's charge of %d",
				req.CoreSeconds, left, ch.CoreSeconds)
		}
		now := l.nowUTC()
		id, err := insertEntry(ctx, tx, entryRow{kind: KindRefund, allocationID: ch.AllocationID, jobID: req.JobID,
			amount: req.CoreSeconds, month: ch.Month, at: now, recordedAt: now, who: req.Who, why: req.Why, requestID: req.RequestID})
		if err != nil {
			return err
		}
		out, err = getEntry(ctx, tx, id)
		return err
	})
	return out, err
}

// AdjustRequest is an administrator's correction of an allocation.
type AdjustRequest struct {
	AllocationID int64
	// CoreSeconds is added to the allocation (negative to take away).
	CoreSeconds int64
	Who         string
	Why         string // required
	RequestID   string // optional, as for RefundRequest
}

// Adjust books an adjustment. It may take the balance below zero: that is
// the administrator's decision, and later holds are refused accordingly.
func (l *Ledger) Adjust(ctx context.Context, req AdjustRequest) (Entry, error) {
	var out Entry
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.adjustOn(ctx, tx, req)
		return err
	})
	return out, err
}

// AdjustTx is Adjust on the caller's transaction.
func (l *Ledger) AdjustTx(ctx context.Context, tx *sql.Tx, req AdjustRequest) (Entry, error) {
	return l.adjustOn(ctx, callerTx{tx}, req)
}

// adjustOn is Adjust on tx, the caller's transaction or the ledger's own.
func (l *Ledger) adjustOn(ctx context.Context, tx querier, req AdjustRequest) (Entry, error) {
	var out Entry
	err := l.atomically(ctx, tx, opf("adjust allocation %d", req.AllocationID), func() (err error) {
		if err := checkWhy(req.Why); err != nil {
			return err
		}
		if req.CoreSeconds == 0 {
			return invalidf("an adjustment of 0 core-seconds")
		}
		out, err = l.allocationEntry(ctx, tx, KindAdjust, req.AllocationID, req.CoreSeconds, req.Who, req.Why, req.RequestID)
		return err
	})
	return out, err
}

// GrantRequest adds core-seconds to an allocation.
type GrantRequest struct {
	AllocationID int64
	CoreSeconds  int64 // positive
	Who          string
	Why          string
	RequestID    string // optional, as for RefundRequest
}

// Grant books a grant on an allocation.
func (l *Ledger) Grant(ctx context.Context, req GrantRequest) (Entry, error) {
	var out Entry
	err := l.write(ctx, func(tx querier) (err error) {
		out, err = l.grantOn(ctx, tx, req)
		return err
	})
	return out, err
}

// GrantTx is Grant on the caller's transaction.
func (l *Ledger) GrantTx(ctx context.Context, tx *sql.Tx, req GrantRequest) (Entry, error) {
	return l.grantOn(ctx, callerTx{tx}, req)
}

// grantOn is Grant on tx, the caller's transaction or the ledger's own.
func (l *Ledger) grantOn(ctx context.Context, tx querier, req GrantRequest) (Entry, error) {
	var out Entry
	err := l.atomically(ctx, tx, opf("grant to allocation %d", req.AllocationID), func() (err error) {
		if req.CoreSeconds <= 0 {
			return invalidf("grant of %d core-seconds: want a positive amount", req.CoreSeconds)
		}
		out, err = l.allocationEntry(ctx, tx, KindGrant, req.AllocationID, req.CoreSeconds, req.Who, req.Why, req.RequestID)
		return err
	})
	return out, err
}

func (l *Ledger) allocationEntry(ctx context.Context, tx querier, kind Kind, allocID, amount int64, who, why, requestID string) (Entry, error) {
	if err := checkName("who", who); err != nil {
		return Entry{}, err
	}
	if prev, ok, err := replay(ctx, tx, requestID); err != nil {
		return Entry{}, err
	} else if ok {
		if prev.Kind != kind || prev.AllocationID != allocID || prev.CoreSeconds != amount {
			return Entry{}, conflictf("request %q booked entry %d with other figures", requestID, prev.ID)
		}
		return prev, nil
	}
	if _, err := getAllocation(ctx, tx, allocID); err != nil {
		return Entry{}, err
	}
	// What grants and adjustments move stays within MaxCoreSeconds, so no
	// sum of an allocation's entries overflows.
	var moved int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(abs(amount)), 0) FROM acct_entries
		WHERE entry_id IN (`+allocationEntriesSQL("?1", func(t string) string { return t + `.kind IN ('grant', 'adjust')` })+`)`,
		allocID).Scan(&moved); err != nil {
		return Entry{}, err
	}
	if abs := max(amount, -amount); abs > MaxCoreSeconds || moved > MaxCoreSeconds-abs {
		return Entry{}, invalidf("%s of %d core-seconds: the allocation's grants and adjustments would move over %d core-seconds",
			kind, amount, int64(MaxCoreSeconds))
	}
	now := l.nowUTC()
	id, err := insertEntry(ctx, tx, entryRow{kind: kind, allocationID: allocID, amount: amount,
		month: MonthOf(now), at: now, recordedAt: now, who: who, why: why, requestID: requestID})
	if err != nil {
		return Entry{}, err
	}
	return getEntry(ctx, tx, id)
}

// replay returns the entry booked under requestID, if any.
func replay(ctx context.Context, q querier, requestID string) (Entry, bool, error) {
	if requestID == "" {
		return Entry{}, false, nil
	}
	es, err := queryEntries(ctx, q, `WHERE e.request_id = ?`, requestID)
	if err != nil || len(es) == 0 {
		return Entry{}, false, err
	}
	return es[0], true, nil
}

func getEntry(ctx context.Context, q querier, id int64) (Entry, error) {
	es, err := queryEntries(ctx, q, `WHERE e.entry_id = ?`, id)
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, notFoundf("entry %d", id)
	}
	return es[0], nil
}

// jobEntry is the job's entry of kind (hold, charge or release: at most one
// each), ErrNotFound if there is none.
func jobEntry(ctx context.Context, q querier, jobID string, kind Kind) (Entry, error) {
	es, err := queryEntries(ctx, q, jobKindWhere(kind), jobID)
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, notFoundf("no %s for job %q", kind, jobID)
	}
	return es[0], nil
}

// jobKindWhere selects a job's entries of one kind: the hold, charge or
// release its row names, or its refunds (through their index).
func jobKindWhere(kind Kind) string {
	switch kind {
	case KindHold, KindCharge, KindRelease:
		return `WHERE e.entry_id = (SELECT ` + string(kind) + `_entry_id FROM acct_jobs WHERE job_id = ?)`
	case KindRefund:
		return `WHERE e.job_id = ? AND e.kind = 'refund'`
	}
	return `WHERE e.job_id = ? AND 0` // grants and adjustments have no job
}

// jobEntries are all the entries of a job, in booking order.
func jobEntries(ctx context.Context, q querier, jobID string) ([]Entry, error) {
	es, err := queryEntries(ctx, q, `WHERE e.entry_id IN ((SELECT hold_entry_id FROM acct_jobs WHERE job_id = ?1),
		(SELECT charge_entry_id FROM acct_jobs WHERE job_id = ?1), (SELECT release_entry_id FROM acct_jobs WHERE job_id = ?1))`, jobID)
	if err != nil {
		return nil, err
	}
	refunds, err := queryEntries(ctx, q, jobKindWhere(KindRefund), jobID)
	if err != nil {
		return nil, err
	}
	all := append(es, refunds...)
	slices.SortFunc(all, func(a, b Entry) int { return cmp.Compare(a.ID, b.ID) })
	return all, nil
}

// ---- Jobs ----

type jobRow struct {
	JobID, Tag                     string
	AllocationID                   int64
	Project, Site, Partition, User string
	Nodes, CPUsPerNode, TimeLimit  int64
	Rate, HoldAmount, HeldAt       int64
	Cluster, SiteJobID             string
}

const jobCols = `job_id, tag, allocation_id, project, site, slurm_partition, user_name, nodes, cpus_per_node,
	time_limit, rate, hold_amount, held_at, coalesce(cluster, ''), coalesce(site_job_id, '')`

// jobColsJ is jobCols for the table aliased j.
const jobColsJ = `j.job_id, j.tag, j.allocation_id, j.project, j.site, j.slurm_partition, j.user_name, j.nodes,
	j.cpus_per_node, j.time_limit, j.rate, j.hold_amount, j.held_at, coalesce(j.cluster, ''), coalesce(j.site_job_id, '')`

func scanJob(sc scanner) (jobRow, error) {
	var j jobRow
	err := sc.Scan(&j.JobID, &j.Tag, &j.AllocationID, &j.Project, &j.Site, &j.Partition, &j.User, &j.Nodes,
		&j.CPUsPerNode, &j.TimeLimit, &j.Rate, &j.HoldAmount, &j.HeldAt, &j.Cluster, &j.SiteJobID)
	return j, err
}

func loadJob(ctx context.Context, q querier, jobID string) (jobRow, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobCols+` FROM acct_jobs WHERE job_id = ?`, jobID))
	if errors.Is(err, sql.ErrNoRows) {
		return jobRow{}, notFoundf("job %q has no hold", jobID)
	}
	if err != nil {
		return jobRow{}, fmt.Errorf("job %q: %w", jobID, err)
	}
	return j, nil
}

// SiteJob names the Slurm job of a gateway job once it is known.
type SiteJob struct {
	JobID     string // the gateway's
	Cluster   string
	SiteJobID string // Slurm's job id, e.g. "1234" or "1234_7"
}

// RecordSiteJob records the Slurm job of a held job, for reconciliation.
// It is set once: the same values again are a no-op, others ErrConflict.
func (l *Ledger) RecordSiteJob(ctx context.Context, s SiteJob) error {
	return l.write(ctx, func(tx querier) error { return l.recordSiteJobOn(ctx, tx, s) })
}

// RecordSiteJobTx is RecordSiteJob on the caller's transaction.
func (l *Ledger) RecordSiteJobTx(ctx context.Context, tx *sql.Tx, s SiteJob) error {
	return l.recordSiteJobOn(ctx, callerTx{tx}, s)
}

// recordSiteJobOn is RecordSiteJob on tx, the caller's transaction or the ledger's own.
func (l *Ledger) recordSiteJobOn(ctx context.Context, tx querier, s SiteJob) error {
	return l.atomically(ctx, tx, opf("record Slurm job of %q", s.JobID), func() error {
		if err := checkNames("job id", s.JobID, "site job id", s.SiteJobID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE acct_jobs SET cluster = ?, site_job_id = ?
			WHERE job_id = ? AND cluster IS NULL AND site_job_id IS NULL`, s.Cluster, s.SiteJobID, s.JobID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		j, err := loadJob(ctx, tx, s.JobID)
		if err != nil {
			return err
		}
		if j.Cluster != s.Cluster || j.SiteJobID != s.SiteJobID {
			return conflictf("job %q is already Slurm job %s on cluster %q", s.JobID, j.SiteJobID, j.Cluster)
		}
		return nil
	})
}

// JobRecord is everything the ledger knows of a job.
type JobRecord struct {
	JobID            string    `json:"job_id"`
	Tag              string    `json:"tag"`
	Project          string    `json:"project"`
	Site             string    `json:"site"`
	Partition        string    `json:"partition"`
	User             string    `json:"user"`
	Cluster          string    `json:"cluster,omitempty"`
	SiteJobID        string    `json:"site_job_id,omitempty"`
	AllocationID     int64     `json:"allocation_id,string"`
	Nodes            int64     `json:"nodes_requested"`
	CPUsPerNode      int64     `json:"cpus_per_node"`
	TimeLimitSeconds int64     `json:"time_limit_seconds"`
	HoldRate         int64     `json:"hold_rate_thousandths"`
	HeldAt           time.Time `json:"held_at"`
	HoldCoreSeconds  int64     `json:"hold_core_seconds"`
	// HeldCoreSeconds is what the job still holds.
	HeldCoreSeconds int64   `json:"held_core_seconds"`
	Charge          *Charge `json:"charge,omitempty"`
	Released        bool    `json:"released"`
	// ReleasedCoreSeconds is what the release gave back.
	ReleasedCoreSeconds int64 `json:"released_core_seconds"`
	RefundedCoreSeconds int64 `json:"refunded_core_seconds"`
}

// Job returns the ledger's record of a job, ErrNotFound if it has no hold.
func (l *Ledger) Job(ctx context.Context, jobID string) (JobRecord, error) {
	j, err := loadJob(ctx, l.db, jobID)
	if err != nil {
		return JobRecord{}, fmt.Errorf("accounting: %w", err)
	}
	es, err := jobEntries(ctx, l.db, jobID)
	if err != nil {
		return JobRecord{}, fmt.Errorf("accounting: job %q: %w", jobID, err)
	}
	r := JobRecord{JobID: j.JobID, Tag: j.Tag, Project: j.Project, Site: j.Site, Partition: j.Partition, User: j.User,
		Cluster: j.Cluster, SiteJobID: j.SiteJobID, AllocationID: j.AllocationID, Nodes: j.Nodes, CPUsPerNode: j.CPUsPerNode,
		TimeLimitSeconds: j.TimeLimit, HoldRate: j.Rate, HeldAt: fromUnix(j.HeldAt), HoldCoreSeconds: j.HoldAmount}
	held := int64(0)
	for _, e := range es {
		switch e.Kind {
		case KindHold:
			held += e.CoreSeconds
		case KindCharge:
			c := chargeFromEntry(e, j.HoldAmount, false)
			r.Charge = &c
			held -= e.FromHoldCoreSeconds
		case KindRelease:
			r.Released = true
			r.ReleasedCoreSeconds = e.CoreSeconds
			held -= e.CoreSeconds
		case KindRefund:
			r.RefundedCoreSeconds += e.CoreSeconds
		}
	}
	r.HeldCoreSeconds = held
	return r, nil
}
