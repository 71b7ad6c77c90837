package accounting

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dimension is a column a usage report groups by.
type Dimension string

const (
	ByMonth     Dimension = "month"
	ByProject   Dimension = "project"
	BySite      Dimension = "site"
	ByPartition Dimension = "partition"
	ByUser      Dimension = "user"
)

var dimensionColumn = map[Dimension]string{
	ByMonth: "month", ByProject: "project", BySite: "site", ByPartition: "slurm_partition", ByUser: "user_name",
}

// UsageQuery selects and groups usage (charges less refunds, in the month
// each job ended).
type UsageQuery struct {
	// From and To are the first and last months included; zero means
	// unbounded.
	From, To Month
	// Filters; empty means all.
	Project, Site, Partition, User string
	// GroupBy lists the dimensions of the rows, in the order rows are sorted;
	// none gives one row of totals.
	GroupBy []Dimension
}

// UsageRow is one line of a usage report. The dimensions not grouped by are
// empty.
type UsageRow struct {
	Month     Month  `json:"month,omitempty"`
	Project   string `json:"project,omitempty"`
	Site      string `json:"site,omitempty"`
	Partition string `json:"partition,omitempty"`
	User      string `json:"user,omitempty"`
	// Jobs is the number of jobs charged.
	Jobs int64 `json:"jobs"`
	// CPUSeconds is the CPUTimeRAW the charges were computed from.
	CPUSeconds int64 `json:"cpu_seconds"`
	// CoreSeconds is the usage: charged less refunded, at the partitions'
	// rates.
	CoreSeconds         int64   `json:"core_seconds"`
	CoreHours           float64 `json:"core_hours"`
	ChargedCoreSeconds  int64   `json:"charged_core_seconds"`
	RefundedCoreSeconds int64   `json:"refunded_core_seconds"`
	OverrunCoreSeconds  int64   `json:"overrun_core_seconds"`
}

// Usage reports usage grouped as asked. It reads the monthly summary that
// the entries maintain (see Verify) and the entries after its mark, so a
// month's report costs the same however many jobs the month had.
func (l *Ledger) Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	var cols []string
	for _, d := range q.GroupBy {
		c, ok := dimensionColumn[d]
		if !ok {
			return nil, fmt.Errorf("accounting: usage: %w", invalidf("unknown dimension %q", d))
		}
		if slices.Contains(cols, c) {
			return nil, fmt.Errorf("accounting: usage: %w", invalidf("dimension %q twice", d))
		}
		cols = append(cols, c)
	}
	if (q.From != 0 && !q.From.valid()) || (q.To != 0 && !q.To.valid()) {
		return nil, fmt.Errorf("accounting: usage: %w", invalidf("months %d..%d", q.From, q.To))
	}
	var where []string
	var args []any
	if q.From != 0 {
		where, args = append(where, "month >= ?"), append(args, int64(q.From))
	}
	if q.To != 0 {
		where, args = append(where, "month <= ?"), append(args, int64(q.To))
	}
	for _, f := range []struct{ col, v string }{
		{"project", q.Project}, {"site", q.Site}, {"slurm_partition", q.Partition}, {"user_name", q.User},
	} {
		if f.v != "" {
			where, args = append(where, f.col+" = ?"), append(args, f.v)
		}
	}
	query := "SELECT "
	for _, c := range cols {
		query += c + ", "
	}
	query += `coalesce(sum(jobs), 0), coalesce(sum(cpu_seconds), 0), coalesce(sum(charged), 0),
		coalesce(sum(refunded), 0), coalesce(sum(overrun), 0)
		FROM (SELECT month, project, site, slurm_partition, user_name, jobs, cpu_seconds, charged, refunded, overrun
		      FROM acct_usage_monthly
		      UNION ALL ` + usageRowsSQL(markSQL) + `)`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if len(cols) > 0 {
		query += " GROUP BY " + strings.Join(cols, ", ") + " ORDER BY " + strings.Join(cols, ", ")
	}
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("accounting: usage: %w", err)
	}
	defer rows.Close()
	out := []UsageRow{}
	for rows.Next() {
		var r UsageRow
		var month int64
		dest := make([]any, 0, len(cols)+5)
		for _, d := range q.GroupBy {
			switch d {
			case ByMonth:
				dest = append(dest, &month)
			case ByProject:
				dest = append(dest, &r.Project)
			case BySite:
				dest = append(dest, &r.Site)
			case ByPartition:
				dest = append(dest, &r.Partition)
			case ByUser:
				dest = append(dest, &r.User)
			}
		}
		dest = append(dest, &r.Jobs, &r.CPUSeconds, &r.ChargedCoreSeconds, &r.RefundedCoreSeconds, &r.OverrunCoreSeconds)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("accounting: usage: %w", err)
		}
		r.Month = Month(month)
		r.CoreSeconds = r.ChargedCoreSeconds - r.RefundedCoreSeconds
		r.CoreHours = hours(r.CoreSeconds)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounting: usage: %w", err)
	}
	return out, nil
}

// BalanceQuery selects allocations; the zero value selects all.
type BalanceQuery struct {
	AllocationID int64
	Project      string
	Site         string
	// ActiveOnly keeps the allocations whose period covers now.
	ActiveOnly bool
	// BurnWindow is how far back the burn rate looks; 0 means 30 days.
	BurnWindow time.Duration
}

// Balance is an allocation's account now.
type Balance struct {
	AllocationID int64     `json:"allocation_id,string"`
	Project      string    `json:"project"`
	Site         string    `json:"site"`
	SlurmAccount string    `json:"slurm_account"`
	StartsAt     time.Time `json:"starts_at"`
	EndsAt       time.Time `json:"ends_at"`
	Overdraft    Overdraft `json:"overdraft_core_seconds"`
	At           time.Time `json:"at"`

	GrantedCoreSeconds  int64   `json:"granted_core_seconds"`
	GrantedCoreHours    float64 `json:"granted_core_hours"`
	AdjustedCoreSeconds int64   `json:"adjusted_core_seconds"`
	HeldCoreSeconds     int64   `json:"held_core_seconds"`
	HeldCoreHours       float64 `json:"held_core_hours"`
	ChargedCoreSeconds  int64   `json:"charged_core_seconds"`
	ChargedCoreHours    float64 `json:"charged_core_hours"`
	RefundedCoreSeconds int64   `json:"refunded_core_seconds"`
	OverrunCoreSeconds  int64   `json:"overrun_core_seconds"`
	// Remaining = granted + adjusted + refunded - charged - held; negative
	// when overdrawn.
	RemainingCoreSeconds int64   `json:"remaining_core_seconds"`
	RemainingCoreHours   float64 `json:"remaining_core_hours"`

	// The burn rate is the net usage (charges less refunds) booked in the
	// window [BurnFrom, At), clipped to the allocation's period, per day.
	BurnFrom              time.Time `json:"burn_from"`
	BurnCoreSecondsPerDay int64     `json:"burn_core_seconds_per_day"`
	BurnCoreHoursPerDay   float64   `json:"burn_core_hours_per_day"`
	// ExhaustedAt is when the remaining core-seconds run out at that rate,
	// if that is before the allocation ends; now if nothing remains.
	ExhaustedAt *time.Time `json:"exhausted_at,omitempty"`
}

// Balances returns the balance of the selected allocations, by project,
// site and start. The figures come from the balance cache the entries
// maintain, and the entries after its mark (Verify proves the cache equals the
// sums of the entries up to the mark).
func (l *Ledger) Balances(ctx context.Context, q BalanceQuery) ([]Balance, error) {
	now := l.nowUTC()
	window := q.BurnWindow
	if window <= 0 {
		window = 30 * 24 * time.Hour
	}
	from := now.Add(-window)
	rows, err := l.db.QueryContext(ctx, `
		WITH t AS (SELECT e.allocation_id, `+balanceSumsSQL+`
		           FROM acct_entries e NOT INDEXED WHERE e.entry_id > `+markSQL+` GROUP BY e.allocation_id)
		SELECT a.allocation_id, a.project, a.site, a.slurm_account, a.starts_at, a.ends_at, a.overdraft,
		       b.granted + coalesce(t.granted, 0), b.adjusted + coalesce(t.adjusted, 0), b.held + coalesce(t.held, 0),
		       b.charged + coalesce(t.charged, 0), b.refunded + coalesce(t.refunded, 0), b.overrun + coalesce(t.overrun, 0),
		       (SELECT coalesce(sum(CASE e.kind WHEN 'charge' THEN e.amount ELSE -e.amount END), 0)
		          FROM acct_entries e
		         WHERE e.entry_id IN (`+allocationEntriesSQL("a.allocation_id", func(t string) string {
		return t + `.kind IN ('charge', 'refund') AND ` + t + `.at >= max(?1, a.starts_at) AND ` + t + `.at < min(?2, a.ends_at)`
	})+`))
		FROM acct_allocations a JOIN acct_balances b ON b.allocation_id = a.allocation_id
		LEFT JOIN t ON t.allocation_id = a.allocation_id
		WHERE (?3 = 0 OR a.allocation_id = ?3) AND (?4 = '' OR a.project = ?4) AND (?5 = '' OR a.site = ?5)
		  AND (?6 = 0 OR (a.starts_at <= ?2 AND ?2 < a.ends_at))
		ORDER BY a.project, a.site, a.starts_at`,
		from.Unix(), now.Unix(), q.AllocationID, q.Project, q.Site, q.ActiveOnly)
	if err != nil {
		return nil, fmt.Errorf("accounting: balances: %w", err)
	}
	defer rows.Close()
	out := []Balance{}
	for rows.Next() {
		var b Balance
		var start, end, overdraft, burn int64
		if err := rows.Scan(&b.AllocationID, &b.Project, &b.Site, &b.SlurmAccount, &start, &end, &overdraft,
			&b.GrantedCoreSeconds, &b.AdjustedCoreSeconds, &b.HeldCoreSeconds, &b.ChargedCoreSeconds,
			&b.RefundedCoreSeconds, &b.OverrunCoreSeconds, &burn); err != nil {
			return nil, fmt.Errorf("accounting: balances: %w", err)
		}
		b.StartsAt, b.EndsAt, b.Overdraft, b.At = fromUnix(start), fromUnix(end), Overdraft(overdraft), now
		b.RemainingCoreSeconds = b.GrantedCoreSeconds + b.AdjustedCoreSeconds + b.RefundedCoreSeconds -
			b.ChargedCoreSeconds - b.HeldCoreSeconds
		b.GrantedCoreHours, b.HeldCoreHours = hours(b.GrantedCoreSeconds), hours(b.HeldCoreSeconds)
		b.ChargedCoreHours, b.RemainingCoreHours = hours(b.ChargedCoreSeconds), hours(b.RemainingCoreSeconds)
		b.burn(from, now, burn)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounting: balances: %w", err)
	}
	return out, nil
}

// burn fills in the burn rate from the net usage booked in [from, now)
// clipped to the allocation's period.
func (b *Balance) burn(from, now time.Time, used int64) {
	lo, hi := from, now
	if b.StartsAt.After(lo) {
		lo = b.StartsAt
	}
	if b.EndsAt.Before(hi) {
		hi = b.EndsAt
	}
	b.BurnFrom = lo
	if b.RemainingCoreSeconds <= 0 {
		t := now
		b.ExhaustedAt = &t
	}
	secs := int64(hi.Sub(lo) / time.Second)
	if secs <= 0 || used <= 0 {
		return
	}
	perDay := float64(used) * 86400 / float64(secs)
	b.BurnCoreSecondsPerDay = int64(math.Round(perDay))
	b.BurnCoreHoursPerDay = perDay / float64(CoreHour)
	if b.ExhaustedAt != nil {
		return
	}
	left := float64(b.RemainingCoreSeconds) / perDay * 86400 // seconds
	if left < b.EndsAt.Sub(now).Seconds() {
		t := now.Add(time.Duration(left) * time.Second).Truncate(time.Second)
		b.ExhaustedAt = &t
	}
}

// Balance is the balance of one allocation.
func (l *Ledger) Balance(ctx context.Context, allocationID int64) (Balance, error) {
	bs, err := l.Balances(ctx, BalanceQuery{AllocationID: allocationID})
	if err != nil {
		return Balance{}, err
	}
	if len(bs) == 0 {
		return Balance{}, fmt.Errorf("accounting: %w", notFoundf("allocation %d", allocationID))
	}
	return bs[0], nil
}

// OverrunQuery selects the jobs charged beyond their hold.
type OverrunQuery struct {
	From, To      Month // inclusive, zero unbounded
	Project, Site string
}

// OverrunRow is a job charged beyond its hold.
type OverrunRow struct {
	JobID              string    `json:"job_id"`
	Project            string    `json:"project"`
	Site               string    `json:"site"`
	Partition          string    `json:"partition"`
	User               string    `json:"user"`
	Month              Month     `json:"month"`
	EndedAt            time.Time `json:"ended_at"`
	HoldCoreSeconds    int64     `json:"hold_core_seconds"`
	ChargedCoreSeconds int64     `json:"charged_core_seconds"`
	OverrunCoreSeconds int64     `json:"overrun_core_seconds"`
	OverrunCoreHours   float64   `json:"overrun_core_hours"`
}

// Overruns lists the jobs whose charge exceeded their hold, by month and
// job.
func (l *Ledger) Overruns(ctx context.Context, q OverrunQuery) ([]OverrunRow, error) {
	to := q.To
	if to == 0 {
		to = 999912
	}
	rows, err := l.db.QueryContext(ctx, `
		SELECT j.job_id, j.project, j.site, j.slurm_partition, j.user_name, e.month, e.at, j.hold_amount, e.amount, e.overrun
		FROM acct_entries e JOIN acct_jobs j ON j.job_id = e.job_id
		WHERE e.kind = 'charge' AND e.overrun > 0 AND e.month BETWEEN ?1 AND ?2
		  AND (?3 = '' OR j.project = ?3) AND (?4 = '' OR j.site = ?4)
		ORDER BY e.month, j.job_id`, int64(q.From), int64(to), q.Project, q.Site)
	if err != nil {
		return nil, fmt.Errorf("accounting: overruns: %w", err)
	}
	defer rows.Close()
	out := []OverrunRow{}
	for rows.Next() {
		var r OverrunRow
		var month, at int64
		if err := rows.Scan(&r.JobID, &r.Project, &r.Site, &r.Partition, &r.User, &month, &at,
			&r.HoldCoreSeconds, &r.ChargedCoreSeconds, &r.OverrunCoreSeconds); err != nil {
			return nil, fmt.Errorf("accounting: overruns: %w", err)
		}
		r.Month, r.EndedAt, r.OverrunCoreHours = Month(month), fromUnix(at), hours(r.OverrunCoreSeconds)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounting: overruns: %w", err)
	}
	return out, nil
}

// ---- CSV ----

// CSVRow is a report row that can be written as CSV.
type CSVRow interface {
	CSVHeader() []string
	CSVRecord() []string
}

var (
	_ CSVRow = UsageRow{}
	_ CSVRow = Balance{}
	_ CSVRow = Entry{}
	_ CSVRow = OverrunRow{}
)

// WriteCSV writes rows as CSV with a header line. Amounts are written as
// integers (core-seconds) and decimal core-hours, times as RFC 3339 UTC.
func WriteCSV[R CSVRow](w io.Writer, rows []R) error {
	cw := csv.NewWriter(w)
	var zero R
	if err := cw.Write(zero.CSVHeader()); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write(r.CSVRecord()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func hoursText(coreSeconds int64) string {
	return strconv.FormatFloat(hours(coreSeconds), 'f', -1, 64)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// CSVHeader implements CSVRow.
func (UsageRow) CSVHeader() []string {
	return []string{"month", "project", "site", "partition", "user", "jobs", "cpu_seconds", "core_seconds", "core_hours",
		"charged_core_seconds", "refunded_core_seconds", "overrun_core_seconds"}
}

// CSVRecord implements CSVRow.
func (r UsageRow) CSVRecord() []string {
	return []string{r.Month.String(), r.Project, r.Site, r.Partition, r.User, itoa(r.Jobs), itoa(r.CPUSeconds),
		itoa(r.CoreSeconds), hoursText(r.CoreSeconds), itoa(r.ChargedCoreSeconds), itoa(r.RefundedCoreSeconds),
		itoa(r.OverrunCoreSeconds)}
}

// CSVHeader implements CSVRow.
func (Balance) CSVHeader() []string {
	return []string{"allocation_id", "project", "site", "slurm_account", "starts_at", "ends_at", "overdraft_core_seconds",
		"granted_core_seconds", "adjusted_core_seconds", "held_core_seconds", "charged_core_seconds",
		"refunded_core_seconds", "overrun_core_seconds", "remaining_core_seconds", "remaining_core_hours",
		"burn_core_seconds_per_day", "exhausted_at"}
}

// CSVRecord implements CSVRow.
func (b Balance) CSVRecord() []string {
	ex := ""
	if b.ExhaustedAt != nil {
		ex = timeText(*b.ExhaustedAt)
	}
	return []string{itoa(b.AllocationID), b.Project, b.Site, b.SlurmAccount, timeText(b.StartsAt), timeText(b.EndsAt),
		itoa(int64(b.Overdraft)), itoa(b.GrantedCoreSeconds), itoa(b.AdjustedCoreSeconds), itoa(b.HeldCoreSeconds),
		itoa(b.ChargedCoreSeconds), itoa(b.RefundedCoreSeconds), itoa(b.OverrunCoreSeconds),
		itoa(b.RemainingCoreSeconds), hoursText(b.RemainingCoreSeconds), itoa(b.BurnCoreSecondsPerDay), ex}
}

// CSVHeader implements CSVRow.
func (Entry) CSVHeader() []string {
	return []string{"entry_id", "kind", "allocation_id", "project", "site", "job_id", "partition", "user", "core_seconds",
		"from_hold_core_seconds", "overrun_core_seconds", "cpu_seconds", "rate_thousandths", "month", "at",
		"recorded_at", "who", "why", "request_id"}
}

// CSVRecord implements CSVRow.
func (e Entry) CSVRecord() []string {
	return []string{itoa(e.ID), string(e.Kind), itoa(e.AllocationID), e.Project, e.Site, e.JobID, e.Partition, e.User,
		itoa(e.CoreSeconds), itoa(e.FromHoldCoreSeconds), itoa(e.OverrunCoreSeconds), itoa(e.CPUSeconds), itoa(e.Rate),
		e.Month.String(), timeText(e.At), timeText(e.RecordedAt), e.Who, e.Why, e.RequestID}
}

// CSVHeader implements CSVRow.
func (OverrunRow) CSVHeader() []string {
	return []string{"job_id", "project", "site", "partition", "user", "month", "ended_at", "hold_core_seconds",
		"charged_core_seconds", "overrun_core_seconds"}
}

// CSVRecord implements CSVRow.
func (r OverrunRow) CSVRecord() []string {
	return []string{r.JobID, r.Project, r.Site, r.Partition, r.User, r.Month.String(), timeText(r.EndedAt),
		itoa(r.HoldCoreSeconds), itoa(r.ChargedCoreSeconds), itoa(r.OverrunCoreSeconds)}
}
