// Package fakegateway is a FAKE of the gateway's HTTP wire contract (the
// routes and types of package gateway/api), for stacli's tests only. It is
// not the gateway: it keeps jobs in memory and "runs" a batch script by
// reading it, without Slurm. Nothing outside _test files imports it.
//
// How a fake job runs: it is PENDING for Timing.Pending (SetTiming), then RUNNING while
// it prints one line per Timing.Line, then ends. Its standard output is the
// text of the script's `echo TEXT` lines (`echo TEXT >&2` goes to standard
// error); it exits with the N of the first `exit N` line (0 without one;
// `exit $SLURM_ARRAY_TASK_ID` makes each array task exit with its index), or
// is killed by signal S with `kill -S $$`. The same scripts run unchanged on
// real Slurm, so an end-to-end test written against this fake can point at
// the real daemon later and expect the same results.
//
// Tokens map to principals (Tokens); a principal with the role "admin" may
// use /v1/admin. Jobs are routed to the first site whose jurisdiction the
// project (and the request) allows. Idempotency-Key replays and conflicts
// behave as api.go documents.
package fakegateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

// Timing says how fast fake jobs run.
type Timing struct {
	Pending time.Duration // before the job starts
	Line    time.Duration // per line of output while it runs
}

// Request is a request the fake received.
type Request struct {
	Method, Path, Query string
	IdempotencyKey      string
	Authorization       string
}

// Gateway is a running fake gateway.
type Gateway struct {
	URL string

	srv *httptest.Server

	mu       sync.Mutex
	timing   Timing
	tokens   map[string]api.Principal
	projects []api.Project
	sites    []api.Site
	usage    []api.UsageRow
	balances []api.Balance
	jobs     map[string]*job
	order    []string
	keys     map[string]keyed
	requests []Request
	failNext []int
	nextID   int
}

type keyed struct {
	body  [32]byte
	jobID string
}

type job struct {
	api.Job
	created   time.Time
	stdout    []string
	stderr    []string
	exit      int
	signal    int
	taskExit  bool // exit $SLURM_ARRAY_TASK_ID
	indexes   []int
	cancelled *time.Time
	static    bool // added with AddJob: shown as given
}

// Default tokens.
const (
	AliceToken = "alice-token"
	BobToken   = "bob-token"
	AdminToken = "admin-token"
)

// New starts a fake gateway with two sites (ca-hydro in CA, de-hpc in DE),
// the project climate-ca (CA, members alice) and climate-de (DE, members bob),
// and the tokens AliceToken, BobToken and AdminToken. It stops at the end of
// the test.
func New(tb testing) *Gateway {
	g := &Gateway{
		timing: Timing{Pending: 100 * time.Millisecond, Line: 150 * time.Millisecond},
		tokens: map[string]api.Principal{
			AliceToken: {User: "alice", Roles: []string{"user"}},
			BobToken:   {User: "bob", Roles: []string{"user"}},
			AdminToken: {User: "root", Roles: []string{"admin"}},
		},
		projects: []api.Project{
			{Name: "climate-ca", Members: []string{"alice"}, Jurisdictions: []string{"CA"}, Accounts: map[string]string{"ca-hydro": "def-climate"}},
			{Name: "climate-de", Members: []string{"bob"}, Jurisdictions: []string{"DE"}, Accounts: map[string]string{"de-hpc": "climate"}},
		},
		sites: []api.Site{
			{Name: "ca-hydro", Jurisdiction: "CA", Cluster: "hydro", Reachable: true, Classes: []string{"cpu", "short"}, CarbonGPerKWh: 30, CostPerCoreHr: 0.01, LiveJobs: 0, QueueDepth: 3},
			{Name: "de-hpc", Jurisdiction: "DE", Cluster: "dehpc", Reachable: false, LastError: "ssh: connection refused", Classes: []string{"cpu", "gpu"}, CarbonGPerKWh: 350, CostPerCoreHr: 0.02, QueueDepth: 0},
		},
		usage: []api.UsageRow{
			{Project: "climate-ca", User: "alice", Site: "ca-hydro", Partition: "cpu", Month: "2026-01", Jobs: 3, CoreSeconds: 7200, CoreHours: 2},
			{Project: "climate-ca", User: "bob", Site: "ca-hydro", Partition: "cpu", Month: "2026-02", Jobs: 1, CoreSeconds: 1800, CoreHours: 0.5},
		},
		balances: []api.Balance{
			{Project: "climate-ca", Site: "ca-hydro", AllocationID: "a-1", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
				GrantedSeconds: 360000, HeldSeconds: 3600, ChargedSeconds: 9000, RemainingSeconds: 347400, GrantedHours: 100, RemainingHours: 96.5},
		},
		jobs: map[string]*job{},
		keys: map[string]keyed{},
	}
	g.srv = httptest.NewServer(g.handler())
	g.URL = g.srv.URL
	tb.Cleanup(g.srv.Close)
	return g
}

// testing is the part of testing.TB the fake needs.
type testing interface {
	Cleanup(func())
}

// SetTiming changes how fast jobs submitted from now on run (and those
// running: their phases are computed from it).
func (g *Gateway) SetTiming(t Timing) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.timing = t
}

// Close stops the fake.
func (g *Gateway) Close() { g.srv.Close() }

// Requests returns the requests received so far.
func (g *Gateway) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.requests)
}

// FailNext makes the next requests fail with these statuses, with a body
// that is not an API error (as a proxy in front of the gateway would).
func (g *Gateway) FailNext(statuses ...int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failNext = append(g.failNext, statuses...)
}

// AddJob adds a job in a given state (for list and status tests).
func (g *Gateway) AddJob(j api.Job) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if j.Nodes == nil {
		j.Nodes = []string{}
	}
	g.jobs[j.ID] = &job{Job: j, created: time.Now(), static: true}
	g.order = append(g.order, j.ID)
}

func (g *Gateway) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.Health{Status: "ok", Version: "fake", Sites: map[string]string{"ca-hydro": "ok", "de-hpc": "ssh: connection refused"}})
	})
	mux.HandleFunc("GET /v1/whoami", g.auth(false, func(w http.ResponseWriter, r *http.Request, p api.Principal) {
		writeJSON(w, 200, p)
	}))
	mux.HandleFunc("POST /v1/jobs", g.auth(false, g.submit))
	mux.HandleFunc("GET /v1/jobs", g.auth(false, g.list))
	mux.HandleFunc("GET /v1/jobs/{id}", g.auth(false, func(w http.ResponseWriter, r *http.Request, p api.Principal) {
		if j := g.job(w, r, p); j != nil {
			writeJSON(w, 200, j)
		}
	}))
	mux.HandleFunc("GET /v1/jobs/{id}/explain", g.auth(false, func(w http.ResponseWriter, r *http.Request, p api.Principal) {
		if j := g.job(w, r, p); j != nil {
			writeJSON(w, 200, j.Decision)
		}
	}))
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", g.auth(false, g.cancel))
	mux.HandleFunc("GET /v1/jobs/{id}/output", g.auth(false, g.output))
	mux.HandleFunc("GET /v1/sites", g.auth(false, func(w http.ResponseWriter, r *http.Request, p api.Principal) {
		g.mu.Lock()
		defer g.mu.Unlock()
		writeJSON(w, 200, g.sites)
	}))
	mux.HandleFunc("GET /v1/sites/{name}", g.auth(false, func(w http.ResponseWriter, r *http.Request, p api.Principal) {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, s := range g.sites {
			if s.Name == r.PathValue("name") {
				writeJSON(w, 200, s)
				return
			}
		}
		writeError(w, api.Errorf(api.CodeNotFound, "no site %q", r.PathValue("name")))
	}))
	mux.HandleFunc("GET /v1/usage", g.auth(false, g.usageReport))
	mux.HandleFunc("GET /v1/balance", g.auth(false, func(w http.ResponseWriter, r *http.Request, p api.Principal) {
		g.mu.Lock()
		defer g.mu.Unlock()
		out := []api.Balance{}
		for _, b := range g.balances {
			if q := r.URL.Query().Get("project"); q == "" || q == b.Project {
				out = append(out, b)
			}
		}
		writeJSON(w, 200, out)
	}))
	mux.HandleFunc("GET /v1/admin/projects", g.auth(true, func(w http.ResponseWriter, r *http.Request, p api.Principal) {
		g.mu.Lock()
		defer g.mu.Unlock()
		writeJSON(w, 200, g.projects)
	}))
	mux.HandleFunc("POST /v1/admin/projects", g.auth(true, g.createProject))
	mux.HandleFunc("POST /v1/admin/allocations", g.auth(true, g.grant))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, api.Errorf(api.CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.requests = append(g.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			IdempotencyKey: r.Header.Get(api.HeaderIdempotencyKey), Authorization: r.Header.Get(api.HeaderAuthorization)})
		var fail int
		if len(g.failNext) > 0 {
			fail, g.failNext = g.failNext[0], g.failNext[1:]
		}
		g.mu.Unlock()
		if fail != 0 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(fail)
			fmt.Fprintf(w, "<html>%d from a proxy</html>", fail)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (g *Gateway) auth(admin bool, h func(http.ResponseWriter, *http.Request, api.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get(api.HeaderAuthorization), "Bearer ")
		g.mu.Lock()
		p, known := g.tokens[tok]
		g.mu.Unlock()
		if !ok || !known {
			writeError(w, api.Errorf(api.CodeUnauthenticated, "missing or unknown token"))
			return
		}
		if admin && !slices.Contains(p.Roles, "admin") {
			writeError(w, api.Errorf(api.CodeForbidden, "%s is not an admin", p.User))
			return
		}
		h(w, r, p)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *api.Error) { writeJSON(w, e.Code.Status(), e) }

var (
	echoRe = regexp.MustCompile(`^\s*echo\s+(.*?)\s*$`)
	exitRe = regexp.MustCompile(`^\s*exit\s+(\S+)\s*$`)
	killRe = regexp.MustCompile(`^\s*kill\s+-(\d+)\s+\$\$\s*$`)
)

// readScript finds what a fake run of the script prints and how it ends.
func readScript(j *job, script string) {
	exitSeen := false
	for _, line := range strings.Split(script, "\n") {
		if m := echoRe.FindStringSubmatch(line); m != nil {
			text, toErr := strings.CutSuffix(m[1], ">&2")
			text = strings.Trim(strings.TrimSpace(text), `"'`)
			if toErr {
				j.stderr = append(j.stderr, text)
			} else {
				j.stdout = append(j.stdout, text)
			}
		}
		if m := killRe.FindStringSubmatch(line); m != nil && !exitSeen {
			j.signal, _ = strconv.Atoi(m[1])
			exitSeen = true
		}
		if m := exitRe.FindStringSubmatch(line); m != nil && !exitSeen {
			exitSeen = true
			if strings.Contains(m[1], "SLURM_ARRAY_TASK_ID") {
				j.taskExit = true
			} else {
				j.exit, _ = strconv.Atoi(m[1])
			}
		}
	}
}

func (g *Gateway) submit(w http.ResponseWriter, r *http.Request, p api.Principal) {
	body, err := io.ReadAll(io.LimitReader(r.Body, api.MaxBodyBytes+1))
	if err != nil || len(body) > api.MaxBodyBytes {
		writeError(w, api.Errorf(api.CodeTooLarge, "request too large"))
		return
	}
	var req api.SubmitRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, api.Errorf(api.CodeInvalid, "bad JSON: %v", err))
		return
	}
	key := r.Header.Get(api.HeaderIdempotencyKey)
	sum := sha256.Sum256(body)
	g.mu.Lock()
	defer g.mu.Unlock()
	if key != "" && !req.DryRun {
		if k, ok := g.keys[p.User+"\x00"+key]; ok {
			if k.body != sum {
				writeError(w, api.Errorf(api.CodeConflict, "Idempotency-Key %q was used with another request", key))
				return
			}
			writeJSON(w, http.StatusOK, g.view(g.jobs[k.jobID]))
			return
		}
	}
	s, err := sbatch.Parse(strings.NewReader(req.Script))
	if err == nil {
		err = sbatch.DefaultPolicy().Check(s)
	}
	if err != nil {
		writeError(w, api.FieldErrorf(api.CodeInvalid, "script", "%v", err))
		return
	}
	var proj *api.Project
	for i := range g.projects {
		if g.projects[i].Name == req.Project {
			proj = &g.projects[i]
		}
	}
	if proj == nil {
		writeError(w, api.FieldErrorf(api.CodeNotFound, "project", "no project %q", req.Project))
		return
	}
	if !slices.Contains(proj.Members, p.User) && !slices.Contains(p.Roles, "admin") {
		writeError(w, api.FieldErrorf(api.CodeForbidden, "project", "%s may not charge project %s", p.User, req.Project))
		return
	}
	d := &api.Decision{Candidates: []api.SiteCandidate{}}
	for _, site := range g.sites {
		c := api.SiteCandidate{Site: site.Name, Eligible: true, Reasons: []string{}}
		if !slices.Contains(proj.Jurisdictions, site.Jurisdiction) {
			c.Eligible = false
			c.Reasons = append(c.Reasons, fmt.Sprintf("jurisdiction %s not allowed for project %s", site.Jurisdiction, proj.Name))
		}
		if len(req.Jurisdictions) > 0 && !slices.Contains(req.Jurisdictions, site.Jurisdiction) {
			c.Eligible = false
			c.Reasons = append(c.Reasons, fmt.Sprintf("jurisdiction %s not requested", site.Jurisdiction))
		}
		if req.Site != "" && req.Site != "auto" && req.Site != site.Name {
			c.Eligible = false
			c.Reasons = append(c.Reasons, "another site was requested")
		}
		if c.Eligible {
			c.Score = 1000 / (1 + site.CarbonGPerKWh)
			c.Reasons = append(c.Reasons, "fits")
			if d.Site == "" {
				d.Site, d.Partition = site.Name, "cpu"
			}
		}
		d.Candidates = append(d.Candidates, c)
	}
	if req.Site != "" && req.Site != "auto" && !slices.ContainsFunc(g.sites, func(s api.Site) bool { return s.Name == req.Site }) {
		writeError(w, api.FieldErrorf(api.CodeInvalid, "site", "no site %q", req.Site))
		return
	}
	now := time.Now().UTC()
	j := &job{created: now}
	j.Job = api.Job{
		State: api.StateAccepted, Project: req.Project, User: p.User, Nodes: []string{},
		Name: req.JobName, Partition: d.Partition, CreatedAt: now, Decision: d,
	}
	if j.Name == "" {
		j.Name = s.Options.JobName
	}
	if j.Name == "" {
		j.Name = req.ScriptName
	}
	if req.DryRun {
		j.ID = "dry-run"
		if d.Site == "" {
			writeError(w, api.Errorf(api.CodeNoSite, "no site may and can run this job"))
			return
		}
		j.Site = d.Site
		writeJSON(w, http.StatusOK, j.Job)
		return
	}
	if d.Site == "" {
		// As the gateway does: recorded REJECTED with every site's reason.
		g.nextID++
		j.ID = fmt.Sprintf("j-%d", g.nextID)
		j.State, j.Reason, j.EndedAt = api.StateRejected, "no site may and can run this job: "+reasons(d), &now
		j.static = true
		g.jobs[j.ID] = j
		g.order = append(g.order, j.ID)
		writeJSON(w, http.StatusCreated, g.view(j))
		return
	}
	array := req.Array
	if array == "" && s.Options.IsSet("array") {
		array = s.Options.Array
	}
	if array != "" {
		n, _, err := sbatch.ArrayTasks(array)
		if err != nil {
			writeError(w, api.FieldErrorf(api.CodeInvalid, "array", "%v", err))
			return
		}
		for i := range n {
			j.indexes = append(j.indexes, i)
		}
		j.Array = &api.ArrayTasks{Total: n, ByState: map[api.JobState]int{}}
	}
	readScript(j, req.Script)
	g.nextID++
	j.ID = fmt.Sprintf("j-%d", g.nextID)
	j.Site = d.Site
	j.Cluster = "hydro"
	j.Account = proj.Accounts[d.Site]
	j.SiteJobID = strconv.Itoa(1000 + g.nextID)
	j.SubmittedAt = &now
	j.HoldSeconds = 3600
	g.jobs[j.ID] = j
	g.order = append(g.order, j.ID)
	if key != "" {
		g.keys[p.User+"\x00"+key] = keyed{body: sum, jobID: j.ID}
	}
	writeJSON(w, http.StatusCreated, g.view(j))
}

func reasons(d *api.Decision) string {
	var rs []string
	for _, c := range d.Candidates {
		rs = append(rs, c.Site+": "+strings.Join(c.Reasons, ", "))
	}
	return strings.Join(rs, "; ")
}

// view computes a job's state now. Call with g.mu held.
func (g *Gateway) view(j *job) api.Job {
	v := j.Job
	v.Decision = nil
	if j.static {
		return v
	}
	el := time.Since(j.created)
	lines := max(len(j.stdout), len(j.stderr), 1)
	end := g.timing.Pending + time.Duration(lines)*g.timing.Line
	start := j.created.Add(g.timing.Pending).UTC()
	switch {
	case j.cancelled != nil && (j.cancelled.Sub(j.created) < g.timing.Pending):
		v.State = api.StateCancelled
		v.EndedAt = j.cancelled
	case j.cancelled != nil:
		v.State = api.StateCancelled
		v.StartedAt, v.EndedAt = &start, j.cancelled
		zero, sig := 0, 15
		v.ExitCode, v.ExitSignal = &zero, &sig
	case el < g.timing.Pending:
		v.State, v.Reason = api.StatePending, "Priority"
	case el < end:
		v.State, v.Reason = api.StateRunning, "None"
		v.StartedAt = &start
		v.Nodes = []string{"hydro1"}
	default:
		ended := j.created.Add(end).UTC()
		v.StartedAt, v.EndedAt = &start, &ended
		v.Nodes = []string{"hydro1"}
		v.Reason = "None"
		code, sig := j.exit, j.signal
		v.ExitCode, v.ExitSignal = &code, &sig
		v.State = api.StateCompleted
		if code != 0 || sig != 0 {
			v.State = api.StateFailed
		}
		v.CoreSeconds = int64(end / time.Second * 8)
		v.CoreHours = api.CoreHours(v.CoreSeconds)
	}
	if j.Array != nil {
		a := &api.ArrayTasks{Total: j.Array.Total, ByState: map[api.JobState]int{v.State: j.Array.Total}}
		if v.State.Final() && v.ExitCode != nil {
			m := j.exit
			if j.taskExit && len(j.indexes) > 0 {
				m = slices.Max(j.indexes)
			}
			a.MaxExitCode = &m
			if j.signal != 0 {
				a.Signaled = a.Total
			}
			v.State = api.StateCompleted
			if m != 0 || j.signal != 0 {
				v.State = api.StateFailed
			}
			a.ByState = map[api.JobState]int{v.State: a.Total}
		}
		v.Array = a
	}
	return v
}

func (g *Gateway) job(w http.ResponseWriter, r *http.Request, p api.Principal) *api.Job {
	g.mu.Lock()
	defer g.mu.Unlock()
	j, ok := g.jobs[r.PathValue("id")]
	if !ok || (j.User != p.User && !slices.Contains(p.Roles, "admin")) {
		writeError(w, api.Errorf(api.CodeNotFound, "no job %q", r.PathValue("id")))
		return nil
	}
	v := g.view(j)
	if strings.HasSuffix(r.URL.Path, "/explain") {
		v.Decision = j.Decision
	}
	return &v
}

func (g *Gateway) list(w http.ResponseWriter, r *http.Request, p api.Principal) {
	q := r.URL.Query()
	g.mu.Lock()
	defer g.mu.Unlock()
	out := []api.Job{}
	for i := len(g.order) - 1; i >= 0; i-- {
		v := g.view(g.jobs[g.order[i]])
		if v.User != p.User && !slices.Contains(p.Roles, "admin") {
			continue
		}
		if (q.Get("project") != "" && v.Project != q.Get("project")) || (q.Get("state") != "" && string(v.State) != q.Get("state")) ||
			(q.Get("site") != "" && v.Site != q.Get("site")) || (q.Get("user") != "" && v.User != q.Get("user")) {
			continue
		}
		out = append(out, v)
		if n, _ := strconv.Atoi(q.Get("limit")); n > 0 && len(out) == n {
			break
		}
	}
	writeJSON(w, 200, out)
}

func (g *Gateway) cancel(w http.ResponseWriter, r *http.Request, p api.Principal) {
	if g.job(w, r, p) == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	j := g.jobs[r.PathValue("id")]
	if !g.view(j).State.Final() {
		now := time.Now().UTC()
		j.cancelled = &now
	}
	writeJSON(w, 200, g.view(j))
}

func (g *Gateway) output(w http.ResponseWriter, r *http.Request, p api.Principal) {
	if g.job(w, r, p) == nil {
		return
	}
	q := r.URL.Query()
	stream := q.Get("stream")
	if stream == "" {
		stream = "stdout"
	}
	if stream != "stdout" && stream != "stderr" {
		writeError(w, api.FieldErrorf(api.CodeInvalid, "stream", "want stdout or stderr"))
		return
	}
	offset, err := strconv.ParseInt(q.Get("offset"), 10, 64)
	if q.Get("offset") != "" && (err != nil || offset < 0) {
		writeError(w, api.FieldErrorf(api.CodeInvalid, "offset", "want a byte offset"))
		return
	}
	wait, _ := strconv.Atoi(q.Get("wait"))
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	ctx := r.Context()
	for {
		g.mu.Lock()
		data, final := g.outputOf(g.jobs[r.PathValue("id")], stream)
		g.mu.Unlock()
		if int64(len(data)) > offset || final || !time.Now().Before(deadline) {
			o := api.Output{Stream: stream, Offset: offset, Next: int64(len(data)), EOF: final}
			if offset < int64(len(data)) {
				o.Data = data[offset:]
			} else {
				o.Next = offset
			}
			writeJSON(w, 200, o)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// outputOf returns the output written so far and whether the job has ended.
func (g *Gateway) outputOf(j *job, stream string) (string, bool) {
	v := g.view(j)
	lines := j.stdout
	if stream == "stderr" {
		lines = j.stderr
	}
	n := 0
	switch {
	case v.State.Final():
		n = len(lines)
		if j.cancelled != nil {
			n = min(len(lines), g.linesAt(j, j.cancelled.Sub(j.created)))
		}
	case v.State == api.StateRunning:
		n = min(len(lines), g.linesAt(j, time.Since(j.created)))
	}
	var b strings.Builder
	for _, l := range lines[:n] {
		b.WriteString(l + "\n")
	}
	return b.String(), v.State.Final()
}

// linesAt is how many lines a running job has printed after el: one at its
// start, one more per Timing.Line.
func (g *Gateway) linesAt(_ *job, el time.Duration) int {
	if el < g.timing.Pending {
		return 0
	}
	return int((el-g.timing.Pending)/g.timing.Line) + 1
}

func (g *Gateway) usageReport(w http.ResponseWriter, r *http.Request, p api.Principal) {
	q := r.URL.Query()
	by := q.Get("by")
	if by != "" && !slices.Contains([]string{"user", "site", "partition", "month"}, by) {
		writeError(w, api.FieldErrorf(api.CodeInvalid, "by", "want user, site, partition or month"))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	agg := map[string]*api.UsageRow{}
	var keys []string
	for _, u := range g.usage {
		if q.Get("project") != "" && u.Project != q.Get("project") {
			continue
		}
		row := api.UsageRow{Project: u.Project}
		switch by {
		case "user":
			row.User = u.User
		case "site":
			row.Site = u.Site
		case "partition":
			row.Partition = u.Partition
		case "month":
			row.Month = u.Month
		}
		k := fmt.Sprint(row)
		if agg[k] == nil {
			agg[k] = &row
			keys = append(keys, k)
		}
		agg[k].Jobs += u.Jobs
		agg[k].CoreSeconds += u.CoreSeconds
		agg[k].CoreHours = api.CoreHours(agg[k].CoreSeconds)
	}
	out := []api.UsageRow{}
	for _, k := range keys {
		out = append(out, *agg[k])
	}
	writeJSON(w, 200, out)
}

func (g *Gateway) createProject(w http.ResponseWriter, r *http.Request, p api.Principal) {
	var pr api.Project
	if err := json.NewDecoder(r.Body).Decode(&pr); err != nil || pr.Name == "" {
		writeError(w, api.FieldErrorf(api.CodeInvalid, "name", "a project needs a name"))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, q := range g.projects {
		if q.Name == pr.Name {
			writeError(w, api.FieldErrorf(api.CodeConflict, "name", "project %q exists", pr.Name))
			return
		}
	}
	g.projects = append(g.projects, pr)
	writeJSON(w, http.StatusCreated, pr)
}

func (g *Gateway) grant(w http.ResponseWriter, r *http.Request, p api.Principal) {
	var gr api.Grant
	if err := json.NewDecoder(r.Body).Decode(&gr); err != nil {
		writeError(w, api.Errorf(api.CodeInvalid, "bad JSON: %v", err))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !slices.ContainsFunc(g.projects, func(q api.Project) bool { return q.Name == gr.Project }) {
		writeError(w, api.FieldErrorf(api.CodeNotFound, "project", "no project %q", gr.Project))
		return
	}
	start := time.Now().UTC().Truncate(time.Second)
	if gr.Start != nil {
		start = *gr.Start
	}
	end := start.AddDate(1, 0, 0)
	if gr.End != nil {
		end = *gr.End
	}
	secs := int64(gr.CoreHours * 3600)
	b := api.Balance{Project: gr.Project, Site: gr.Site, AllocationID: fmt.Sprintf("a-%d", len(g.balances)+1), Start: start, End: end,
		GrantedSeconds: secs, RemainingSeconds: secs, GrantedHours: gr.CoreHours, RemainingHours: gr.CoreHours}
	g.balances = append(g.balances, b)
	writeJSON(w, http.StatusCreated, b)
}

// WaitIdle is a helper for tests that want every fake job ended.
func (g *Gateway) WaitIdle(ctx context.Context) error {
	for {
		g.mu.Lock()
		live := false
		for _, id := range g.order {
			if !g.view(g.jobs[id]).State.Final() {
				live = true
			}
		}
		g.mu.Unlock()
		if !live {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
