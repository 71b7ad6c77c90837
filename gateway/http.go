package gateway

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
	"github.com/sta-federation/sta-gateway/gateway/api"
)

// Version is the daemon's version, set at build time.
var Version = "dev"

// route is one endpoint of the API: the table drives both the mux and the
// OpenAPI document (GET /v1/openapi.json), so the two cannot drift apart.
type route struct {
	method, path string
	summary      string
	public       bool    // no token needed
	query        []param // query parameters
	body         any     // request body type (a zero value), nil for none
	reply        any     // response body type; nil with contentType for non-JSON
	status       int     // success status
	contentType  string  // of the response: application/json unless set
	handle       func(w http.ResponseWriter, r *http.Request, p principal) error
}

// param is a query parameter.
type param struct{ name, typ, doc string }

// routes is the API. Handlers of public routes get a zero principal.
func (g *Gateway) routes() []route {
	return []route{
		{method: "POST", path: "/v1/jobs", summary: "Submit a job (Idempotency-Key header optional). 201 with the job; 200 when the key replays an earlier request or with dry_run (the routing decision, nothing stored); a job no site may and can run is recorded REJECTED with every site's reason.",
			body: api.SubmitRequest{}, reply: api.Job{}, status: http.StatusCreated, handle: g.handleSubmit},
		{method: "GET", path: "/v1/jobs", summary: "List jobs, newest first.",
			query: []param{{"project", "string", "only this project's"}, {"state", "string", "comma-separated states"},
				{"site", "string", "only this site's"}, {"user", "string", "only this user's"}, {"limit", "integer", "at most this many (default 500)"}},
			reply: []api.Job{}, status: http.StatusOK, handle: g.handleList},
		{method: "GET", path: "/v1/jobs/{id}", summary: "One job.", reply: api.Job{}, status: http.StatusOK, handle: g.handleGet},
		{method: "GET", path: "/v1/jobs/{id}/explain", summary: "The job's routing decision: every site with why it was excluded or its score parts.",
			reply: api.Decision{}, status: http.StatusOK, handle: g.handleExplain},
		{method: "POST", path: "/v1/jobs/{id}/cancel", summary: "Cancel a job.", reply: api.Job{}, status: http.StatusOK, handle: g.handleCancel},
		{method: "GET", path: "/v1/jobs/{id}/output", summary: "A chunk of the job's stdout or stderr; with wait, held until new data or the job's end.",
			query: []param{{"stream", "string", "stdout (default) or stderr"}, {"offset", "integer", "byte offset in the file"},
				{"wait", "integer", "seconds to wait for new data"}},
			reply: api.Output{}, status: http.StatusOK, handle: g.handleOutput},
		{method: "GET", path: "/v1/jobs/{id}/events", summary: "The job's state changes as Server-Sent Events (event: state, data: an Event), until it ends.",
			status: http.StatusOK, contentType: "text/event-stream", handle: g.handleEvents},
		{method: "GET", path: "/v1/sites", summary: "Every site as the gateway sees it: reachability, partitions, free nodes, pending jobs.",
			reply: []api.Site{}, status: http.StatusOK, handle: func(w http.ResponseWriter, r *http.Request, p principal) error {
				return writeJSON(w, http.StatusOK, g.siteList(r.Context()))
			}},
		{method: "GET", path: "/v1/sites/{name}", summary: "One site.", reply: api.Site{}, status: http.StatusOK,
			handle: func(w http.ResponseWriter, r *http.Request, p principal) error {
				for _, s := range g.siteList(r.Context()) {
					if s.Name == r.PathValue("name") {
						return writeJSON(w, http.StatusOK, s)
					}
				}
				return api.Errorf(api.CodeNotFound, "no site %q", r.PathValue("name"))
			}},
		{method: "GET", path: "/v1/usage", summary: "Charged usage, grouped.",
			query: []param{{"project", "string", ""}, {"site", "string", ""}, {"user", "string", ""},
				{"by", "string", "user, site, partition or month"}, {"since", "string", "first month, YYYY-MM"}, {"until", "string", "last month, YYYY-MM"}},
			reply: []api.UsageRow{}, status: http.StatusOK, handle: g.handleUsage},
		{method: "GET", path: "/v1/balance", summary: "Allocations' balances.", query: []param{{"project", "string", ""}},
			reply: []api.Balance{}, status: http.StatusOK, handle: g.handleBalance},
		{method: "GET", path: "/v1/whoami", summary: "Who the request acts for.", reply: api.Principal{}, status: http.StatusOK,
			handle: func(w http.ResponseWriter, r *http.Request, p principal) error {
				roles := []string{"user"}
				if p.Admin {
					roles = append(roles, "admin")
				}
				return writeJSON(w, http.StatusOK, api.Principal{User: p.User, Roles: roles})
			}},
		{method: "GET", path: "/v1/admin/projects", summary: "Projects (admins).", reply: []api.Project{}, status: http.StatusOK, handle: g.handleProjects},
		{method: "POST", path: "/v1/admin/projects", summary: "Create a project (admins); kept across restarts.",
			body: api.Project{}, reply: api.Project{}, status: http.StatusCreated,
			handle: func(w http.ResponseWriter, r *http.Request, p principal) error {
				var ap api.Project
				if err := decode(w, r, &ap); err != nil {
					return err
				}
				out, err := g.CreateProject(r.Context(), p, ap)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusCreated, out)
			}},
		{method: "POST", path: "/v1/admin/allocations", summary: "Grant core-hours to a project at a site (admins).",
			body: api.Grant{}, reply: api.Balance{}, status: http.StatusCreated, handle: g.handleGrant},
		{method: "GET", path: "/v1/admin/audit", summary: "The audit trail (admins): records after a sequence number, oldest first, each with its HMAC chained to the one before.",
			query: []param{{"after", "integer", "records after this sequence number (default 0)"}, {"limit", "integer", "at most this many (default 500, at most 5000)"}},
			reply: []api.AuditRecord{}, status: http.StatusOK, handle: g.handleAudit},
		{method: "GET", path: "/v1/health", summary: "Status of the daemon and of each site (ok or degraded).", public: true,
			reply: api.Health{}, status: http.StatusOK, handle: func(w http.ResponseWriter, r *http.Request, _ principal) error {
				return writeJSON(w, http.StatusOK, g.health(r.Context()))
			}},
		{method: "GET", path: "/v1/openapi.json", summary: "This document.", public: true, status: http.StatusOK,
			contentType: "application/json", handle: func(w http.ResponseWriter, r *http.Request, _ principal) error {
				return writeJSON(w, http.StatusOK, g.openAPI())
			}},
		{method: "GET", path: "/healthz", summary: "Liveness: 200 while the process and its database answer.", public: true,
			status: http.StatusOK, contentType: "text/plain", handle: g.handleHealthz},
		{method: "GET", path: "/readyz", summary: "Readiness: 200 when the daemon takes jobs (not draining, database answers, a site reachable), else 503 with why.",
			public: true, status: http.StatusOK, contentType: "text/plain", handle: g.handleReadyz},
		{method: "GET", path: "/metrics", summary: "Prometheus metrics, named sta_gateway_*.", public: true,
			status: http.StatusOK, contentType: "text/plain", handle: func(w http.ResponseWriter, r *http.Request, _ principal) error {
				g.metrics.handler().ServeHTTP(w, r)
				return nil
			}},
	}
}

// Handler returns the HTTP API.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range g.routes() {
		mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			var p principal
			var err error
			if !rt.public {
				p, err = g.authenticate(r)
			}
			if err == nil {
				err = rt.handle(w, r, p)
			}
			if err != nil {
				g.writeError(w, r, err)
			}
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		g.writeError(w, r, api.Errorf(api.CodeNotFound, "no route %s %s (see GET /v1/openapi.json)", r.Method, r.URL.Path))
	})
	return mux
}

func (g *Gateway) handleAudit(w http.ResponseWriter, r *http.Request, p principal) error {
	if !p.Admin {
		return api.Errorf(api.CodeForbidden, "admin only")
	}
	q := r.URL.Query()
	after, limit := int64(0), 500
	if s := q.Get("after"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return api.FieldErrorf(api.CodeInvalid, "after", "%q: want a sequence number", s)
		}
		after = v
	}
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 5000 {
			return api.FieldErrorf(api.CodeInvalid, "limit", "%q: want 1 to 5000", s)
		}
		limit = v
	}
	recs, err := AuditRecords(r.Context(), g.db, after, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, recs)
}

// health is GET /v1/health.
func (g *Gateway) health(ctx context.Context) api.Health {
	hl := api.Health{Status: "ok", Version: Version, Sites: map[string]string{}, Audit: "ok"}
	if p := g.auditProblem(); p != "" {
		hl.Status, hl.Audit = "degraded", p
	}
	for _, s := range g.siteList(ctx) {
		if s.Reachable {
			hl.Sites[s.Name] = "ok"
		} else {
			hl.Status = "degraded"
			hl.Sites[s.Name] = s.LastError
		}
	}
	return hl
}

func (g *Gateway) handleHealthz(w http.ResponseWriter, r *http.Request, _ principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := g.db.PingContext(ctx); err != nil {
		return writeText(w, http.StatusServiceUnavailable, "database: "+err.Error())
	}
	return writeText(w, http.StatusOK, "ok")
}

func (g *Gateway) handleReadyz(w http.ResponseWriter, r *http.Request, _ principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if g.draining.Load() {
		return writeText(w, http.StatusServiceUnavailable, "draining: shutting down")
	}
	var one int
	if err := g.db.QueryRowContext(ctx, `SELECT 1 FROM gateway_jobs LIMIT 1`).Scan(&one); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return writeText(w, http.StatusServiceUnavailable, "database: "+err.Error())
	}
	var down []string
	for _, s := range sortedSites(g.sites) {
		reachable, lastErr, _, _ := s.status()
		if reachable {
			return writeText(w, http.StatusOK, "ready")
		}
		if lastErr == "" {
			lastErr = "not polled yet"
		}
		down = append(down, s.cfg.Name+": "+lastErr)
	}
	if len(down) == 0 {
		return writeText(w, http.StatusServiceUnavailable, "no sites configured")
	}
	return writeText(w, http.StatusServiceUnavailable, "no site reachable: "+strings.Join(down, "; "))
}

func writeText(w http.ResponseWriter, status int, msg string) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, err := io.WriteString(w, msg+"\n")
	return err
}

// authenticate checks the bearer token and names the principal (X-STA-User).
func (g *Gateway) authenticate(r *http.Request) (principal, error) {
	auth := r.Header.Get(api.HeaderAuthorization)
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || g.token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(g.token)) != 1 {
		return principal{}, api.Errorf(api.CodeUnauthenticated, "missing or wrong token (Authorization: Bearer ...)")
	}
	user := r.Header.Get(api.HeaderActAs)
	if user == "" {
		return principal{}, api.FieldErrorf(api.CodeUnauthenticated, api.HeaderActAs, "name the user the request acts for")
	}
	if !loginRE.MatchString(user) {
		return principal{}, api.FieldErrorf(api.CodeInvalid, api.HeaderActAs, "%q is not a user name", user)
	}
	p := principal{User: user}
	for _, a := range g.cfg.Auth.Admins {
		if a == user {
			p.Admin = true
		}
	}
	if !p.Admin && g.cfg.User(user) == nil {
		return principal{}, api.Errorf(api.CodeForbidden, "unknown user %s", user)
	}
	return p, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeError renders err as {code, message, field} with the status of its code.
// Errors that are not *api.Error are internal: logged, and shown without detail.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *api.Error
	if !errors.As(err, &ae) {
		g.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err.Error())
		ae = api.Errorf(api.CodeInternal, "internal error (see the gateway's log)")
	}
	writeJSON(w, ae.Code.Status(), ae)
}

// decode reads a JSON body strictly: bounded, unknown fields refused.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, api.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return api.Errorf(api.CodeTooLarge, "request body over %d bytes", api.MaxBodyBytes)
		case errors.As(err, &se):
			return api.Errorf(api.CodeInvalid, "malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return api.FieldErrorf(api.CodeInvalid, te.Field, "want %s, got %s", te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return api.FieldErrorf(api.CodeInvalid, f, "unknown field")
		case errors.Is(err, io.EOF):
			return api.Errorf(api.CodeInvalid, "empty request body")
		}
		return api.Errorf(api.CodeInvalid, "request body: %v", err)
	}
	if dec.More() {
		return api.Errorf(api.CodeInvalid, "request body holds more than one JSON value")
	}
	return nil
}

func (g *Gateway) handleSubmit(w http.ResponseWriter, r *http.Request, p principal) error {
	var req api.SubmitRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := g.Submit(r.Context(), p, r.Header.Get(api.HeaderIdempotencyKey), req)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res.Replay || req.DryRun {
		status = http.StatusOK
	}
	return writeJSON(w, status, res.Job)
}

func (g *Gateway) handleGet(w http.ResponseWriter, r *http.Request, p principal) error {
	j, err := g.jobFor(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g.render(r.Context(), j))
}

func (g *Gateway) handleExplain(w http.ResponseWriter, r *http.Request, p principal) error {
	j, err := g.jobFor(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if j.Decision == nil {
		return api.Errorf(api.CodeNotFound, "job %s has no routing decision recorded", j.ID)
	}
	return writeJSON(w, http.StatusOK, j.Decision)
}

func (g *Gateway) handleCancel(w http.ResponseWriter, r *http.Request, p principal) error {
	j, err := g.Cancel(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, j)
}

func (g *Gateway) handleList(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	f := jobFilter{Project: q.Get("project"), Site: q.Get("site"), User: q.Get("user"), Limit: 500}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > 10000 {
			return api.FieldErrorf(api.CodeInvalid, "limit", "want 1 to 10000, not %q", l)
		}
		f.Limit = n
	}
	for _, s := range strings.Split(q.Get("state"), ",") {
		if s == "" {
			continue
		}
		st := api.JobState(strings.ToUpper(s))
		if !st.Valid() {
			return api.FieldErrorf(api.CodeInvalid, "state", "no state %q", s)
		}
		f.States = append(f.States, st)
	}
	if !p.Admin {
		switch {
		case f.Project != "" && g.isMember(p.User, f.Project):
		case f.User == "" || f.User == p.User:
			f.User = p.User
		default:
			return api.Errorf(api.CodeForbidden, "%s may list only their own jobs and their projects'", p.User)
		}
	}
	jobs, err := listJobs(r.Context(), g.db, f)
	if err != nil {
		return err
	}
	out := make([]api.Job, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, g.render(r.Context(), j))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) handleOutput(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	var offset int64
	if s := q.Get("offset"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return api.FieldErrorf(api.CodeInvalid, "offset", "want a byte offset, not %q", s)
		}
		offset = v
	}
	var wait time.Duration
	if s := q.Get("wait"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 60 {
			return api.FieldErrorf(api.CodeInvalid, "wait", "want 0 to 60 seconds, not %q", s)
		}
		wait = time.Duration(v) * time.Second
	}
	out, err := g.Output(r.Context(), p, r.PathValue("id"), q.Get("stream"), offset, wait)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// handleEvents streams a job's state changes as Server-Sent Events until the job
// ends or the client goes.
func (g *Gateway) handleEvents(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	j, err := g.jobFor(r.Context(), p, id)
	if err != nil {
		return err
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		return errors.New("streaming unsupported")
	}
	var after int64
	if s := r.Header.Get("Last-Event-ID"); s != "" {
		after, _ = strconv.ParseInt(s, 10, 64)
	}
	// A client that reconnects after the final event (an EventSource does)
	// gets 204, which tells it to stop, rather than a stream that never ends.
	if j.State.Final() {
		if evs, err := jobEvents(r.Context(), g.db, id, after); err == nil && len(evs) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	sub := g.events.subscribe(id)
	defer g.events.unsubscribe(id, sub)
	for {
		evs, err := jobEvents(r.Context(), g.db, id, after)
		if err != nil {
			return nil
		}
		for _, e := range evs {
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "id: %d\nevent: state\ndata: %s\n\n", e.Seq, b)
			after = e.Seq
			if e.State.Final() {
				fl.Flush()
				return nil
			}
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return nil
		case <-g.drained: // shutting down: the client reconnects to the next daemon
			return nil
		case <-sub:
		case <-time.After(15 * time.Second):
			fmt.Fprint(w, ": keepalive\n\n")
		}
	}
}

func (g *Gateway) handleUsage(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	uq := accounting.UsageQuery{Project: q.Get("project"), Site: q.Get("site"), User: q.Get("user")}
	if !p.Admin {
		if uq.Project == "" || !g.isMember(p.User, uq.Project) {
			if uq.User != "" && uq.User != p.User {
				return api.Errorf(api.CodeForbidden, "%s may see only their own usage and their projects'", p.User)
			}
			if uq.Project != "" {
				return api.Errorf(api.CodeForbidden, "%s is not a member of project %s", p.User, uq.Project)
			}
			uq.User = p.User
		}
	}
	for _, b := range []struct {
		name string
		dst  *accounting.Month
	}{{"since", &uq.From}, {"until", &uq.To}} {
		if s := q.Get(b.name); s != "" {
			m, err := parseMonthArg(s)
			if err != nil {
				return api.FieldErrorf(api.CodeInvalid, b.name, "%v", err)
			}
			*b.dst = m
		}
	}
	uq.GroupBy = []accounting.Dimension{accounting.ByProject}
	switch by := q.Get("by"); by {
	case "":
	case "user", "site", "partition", "month":
		uq.GroupBy = append(uq.GroupBy, accounting.Dimension(by))
	default:
		return api.FieldErrorf(api.CodeInvalid, "by", "want user, site, partition or month, not %q", by)
	}
	rows, err := g.led.Usage(r.Context(), uq)
	if err != nil {
		return err
	}
	out := make([]api.UsageRow, 0, len(rows))
	for _, row := range rows {
		b, _ := json.Marshal(row)
		var ur api.UsageRow
		json.Unmarshal(b, &ur)
		ur.CoreHours = api.CoreHours(ur.CoreSeconds)
		out = append(out, ur)
	}
	return writeJSON(w, http.StatusOK, out)
}

// parseMonthArg accepts YYYY-MM or YYYY-MM-DD (the month of that day).
func parseMonthArg(s string) (accounting.Month, error) {
	if len(s) == 10 {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return 0, fmt.Errorf("want YYYY-MM or YYYY-MM-DD, not %q", s)
		}
		return accounting.MonthOf(t), nil
	}
	return accounting.ParseMonth(s)
}

func (g *Gateway) handleBalance(w http.ResponseWriter, r *http.Request, p principal) error {
	project := r.URL.Query().Get("project")
	if !p.Admin && project != "" && !g.isMember(p.User, project) {
		return api.Errorf(api.CodeForbidden, "%s is not a member of project %s", p.User, project)
	}
	bals, err := g.led.Balances(r.Context(), accounting.BalanceQuery{Project: project})
	if err != nil {
		return err
	}
	out := []api.Balance{}
	for _, b := range bals {
		if !p.Admin && !g.isMember(p.User, b.Project) {
			continue
		}
		out = append(out, toAPIBalance(b))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) handleProjects(w http.ResponseWriter, r *http.Request, p principal) error {
	if !p.Admin {
		return api.Errorf(api.CodeForbidden, "admin only")
	}
	out := []api.Project{}
	for _, pc := range g.allProjects() {
		out = append(out, api.Project{Name: pc.Name, Members: append([]string{}, pc.Members...),
			Jurisdictions: append([]string{}, pc.Jurisdictions...), Accounts: maps.Clone(pc.Accounts)})
		if out[len(out)-1].Accounts == nil {
			out[len(out)-1].Accounts = map[string]string{}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) handleGrant(w http.ResponseWriter, r *http.Request, p principal) error {
	if !p.Admin {
		return api.Errorf(api.CodeForbidden, "admin only")
	}
	var gr api.Grant
	if err := decode(w, r, &gr); err != nil {
		return err
	}
	pc := g.project(gr.Project)
	if pc == nil {
		return api.FieldErrorf(api.CodeNotFound, "project", "no project %q", gr.Project)
	}
	if pc.Accounts[gr.Site] == "" {
		return api.FieldErrorf(api.CodeInvalid, "site", "project %s has no Slurm account at %q", gr.Project, gr.Site)
	}
	if gr.CoreHours <= 0 || math.IsInf(gr.CoreHours, 0) || gr.CoreHours > 1e12 {
		return api.FieldErrorf(api.CodeInvalid, "core_hours", "want a positive number")
	}
	start := g.now().UTC().Truncate(time.Second)
	if gr.Start != nil {
		start = gr.Start.UTC().Truncate(time.Second)
	}
	end := start.AddDate(1, 0, 0)
	if gr.End != nil {
		end = gr.End.UTC().Truncate(time.Second)
	}
	if !end.After(start) {
		return api.FieldErrorf(api.CodeInvalid, "end", "before start")
	}
	od := accounting.NoOverdraft
	if gr.Overdraft {
		od = -1
	}
	tx, err := g.db.BeginTx(r.Context(), nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	na := accounting.NewAllocation{Project: gr.Project, Site: gr.Site,
		SlurmAccount: pc.Accounts[gr.Site], StartsAt: start, EndsAt: end, Overdraft: od,
		Grant: int64(math.Round(gr.CoreHours * 3600)), Who: p.User, Why: gr.Reason,
		RequestID: r.Header.Get(api.HeaderIdempotencyKey)}
	a, err := g.ledger.CreateAllocationTx(r.Context(), tx, na)
	if err != nil {
		return api.Errorf(api.CodeInvalid, "%v", err)
	}
	rec, err := g.audit(r.Context(), tx, p.User, "allocation.granted", gr.Project+"@"+gr.Site, map[string]any{
		"allocation_id": a.ID, "core_seconds": na.Grant, "start": start.UTC(), "end": end.UTC(),
		"overdraft": gr.Overdraft, "reason": gr.Reason})
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	g.announce(rec)
	b, err := g.ledger.Balance(r.Context(), a.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toAPIBalance(b))
}

// toAPIBalance renders a ledger balance for the wire.
func toAPIBalance(b accounting.Balance) api.Balance {
	return api.Balance{Project: b.Project, Site: b.Site, AllocationID: strconv.FormatInt(b.AllocationID, 10),
		Start: b.StartsAt, End: b.EndsAt, GrantedSeconds: b.GrantedCoreSeconds, HeldSeconds: b.HeldCoreSeconds,
		ChargedSeconds: b.ChargedCoreSeconds, RemainingSeconds: b.RemainingCoreSeconds,
		GrantedHours: api.CoreHours(b.GrantedCoreSeconds), RemainingHours: api.CoreHours(b.RemainingCoreSeconds)}
}
