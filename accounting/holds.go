package accounting

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// OpenHold is a hold not released yet.
type OpenHold struct {
	JobID        string    `json:"job_id"`
	Tag          string    `json:"tag"`
	Project      string    `json:"project"`
	Site         string    `json:"site"`
	Partition    string    `json:"partition"`
	User         string    `json:"user"`
	Cluster      string    `json:"cluster,omitempty"`
	SiteJobID    string    `json:"site_job_id,omitempty"`
	AllocationID int64     `json:"allocation_id,string"`
	HeldAt       time.Time `json:"held_at"`
	// Age is how long ago the hold was placed, in whole seconds.
	AgeSeconds       int64 `json:"age_seconds"`
	Nodes            int64 `json:"nodes_requested"`
	CPUsPerNode      int64 `json:"cpus_per_node"`
	TimeLimitSeconds int64 `json:"time_limit_seconds"`
	Rate             int64 `json:"rate_thousandths"`
	HoldCoreSeconds  int64 `json:"hold_core_seconds"`
	// HeldCoreSeconds is what is still held (less than the hold if the job
	// was charged but not released).
	HeldCoreSeconds int64 `json:"held_core_seconds"`
	Charged         bool  `json:"charged"`
}

// OpenHolds lists the holds placed before placedBefore that have not been
// released, oldest first: with placedBefore = now - X, the jobs that have
// waited longer than X (the gateway knows which of them are still pending).
// It reads the open-holds cache and the holds booked after its mark; a job's
// row says whether it was released.
func (l *Ledger) OpenHolds(ctx context.Context, placedBefore time.Time) ([]OpenHold, error) {
	now := l.nowUTC()
	rows, err := l.db.QueryContext(ctx, `
		SELECT `+jobColsJ+`, coalesce(c.from_hold, -1)
		FROM (SELECT job_id FROM acct_open_holds
		      UNION ALL
		      SELECT job_id FROM acct_entries NOT INDEXED WHERE entry_id > `+markSQL+` AND kind = 'hold') AS o
		JOIN acct_jobs j ON j.job_id = o.job_id
		LEFT JOIN acct_entries c ON c.entry_id = j.charge_entry_id
		WHERE j.release_entry_id IS NULL AND j.held_at < ?
		ORDER BY j.held_at, j.job_id`, placedBefore.Unix())
	if err != nil {
		return nil, fmt.Errorf("accounting: open holds: %w", err)
	}
	defer rows.Close()
	out := []OpenHold{}
	for rows.Next() {
		var j jobRow
		var fromHold int64
		if err := rows.Scan(&j.JobID, &j.Tag, &j.AllocationID, &j.Project, &j.Site, &j.Partition, &j.User, &j.Nodes,
			&j.CPUsPerNode, &j.TimeLimit, &j.Rate, &j.HoldAmount, &j.HeldAt, &j.Cluster, &j.SiteJobID, &fromHold); err != nil {
			return nil, fmt.Errorf("accounting: open holds: %w", err)
		}
		out = append(out, openHold(j, fromHold, now))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounting: open holds: %w", err)
	}
	return out, nil
}

// openHold builds an OpenHold; fromHold is the charge's from_hold, -1 if not
// charged.
func openHold(j jobRow, fromHold int64, now time.Time) OpenHold {
	h := OpenHold{JobID: j.JobID, Tag: j.Tag, Project: j.Project, Site: j.Site, Partition: j.Partition, User: j.User,
		Cluster: j.Cluster, SiteJobID: j.SiteJobID, AllocationID: j.AllocationID, HeldAt: fromUnix(j.HeldAt),
		AgeSeconds: now.Unix() - j.HeldAt, Nodes: j.Nodes, CPUsPerNode: j.CPUsPerNode, TimeLimitSeconds: j.TimeLimit,
		Rate: j.Rate, HoldCoreSeconds: j.HoldAmount, HeldCoreSeconds: j.HoldAmount}
	if fromHold >= 0 {
		h.Charged = true
		h.HeldCoreSeconds -= fromHold
	}
	return h
}

// Problems a re-check finds.
const (
	ProblemNoAllocation = "no_allocation" // no allocation of the project at the site covers now
	ProblemNoRate       = "no_rate"       // no rate is in force now for the partition
	ProblemInsufficient = "insufficient"  // the hold would be refused now
)

// HoldCheck is the verdict of re-checking a hold: would it be placed now?
type HoldCheck struct {
	Hold      OpenHold  `json:"hold"`
	CheckedAt time.Time `json:"checked_at"`
	OK        bool      `json:"ok"`
	// Problem is one of the Problem... codes when not OK; Detail says more.
	Problem string `json:"problem,omitempty"`
	Detail  string `json:"detail,omitempty"`
	// AllocationID is the allocation covering now (0 if none).
	AllocationID int64 `json:"allocation_id,string"`
	// Rate and CoreSeconds are the hold recomputed with today's rate.
	Rate        int64 `json:"rate_thousandths"`
	CoreSeconds int64 `json:"core_seconds"`
	// AvailableCoreSeconds is what that allocation has left, not counting
	// this job's own hold.
	AvailableCoreSeconds int64 `json:"available_core_seconds"`
	// Err is the error a new hold would get (ErrNoAllocation, ErrNoRate, an
	// *InsufficientError); nil when OK.
	Err error `json:"-"`
}

// RecheckHolds re-checks every open hold placed before placedBefore (see
// OpenHolds): whether an allocation still covers the job now (it may have
// ended while the job waited), and whether the hold, recomputed at today's
// rate, still fits in what that allocation has left (an adjustment or other
// jobs' overruns may have taken it). It changes nothing: the gateway decides
// what to do with a job whose hold no longer fits (cancel it, warn).
func (l *Ledger) RecheckHolds(ctx context.Context, placedBefore time.Time) ([]HoldCheck, error) {
	holds, err := l.OpenHolds(ctx, placedBefore)
	if err != nil {
		return nil, err
	}
	out := make([]HoldCheck, 0, len(holds))
	for _, h := range holds {
		c, err := l.recheck(ctx, h)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// RecheckHold re-checks one job's hold, as RecheckHolds does.
func (l *Ledger) RecheckHold(ctx context.Context, jobID string) (HoldCheck, error) {
	j, err := loadJob(ctx, l.db, jobID)
	if err != nil {
		return HoldCheck{}, fmt.Errorf("accounting: recheck: %w", err)
	}
	rec, err := l.Job(ctx, jobID)
	if err != nil {
		return HoldCheck{}, err
	}
	if rec.Released {
		return HoldCheck{}, fmt.Errorf("accounting: recheck: %w: the hold of job %q was released", ErrConflict, jobID)
	}
	fromHold := int64(-1)
	if rec.Charge != nil {
		fromHold = rec.Charge.FromHoldCoreSeconds
	}
	return l.recheck(ctx, openHold(j, fromHold, l.nowUTC()))
}

func (l *Ledger) recheck(ctx context.Context, h OpenHold) (HoldCheck, error) {
	now := l.nowUTC()
	c := HoldCheck{Hold: h, CheckedAt: now}
	fail := func(problem string, err error) (HoldCheck, error) {
		c.Problem, c.Detail, c.Err = problem, err.Error(), err
		return c, nil
	}
	alloc, err := allocationAt(ctx, l.db, h.Project, h.Site, now)
	if errors.Is(err, ErrNoAllocation) {
		return fail(ProblemNoAllocation, err)
	} else if err != nil {
		return HoldCheck{}, fmt.Errorf("accounting: recheck %q: %w", h.JobID, err)
	}
	c.AllocationID = alloc.ID
	rate, err := rateAt(ctx, l.db, h.Site, h.Partition, now)
	if errors.Is(err, ErrNoRate) {
		return fail(ProblemNoRate, err)
	} else if err != nil {
		return HoldCheck{}, fmt.Errorf("accounting: recheck %q: %w", h.JobID, err)
	}
	c.Rate = rate.Thousandths
	amount, err := HoldAmount(h.Nodes, h.CPUsPerNode, time.Duration(h.TimeLimitSeconds)*time.Second, rate.Thousandths)
	if err != nil {
		return HoldCheck{}, fmt.Errorf("accounting: recheck %q: %w", h.JobID, err)
	}
	c.CoreSeconds = amount
	avail, err := available(ctx, l.db, alloc.ID)
	if err != nil {
		return HoldCheck{}, fmt.Errorf("accounting: recheck %q: %w", h.JobID, err)
	}
	if alloc.ID == h.AllocationID {
		avail += h.HeldCoreSeconds // the job's own hold is not a competitor
	}
	c.AvailableCoreSeconds = avail
	if !alloc.Overdraft.allows(avail, amount) {
		return fail(ProblemInsufficient, &InsufficientError{Project: h.Project, Site: h.Site, AllocationID: alloc.ID,
			Requested: amount, Available: avail, Overdraft: int64(alloc.Overdraft)})
	}
	c.OK = true
	return c, nil
}
