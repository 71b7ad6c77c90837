package gateway

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/slurm/hostlist"
	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

const schemaVersionTable = "gateway_schema_version"

// migrate applies the gateway's numbered migrations, each in its own transaction,
// recording them in its own version table (the ledger has its own).
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+schemaVersionTable+
		` (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("gateway schema: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("gateway migration %s: no number", base)
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+schemaVersionTable+` WHERE version = ?`, n).Scan(&have); err != nil {
			tx.Rollback()
			return err
		}
		if have > 0 {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("gateway migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+schemaVersionTable+` (version, applied_at) VALUES (?, ?)`,
			n, time.Now().Unix()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("gateway migration %s: %w", base, err)
		}
	}
	return nil
}

// job is a row of gateway_jobs.
type job struct {
	ID, Tag         string
	State           api.JobState
	Reason          string
	Project, User   string
	Login           string
	Site, Cluster   string
	Account         string
	Partition, QOS  string
	Name            string
	Script          []byte
	Args            []string
	NodesReq        int64
	CPUsPerNode     int64
	TimeLimit       time.Duration
	ArraySpec       string
	Decision        *api.Decision
	SiteJobID       string
	SiteSubmitTime  time.Time
	Nodes           string
	ExitCode        *int
	ExitSignal      *int
	CoreSeconds     int64
	HoldCoreSeconds int64
	StdoutPath      string
	StderrPath      string
	Attempts        int
	AttemptAt       time.Time
	CancelRequested bool
	Settled         bool
	Unreachable     bool
	CreatedAt       time.Time
	SubmittedAt     *time.Time
	StartedAt       *time.Time
	EndedAt         *time.Time
	HoldProblem     string
	ScriptSHA256    string // of the user's script
	SubmittedSHA256 string // of the script submitted (Script)
}

const jobColumns = `id, tag, state, reason, project, user, login, site, cluster, account, partition, qos,
	name, script, args, nodes_req, cpus_per_node, time_limit_s, array_spec, decision, site_job_id,
	site_submit_time, nodes, exit_code, exit_signal, core_seconds, hold_core_seconds, stdout_path,
	stderr_path, attempts, attempt_at, cancel_requested, settled, unreachable, created_at,
	submitted_at, started_at, ended_at, hold_problem, script_sha256, submitted_sha256`

func ms(t time.Time) int64 { return t.UnixMilli() }

func msPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromMs(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMilli(v.Int64).UTC()
	return &t
}

func insertJob(ctx context.Context, tx *sql.Tx, j *job) error {
	args, _ := json.Marshal(j.Args)
	var decision string
	if j.Decision != nil {
		b, _ := json.Marshal(j.Decision)
		decision = string(b)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO gateway_jobs (`+jobColumns+`) VALUES (
		?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.Tag, string(j.State), j.Reason, j.Project, j.User, j.Login, j.Site, j.Cluster, j.Account,
		j.Partition, j.QOS, j.Name, j.Script, string(args), j.NodesReq, j.CPUsPerNode,
		int64(j.TimeLimit/time.Second), j.ArraySpec, decision, j.SiteJobID, j.SiteSubmitTime.Unix(),
		j.Nodes, j.ExitCode, j.ExitSignal, j.CoreSeconds, j.HoldCoreSeconds, j.StdoutPath, j.StderrPath,
		j.Attempts, ms(j.AttemptAt), j.CancelRequested, j.Settled, j.Unreachable, ms(j.CreatedAt),
		msPtr(j.SubmittedAt), msPtr(j.StartedAt), msPtr(j.EndedAt), j.HoldProblem, j.ScriptSHA256, j.SubmittedSHA256)
	if err != nil {
		return fmt.Errorf("insert job %s: %w", j.ID, err)
	}
	return nil
}

type rowScanner interface{ Scan(...any) error }

func scanJob(r rowScanner) (*job, error) {
	var j job
	var state, args, decision string
	var tl, siteSubmit, attemptAt, created int64
	var submitted, started, ended sql.NullInt64
	var exitCode, exitSignal sql.NullInt64
	if err := r.Scan(&j.ID, &j.Tag, &state, &j.Reason, &j.Project, &j.User, &j.Login, &j.Site, &j.Cluster,
		&j.Account, &j.Partition, &j.QOS, &j.Name, &j.Script, &args, &j.NodesReq, &j.CPUsPerNode, &tl,
		&j.ArraySpec, &decision, &j.SiteJobID, &siteSubmit, &j.Nodes, &exitCode, &exitSignal,
		&j.CoreSeconds, &j.HoldCoreSeconds, &j.StdoutPath, &j.StderrPath, &j.Attempts, &attemptAt,
		&j.CancelRequested, &j.Settled, &j.Unreachable, &created, &submitted, &started, &ended, &j.HoldProblem,
		&j.ScriptSHA256, &j.SubmittedSHA256); err != nil {
		return nil, err
	}
	j.State = api.JobState(state)
	if err := json.Unmarshal([]byte(args), &j.Args); err != nil {
		return nil, fmt.Errorf("job %s: args: %w", j.ID, err)
	}
	if decision != "" {
		j.Decision = new(api.Decision)
		if err := json.Unmarshal([]byte(decision), j.Decision); err != nil {
			return nil, fmt.Errorf("job %s: decision: %w", j.ID, err)
		}
	}
	j.TimeLimit = time.Duration(tl) * time.Second
	if siteSubmit > 0 {
		j.SiteSubmitTime = time.Unix(siteSubmit, 0).UTC()
	}
	if attemptAt > 0 {
		j.AttemptAt = time.UnixMilli(attemptAt).UTC()
	}
	j.CreatedAt = time.UnixMilli(created).UTC()
	j.SubmittedAt, j.StartedAt, j.EndedAt = fromMs(submitted), fromMs(started), fromMs(ended)
	if exitCode.Valid {
		v := int(exitCode.Int64)
		j.ExitCode = &v
	}
	if exitSignal.Valid {
		v := int(exitSignal.Int64)
		j.ExitSignal = &v
	}
	return &j, nil
}

var errNoJob = errors.New("no such job")

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func getJob(ctx context.Context, q querier, id string) (*job, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM gateway_jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoJob
	}
	return j, err
}

// jobFilter selects jobs for listing.
type jobFilter struct {
	Project, Site, User string
	States              []api.JobState
	Limit               int
}

func listJobs(ctx context.Context, q querier, f jobFilter) ([]*job, error) {
	var where []string
	var args []any
	if f.Project != "" {
		where, args = append(where, "project = ?"), append(args, f.Project)
	}
	if f.Site != "" {
		where, args = append(where, "site = ?"), append(args, f.Site)
	}
	if f.User != "" {
		where, args = append(where, "user = ?"), append(args, f.User)
	}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, s := range f.States {
			ph[i] = "?"
			args = append(args, string(s))
		}
		where = append(where, "state IN ("+strings.Join(ph, ",")+")")
	}
	query := `SELECT ` + jobColumns + ` FROM gateway_jobs`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC"
	if f.Limit > 0 {
		query += " LIMIT " + strconv.Itoa(f.Limit)
	}
	return queryJobs(ctx, q, query, args...)
}

// queryJobs runs a SELECT of jobColumns and scans its rows.
func queryJobs(ctx context.Context, q querier, query string, args ...any) ([]*job, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// setState records a state change (and its event) when the state or reason differs.
func setState(ctx context.Context, tx *sql.Tx, j *job, st api.JobState, reason string, at time.Time) error {
	if j.State == st && j.Reason == reason {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET state = ?, reason = ? WHERE id = ?`,
		string(st), reason, j.ID); err != nil {
		return err
	}
	if j.State != st {
		if _, err := tx.ExecContext(ctx, `INSERT INTO gateway_job_events (job_id, state, reason, at) VALUES (?, ?, ?, ?)`,
			j.ID, string(st), reason, ms(at)); err != nil {
			return err
		}
	}
	j.State, j.Reason = st, reason
	return nil
}

func jobEvents(ctx context.Context, q querier, id string, afterSeq int64) ([]api.Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, state, reason, at FROM gateway_job_events
		WHERE job_id = ? AND seq > ? ORDER BY seq`, id, afterSeq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []api.Event
	for rows.Next() {
		var e api.Event
		var st string
		var at int64
		if err := rows.Scan(&e.Seq, &st, &e.Reason, &at); err != nil {
			return nil, err
		}
		e.JobID, e.State, e.At = id, api.JobState(st), time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// toAPI renders a job for the wire.
func (j *job) toAPI() api.Job {
	out := api.Job{
		ID: j.ID, State: j.State, Reason: j.Reason, Project: j.Project, User: j.User, Site: j.Site,
		Cluster: j.Cluster, SiteJobID: j.SiteJobID, Account: j.Account, Partition: j.Partition,
		Name: j.Name, Nodes: []string{}, ExitCode: j.ExitCode, ExitSignal: j.ExitSignal,
		CoreSeconds: j.CoreSeconds, CoreHours: api.CoreHours(j.CoreSeconds),
		HoldSeconds: j.HoldCoreSeconds, CreatedAt: j.CreatedAt, Unreachable: j.Unreachable,
		StartedAt: j.StartedAt, EndedAt: j.EndedAt, Decision: j.Decision, HoldProblem: j.HoldProblem,
		ScriptSHA256: j.ScriptSHA256, SubmittedSHA256: j.SubmittedSHA256,
	}
	if j.SubmittedAt != nil {
		out.SubmittedAt = j.SubmittedAt
	}
	if j.Nodes != "" {
		out.Nodes = expandNodes(j.Nodes)
	}
	return out
}

// expandNodes turns a stored hostlist into host names (the expression itself if it
// does not parse: never lose what the site said).
func expandNodes(expr string) []string {
	hs, err := hostlist.Expand(expr)
	if err != nil {
		return []string{expr}
	}
	return hs
}

// tasks lists an array job's task ids ("" for a plain job: none).
func (j *job) tasks() []string {
	if j.ArraySpec == "" {
		return nil
	}
	idx, err := sbatch.ArrayIndexes(j.ArraySpec)
	if err != nil {
		return nil
	}
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// ledgerIDs are the job's ids in the ledger: the job's own, or one per array task
// ("ID_TASK", as Slurm names tasks).
func ledgerIDs(j *job) []string {
	ts := j.tasks()
	if len(ts) == 0 {
		return []string{j.ID}
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = j.ID + "_" + t
	}
	return out
}

// arrayTask is a row of gateway_array_tasks.
type arrayTask struct {
	Task        string
	State       api.JobState
	ExitCode    *int
	ExitSignal  *int
	CoreSeconds int64
	Settled     bool
}

func arrayTasks(ctx context.Context, q querier, id string) (map[string]*arrayTask, error) {
	rows, err := q.QueryContext(ctx, `SELECT task_id, state, exit_code, exit_signal, core_seconds, settled
		FROM gateway_array_tasks WHERE job_id = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*arrayTask{}
	for rows.Next() {
		var t arrayTask
		var st string
		var ec, es sql.NullInt64
		if err := rows.Scan(&t.Task, &st, &ec, &es, &t.CoreSeconds, &t.Settled); err != nil {
			return nil, err
		}
		t.State = api.JobState(st)
		if ec.Valid {
			v := int(ec.Int64)
			t.ExitCode = &v
		}
		if es.Valid {
			v := int(es.Int64)
			t.ExitSignal = &v
		}
		out[t.Task] = &t
	}
	return out, rows.Err()
}

// render is a job for the wire, with its array's task counts.
func (g *Gateway) render(ctx context.Context, j *job) api.Job {
	out := j.toAPI()
	if j.ArraySpec == "" {
		return out
	}
	ts, err := arrayTasks(ctx, g.db, j.ID)
	if err != nil {
		g.log.Error("array tasks", "job", j.ID, "err", err.Error())
		return out
	}
	a := &api.ArrayTasks{Total: len(ts), ByState: map[api.JobState]int{}}
	for _, t := range ts {
		a.ByState[t.State]++
		if t.ExitSignal != nil && *t.ExitSignal != 0 {
			a.Signaled++
		} else if t.ExitCode != nil && (a.MaxExitCode == nil || *t.ExitCode > *a.MaxExitCode) {
			v := *t.ExitCode
			a.MaxExitCode = &v
		}
	}
	out.Array = a
	return out
}
