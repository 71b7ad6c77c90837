package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sta-federation/sta-gateway/gateway/api"
)

// SubmitWait is how much longer than other requests a submission may take:
// the gateway answers once the job is at its site, after sbatch (up to its
// sbatch_timeout) and, when sbatch's outcome was unclear, a look-up by tag
// after Slurm's fence and a second attempt. A client that gave up sooner could
// not tell whether the job was accepted.
const SubmitWait = 5 * time.Minute

// Submit submits a job (POST /v1/jobs) with a new Idempotency-Key, the same
// on every retry. With req.DryRun the gateway returns the routing decision
// and stores nothing.
func (c *Client) Submit(ctx context.Context, req api.SubmitRequest) (*api.Job, error) {
	return c.SubmitWithKey(ctx, NewIdempotencyKey(), req)
}

// SubmitWithKey is Submit with the caller's Idempotency-Key, for callers that
// retry a submission across runs: the gateway answers a repeated key with the
// job of the first request (and a conflict when the body differs).
func (c *Client) SubmitWithKey(ctx context.Context, key string, req api.SubmitRequest) (*api.Job, error) {
	var j api.Job
	err := c.do(ctx, call{op: "submit job", method: http.MethodPost, path: "/jobs", body: req, out: &j, key: key, extra: SubmitWait})
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// Job returns a job (GET /v1/jobs/{id}).
func (c *Client) Job(ctx context.Context, id string) (*api.Job, error) {
	var j api.Job
	if err := c.do(ctx, call{op: "get job " + id, method: http.MethodGet, path: "/jobs/" + url.PathEscape(id), out: &j}); err != nil {
		return nil, err
	}
	return &j, nil
}

// JobFilter selects jobs for Jobs; empty fields select all.
type JobFilter struct {
	Project string
	State   api.JobState
	Site    string
	User    string
	Limit   int // 0: the gateway's default
}

// Jobs lists jobs, newest first (GET /v1/jobs).
func (c *Client) Jobs(ctx context.Context, f JobFilter) ([]api.Job, error) {
	q := url.Values{}
	set(q, "project", f.Project)
	set(q, "state", string(f.State))
	set(q, "site", f.Site)
	set(q, "user", f.User)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var js []api.Job
	if err := c.do(ctx, call{op: "list jobs", method: http.MethodGet, path: "/jobs", query: q, out: &js}); err != nil {
		return nil, err
	}
	return nonNil(js), nil
}

// Explain returns the routing decision of a job (GET /v1/jobs/{id}/explain).
func (c *Client) Explain(ctx context.Context, id string) (*api.Decision, error) {
	var d api.Decision
	if err := c.do(ctx, call{op: "explain job " + id, method: http.MethodGet, path: "/jobs/" + url.PathEscape(id) + "/explain", out: &d}); err != nil {
		return nil, err
	}
	return &d, nil
}

// Cancel cancels a job (POST /v1/jobs/{id}/cancel). Cancelling is idempotent:
// it is retried like a read.
func (c *Client) Cancel(ctx context.Context, id string) (*api.Job, error) {
	var j api.Job
	if err := c.do(ctx, call{op: "cancel job " + id, method: http.MethodPost, path: "/jobs/" + url.PathEscape(id) + "/cancel", out: &j}); err != nil {
		return nil, err
	}
	return &j, nil
}

// Streams of a job's output.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Output reads a job's output from offset (GET /v1/jobs/{id}/output). With
// wait > 0 the gateway holds the request until there is new data or the job
// has ended, at most wait (whole seconds).
func (c *Client) Output(ctx context.Context, id, stream string, offset int64, wait time.Duration) (*api.Output, error) {
	q := url.Values{}
	q.Set("stream", stream)
	q.Set("offset", strconv.FormatInt(offset, 10))
	if wait > 0 {
		q.Set("wait", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
	var o api.Output
	err := c.do(ctx, call{op: "read output of job " + id, method: http.MethodGet,
		path: "/jobs/" + url.PathEscape(id) + "/output", query: q, out: &o, extra: wait})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// Sites lists the sites (GET /v1/sites).
func (c *Client) Sites(ctx context.Context) ([]api.Site, error) {
	var s []api.Site
	if err := c.do(ctx, call{op: "list sites", method: http.MethodGet, path: "/sites", out: &s}); err != nil {
		return nil, err
	}
	return nonNil(s), nil
}

// Site returns one site (GET /v1/sites/{name}).
func (c *Client) Site(ctx context.Context, name string) (*api.Site, error) {
	var s api.Site
	if err := c.do(ctx, call{op: "get site " + name, method: http.MethodGet, path: "/sites/" + url.PathEscape(name), out: &s}); err != nil {
		return nil, err
	}
	return &s, nil
}

// UsageFilter selects a usage report. By is user, site, partition or month
// (empty: per project); Since and Until are months (YYYY-MM, or a date
// YYYY-MM-DD standing for its month), both included, passed on as given.
type UsageFilter struct {
	Project string
	By      string
	Since   string
	Until   string
}

// Usage returns a usage report (GET /v1/usage).
func (c *Client) Usage(ctx context.Context, f UsageFilter) ([]api.UsageRow, error) {
	q := url.Values{}
	set(q, "project", f.Project)
	set(q, "by", f.By)
	set(q, "since", f.Since)
	set(q, "until", f.Until)
	var rows []api.UsageRow
	if err := c.do(ctx, call{op: "usage report", method: http.MethodGet, path: "/usage", query: q, out: &rows}); err != nil {
		return nil, err
	}
	return nonNil(rows), nil
}

// Balance returns the balances of a project's allocations, or of every
// project the caller may see when project is empty (GET /v1/balance).
func (c *Client) Balance(ctx context.Context, project string) ([]api.Balance, error) {
	q := url.Values{}
	set(q, "project", project)
	var b []api.Balance
	if err := c.do(ctx, call{op: "balance", method: http.MethodGet, path: "/balance", query: q, out: &b}); err != nil {
		return nil, err
	}
	return nonNil(b), nil
}

// WhoAmI returns who the token acts for (GET /v1/whoami).
func (c *Client) WhoAmI(ctx context.Context) (*api.Principal, error) {
	var p api.Principal
	if err := c.do(ctx, call{op: "whoami", method: http.MethodGet, path: "/whoami", out: &p}); err != nil {
		return nil, err
	}
	return &p, nil
}

// Health returns the gateway's health (GET /v1/health, no token needed).
func (c *Client) Health(ctx context.Context) (*api.Health, error) {
	var h api.Health
	if err := c.do(ctx, call{op: "health", method: http.MethodGet, path: "/health", out: &h}); err != nil {
		return nil, err
	}
	return &h, nil
}

// CreateProject creates a project (POST /v1/admin/projects; admins only). It
// is retried only when the request never reached the gateway.
func (c *Client) CreateProject(ctx context.Context, p api.Project) (*api.Project, error) {
	var out api.Project
	err := c.do(ctx, call{op: "create project " + p.Name, method: http.MethodPost, path: "/admin/projects",
		body: p, out: &out, key: NewIdempotencyKey(), careful: true})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Projects lists the projects (GET /v1/admin/projects; admins only).
func (c *Client) Projects(ctx context.Context) ([]api.Project, error) {
	var ps []api.Project
	if err := c.do(ctx, call{op: "list projects", method: http.MethodGet, path: "/admin/projects", out: &ps}); err != nil {
		return nil, err
	}
	return nonNil(ps), nil
}

// Grant grants core-hours to a project at a site (POST /v1/admin/allocations;
// admins only) and returns the new allocation's balance. It is retried only
// when the request never reached the gateway, so that a grant is never made
// twice.
func (c *Client) Grant(ctx context.Context, g api.Grant) (*api.Balance, error) {
	var b api.Balance
	err := c.do(ctx, call{op: "grant allocation", method: http.MethodPost, path: "/admin/allocations",
		body: g, out: &b, key: NewIdempotencyKey(), careful: true})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// nonNil makes a null list an empty one, so that JSON output stays an array.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Audit lists audit records after seq, oldest first, at most limit (0: the
// gateway's default) (GET /v1/admin/audit; admins only).
func (c *Client) Audit(ctx context.Context, after int64, limit int) ([]api.AuditRecord, error) {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var recs []api.AuditRecord
	if err := c.do(ctx, call{op: "audit", method: http.MethodGet, path: "/admin/audit", query: q, out: &recs}); err != nil {
		return nil, err
	}
	return nonNil(recs), nil
}
