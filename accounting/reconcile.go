package accounting

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SacctRow is Slurm's record of a job (or of one run of a requeued job) as
// sacct reports it: `sacct -D -X -P -o Cluster,JobID,Account,User,Partition,
// CPUTimeRAW,End,Comment`. Reconcile sums the runs of a job (rows with the
// same cluster and job id).
type SacctRow struct {
	// Site is the gateway's name of the site; empty means the reconciled one.
	Site       string `json:"site,omitempty"`
	Cluster    string `json:"cluster"`
	JobID      string `json:"site_job_id"`
	Account    string `json:"account"`
	User       string `json:"user"`
	Partition  string `json:"partition"`
	CPUTimeRAW int64  `json:"cpu_seconds"`
	// End is zero while the job (run) has not ended.
	End time.Time `json:"end"`
	// Comment is the job's --comment, where the gateway puts its tag.
	Comment string `json:"comment"`
}

// ReconcileRequest compares the ledger with sacct for one site.
type ReconcileRequest struct {
	Site string
	// From and To bound the gateway jobs expected in Rows: those whose hold
	// was placed in [From, To). Query sacct from a little before From (clock
	// skew) to after To.
	From, To time.Time
	Rows     []SacctRow
}

// Reconciliation lists the differences between the ledger and Slurm.
type Reconciliation struct {
	Site string    `json:"site"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// SacctJobs is the number of distinct jobs in the sacct rows.
	SacctJobs int `json:"sacct_jobs"`
	// Matched is how many of them are the gateway's; Running how many of
	// those have not ended.
	Matched int `json:"matched"`
	Running int `json:"running"`
	// Mismatches: gateway jobs whose charge differs from CPUTimeRAW x rate
	// (or that ended in Slurm and were not charged).
	Mismatches []ChargeMismatch `json:"mismatches"`
	// MissingInSacct: gateway jobs submitted to Slurm (or charged) whose hold
	// was placed in [From, To) and that sacct does not show.
	MissingInSacct []MissingJob `json:"missing_in_sacct"`
	// Foreign: usage on the projects' Slurm accounts that did not come
	// through the gateway.
	Foreign            []ForeignUsage `json:"foreign"`
	ForeignCoreSeconds int64          `json:"foreign_core_seconds"`
	ForeignCoreHours   float64        `json:"foreign_core_hours"`
	// Ignored counts sacct jobs on accounts the ledger does not know.
	Ignored int `json:"ignored"`
}

// Clean reports whether the ledger and Slurm agree.
func (r Reconciliation) Clean() bool {
	return len(r.Mismatches) == 0 && len(r.MissingInSacct) == 0 && len(r.Foreign) == 0
}

// ChargeMismatch is a gateway job whose charge differs from Slurm's record.
type ChargeMismatch struct {
	JobID     string    `json:"job_id"`
	Project   string    `json:"project"`
	User      string    `json:"user"`
	Partition string    `json:"partition"`
	Cluster   string    `json:"cluster"`
	SiteJobID string    `json:"site_job_id"`
	End       time.Time `json:"end"`
	Charged   bool      `json:"charged"`
	// ChargedCoreSeconds and ChargedCPUSeconds are the ledger's; 0 if not
	// charged.
	ChargedCoreSeconds int64 `json:"charged_core_seconds"`
	ChargedCPUSeconds  int64 `json:"charged_cpu_seconds"`
	// SacctCPUSeconds x Rate = ExpectedCoreSeconds.
	SacctCPUSeconds     int64 `json:"sacct_cpu_seconds"`
	Rate                int64 `json:"rate_thousandths"`
	ExpectedCoreSeconds int64 `json:"expected_core_seconds"`
	// DifferenceCoreSeconds = expected - charged (positive: undercharged).
	DifferenceCoreSeconds int64 `json:"difference_core_seconds"`
}

// MissingJob is a gateway job sacct does not show.
type MissingJob struct {
	JobID              string    `json:"job_id"`
	Tag                string    `json:"tag"`
	Project            string    `json:"project"`
	User               string    `json:"user"`
	Partition          string    `json:"partition"`
	Cluster            string    `json:"cluster,omitempty"`
	SiteJobID          string    `json:"site_job_id,omitempty"`
	HeldAt             time.Time `json:"held_at"`
	Charged            bool      `json:"charged"`
	ChargedCoreSeconds int64     `json:"charged_core_seconds"`
}

// ForeignUsage is a Slurm job on a project's account that the gateway did
// not submit.
type ForeignUsage struct {
	Project   string `json:"project"`
	Account   string `json:"account"`
	User      string `json:"user"`
	Partition string `json:"partition"`
	Cluster   string `json:"cluster"`
	SiteJobID string `json:"site_job_id"`
	Comment   string `json:"comment,omitempty"`
	// End is nil while the job runs.
	End        *time.Time `json:"end,omitempty"`
	CPUSeconds int64      `json:"cpu_seconds"`
	// Rate and CoreSeconds: what the gateway would have charged (0 and
	// NoRate if no rate is known).
	Rate        int64   `json:"rate_thousandths"`
	NoRate      bool    `json:"no_rate,omitempty"`
	CoreSeconds int64   `json:"core_seconds"`
	CoreHours   float64 `json:"core_hours"`
}

// sacctJob is the runs of one Slurm job summed.
type sacctJob struct {
	SacctRow
	ended bool
}

// Reconcile compares the ledger's jobs at a site with Slurm's records (see
// ReconcileRequest). A row is the gateway's job when its Comment is the
// job's tag, or else when its cluster and job id are those recorded with
// RecordSiteJob. Expected charges use the same rule as ChargeJob: the rate
// in force when the job ended, else the hold's rate. It only reads.
func (l *Ledger) Reconcile(ctx context.Context, req ReconcileRequest) (Reconciliation, error) {
	if err := checkName("site", req.Site); err != nil {
		return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", err)
	}
	if !req.To.After(req.From) {
		return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", invalidf("window [%s, %s) is empty",
			timeText(req.From), timeText(req.To)))
	}
	out := Reconciliation{Site: req.Site, From: req.From.UTC().Truncate(time.Second), To: req.To.UTC().Truncate(time.Second),
		Mismatches: []ChargeMismatch{}, MissingInSacct: []MissingJob{}, Foreign: []ForeignUsage{}}

	// Sum the runs of each job.
	byKey := map[string]*sacctJob{}
	var keys []string
	for i, r := range req.Rows {
		if r.Site != "" && r.Site != req.Site {
			return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", invalidf("row %d is of site %q, not %q", i, r.Site, req.Site))
		}
		if r.JobID == "" || r.CPUTimeRAW < 0 {
			return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", invalidf("row %d: no job id or negative CPUTimeRAW", i))
		}
		k := r.Cluster + "\x00" + r.JobID
		j, ok := byKey[k]
		if !ok {
			j = &sacctJob{SacctRow: r, ended: !r.End.IsZero()}
			j.CPUTimeRAW = 0
			byKey[k] = j
			keys = append(keys, k)
		}
		j.CPUTimeRAW += r.CPUTimeRAW
		if r.End.IsZero() {
			j.ended = false
		} else if r.End.After(j.End) {
			j.End = r.End
		}
		for _, f := range []struct {
			dst *string
			v   string
		}{
			{&j.Account, r.Account}, {&j.User, r.User}, {&j.Partition, r.Partition}, {&j.Comment, r.Comment},
		} {
			if *f.dst == "" {
				*f.dst = f.v
			}
		}
	}
	sort.Strings(keys)
	out.SacctJobs = len(keys)

	matched := map[string]bool{}
	for _, k := range keys {
		s := byKey[k]
		job, ok, err := l.matchJob(ctx, req.Site, s.SacctRow, out.To)
		if err != nil {
			return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", err)
		}
		if !ok {
			if err := l.foreign(ctx, req.Site, s, &out); err != nil {
				return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", err)
			}
			continue
		}
		matched[job.JobID] = true
		out.Matched++
		if !s.ended {
			out.Running++
			continue
		}
		if err := l.compare(ctx, job, s, &out); err != nil {
			return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", err)
		}
	}

	// The jobs held at the site in the period, found through their hold
	// entries (on the job's allocation, at the job's held_at).
	rows, err := l.db.QueryContext(ctx, `SELECT `+jobColsJ+`, coalesce(c.amount, -1)
		FROM acct_entries h
		JOIN acct_jobs j ON j.job_id = h.job_id
		LEFT JOIN acct_entries c ON c.entry_id = j.charge_entry_id
		WHERE h.entry_id IN (
		      SELECT x.entry_id FROM acct_allocations a
		      JOIN acct_allocation_entries x ON x.allocation_id = a.allocation_id AND x.kind = 'hold' AND x.at >= ?2 AND x.at < ?3
		      WHERE a.site = ?1
		      UNION ALL
		      SELECT t.entry_id FROM acct_entries t NOT INDEXED
		      WHERE t.entry_id > `+markSQL+` AND t.kind = 'hold' AND t.at >= ?2 AND t.at < ?3)
		  AND j.site = ?1 AND j.held_at >= ?2 AND j.held_at < ?3
		ORDER BY j.held_at, j.job_id`,
		req.Site, out.From.Unix(), out.To.Unix())
	if err != nil {
		return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var j jobRow
		var charged int64
		if err := rows.Scan(&j.JobID, &j.Tag, &j.AllocationID, &j.Project, &j.Site, &j.Partition, &j.User, &j.Nodes,
			&j.CPUsPerNode, &j.TimeLimit, &j.Rate, &j.HoldAmount, &j.HeldAt, &j.Cluster, &j.SiteJobID, &charged); err != nil {
			return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", err)
		}
		// A job never given to Slurm (rejected, still being submitted) and
		// never charged is not expected in sacct.
		if matched[j.JobID] || (j.SiteJobID == "" && charged < 0) {
			continue
		}
		out.MissingInSacct = append(out.MissingInSacct, MissingJob{JobID: j.JobID, Tag: j.Tag, Project: j.Project,
			User: j.User, Partition: j.Partition, Cluster: j.Cluster, SiteJobID: j.SiteJobID, HeldAt: fromUnix(j.HeldAt),
			Charged: charged >= 0, ChargedCoreSeconds: max(charged, 0)})
	}
	if err := rows.Err(); err != nil {
		return Reconciliation{}, fmt.Errorf("accounting: reconcile: %w", err)
	}
	out.ForeignCoreHours = hours(out.ForeignCoreSeconds)
	return out, nil
}

// matchJob finds the gateway job of a sacct job: by tag, else by Slurm id
// (ids repeat after a controller reset): the latest job with that id held
// before the Slurm job ended (or before the period's end, for one still
// running), give or take the clocks' skew.
func (l *Ledger) matchJob(ctx context.Context, site string, s SacctRow, periodEnd time.Time) (jobRow, bool, error) {
	if c := strings.TrimSpace(s.Comment); c != "" {
		j, err := scanJob(l.db.QueryRowContext(ctx, `SELECT `+jobCols+` FROM acct_jobs WHERE tag = ? AND site = ?`, c, site))
		if err == nil {
			return j, true, nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return jobRow{}, false, err
		}
	}
	latest := periodEnd
	if !s.End.IsZero() {
		latest = s.End
	}
	rows, err := l.db.QueryContext(ctx, `SELECT `+jobCols+` FROM acct_jobs WHERE site = ? AND site_job_id = ? AND held_at <= ?
		ORDER BY held_at DESC`, site, s.JobID, latest.Add(reconcileSkew).Unix())
	if err != nil {
		return jobRow{}, false, err
	}
	defer rows.Close()
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return jobRow{}, false, err
		}
		if j.Cluster == "" || s.Cluster == "" || j.Cluster == s.Cluster {
			return j, true, rows.Close()
		}
	}
	return jobRow{}, false, rows.Err()
}

// reconcileSkew is how far the gateway's clock and a site's may disagree when
// a job's hold is matched with the Slurm job's end.
const reconcileSkew = 10 * time.Minute

// compare adds a mismatch if the job's charge is not CPUTimeRAW x rate.
func (l *Ledger) compare(ctx context.Context, job jobRow, s *sacctJob, out *Reconciliation) error {
	rate := job.Rate
	if r, err := rateAt(ctx, l.db, job.Site, job.Partition, s.End); err == nil {
		rate = r.Thousandths
	} else if !errors.Is(err, ErrNoRate) {
		return err
	}
	expected, err := ChargeAmount(s.CPUTimeRAW, rate)
	if err != nil {
		return err
	}
	m := ChargeMismatch{JobID: job.JobID, Project: job.Project, User: job.User, Partition: job.Partition,
		Cluster: s.Cluster, SiteJobID: s.JobID, End: s.End.UTC().Truncate(time.Second), SacctCPUSeconds: s.CPUTimeRAW,
		Rate: rate, ExpectedCoreSeconds: expected}
	ch, err := jobEntry(ctx, l.db, job.JobID, KindCharge)
	switch {
	case err == nil:
		if ch.CoreSeconds == expected {
			return nil
		}
		m.Charged, m.ChargedCoreSeconds, m.ChargedCPUSeconds = true, ch.CoreSeconds, ch.CPUSeconds
	case !errors.Is(err, ErrNotFound):
		return err
	}
	m.DifferenceCoreSeconds = expected - m.ChargedCoreSeconds
	out.Mismatches = append(out.Mismatches, m)
	return nil
}

// foreign adds a sacct job that is not the gateway's, if its account is one
// of the projects'.
func (l *Ledger) foreign(ctx context.Context, site string, s *sacctJob, out *Reconciliation) error {
	var project string
	err := l.db.QueryRowContext(ctx, `SELECT group_concat(DISTINCT project) FROM acct_allocations
		WHERE site = ? AND slurm_account = ? AND slurm_account <> ''`, site, s.Account).Scan(&sqlNullable{&project})
	if err != nil {
		return err
	}
	if project == "" {
		out.Ignored++
		return nil
	}
	f := ForeignUsage{Project: project, Account: s.Account, User: s.User, Partition: s.Partition, Cluster: s.Cluster,
		SiteJobID: s.JobID, Comment: s.Comment, CPUSeconds: s.CPUTimeRAW}
	at := l.nowUTC()
	if s.ended {
		end := s.End.UTC().Truncate(time.Second)
		f.End, at = &end, end
	}
	r, err := rateAt(ctx, l.db, site, s.Partition, at)
	switch {
	case err == nil:
		f.Rate = r.Thousandths
		if f.CoreSeconds, err = ChargeAmount(s.CPUTimeRAW, r.Thousandths); err != nil {
			return err
		}
	case errors.Is(err, ErrNoRate):
		f.NoRate = true
	default:
		return err
	}
	f.CoreHours = hours(f.CoreSeconds)
	out.Foreign = append(out.Foreign, f)
	out.ForeignCoreSeconds += f.CoreSeconds
	return nil
}

// sqlNullable scans a nullable TEXT into a string ("" for NULL).
type sqlNullable struct{ s *string }

func (n *sqlNullable) Scan(v any) error {
	var ns sql.NullString
	if err := ns.Scan(v); err != nil {
		return err
	}
	*n.s = ns.String
	return nil
}
