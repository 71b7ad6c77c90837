package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/gateway/api"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.json from the served document")

const testToken = "0123456789abcdef-test-token"

// siteless opens a gateway over a fresh state folder with one project and no
// sites: every route answers without touching Slurm (a submission is REJECTED:
// no site may run it).
func siteless(t *testing.T) (*Gateway, *httptest.Server) {
	t.Helper()
	cfg, err := ParseConfig(strings.NewReader(fmt.Sprintf(`
state_dir = %q
[auth]
token = %q
admins = ["admin"]
[[user]]
name = "alice"
[[project]]
name = "climate"
members = ["alice"]
jurisdictions = ["CA"]
`, t.TempDir(), testToken)), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		srv.Close()
		g.Close()
	})
	return g, srv
}

func call(t *testing.T, srv *httptest.Server, method, path, user string, body any) (int, string, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	if user != "" {
		req.Header.Set(api.HeaderAuthorization, "Bearer "+testToken)
		req.Header.Set(api.HeaderActAs, user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestOpenAPIInStepWithHandlers serves the document, checks it against the
// committed docs/openapi.json (go test ./gateway -run OpenAPI -update rewrites
// it), checks that every documented operation is served and that what the
// handlers write validates against the documented schemas.
func TestOpenAPIInStepWithHandlers(t *testing.T) {
	_, srv := siteless(t)
	status, ctype, body := call(t, srv, "GET", "/v1/openapi.json", "", nil)
	if status != 200 || !strings.HasPrefix(ctype, "application/json") {
		t.Fatalf("GET /v1/openapi.json without a token: %d %s %s", status, ctype, body)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("..", "docs", "openapi.json")
	var pretty bytes.Buffer
	json.Indent(&pretty, body, "", "  ")
	// The version is the build's; the committed copy says "dev".
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./gateway -run OpenAPI -update)", err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(pretty.Bytes())) {
		t.Errorf("docs/openapi.json differs from the served document: the API changed; review and run go test ./gateway -run OpenAPI -update")
	}

	// Every documented operation is routed (not the catch-all 404), and a
	// route needing a token refuses a request without one.
	paths := doc["paths"].(map[string]any)
	var ops []string
	for p, item := range paths {
		for m, op := range item.(map[string]any) {
			ops = append(ops, strings.ToUpper(m)+" "+p)
			concrete := strings.NewReplacer("{id}", "nosuchjob", "{name}", "nosuchsite").Replace(p)
			st, _, b := call(t, srv, strings.ToUpper(m), concrete, "", nil)
			public := op.(map[string]any)["security"] != nil
			if !public && st != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %d %s, want 401", m, p, st, b)
			}
			if public && (st == http.StatusUnauthorized || st == http.StatusNotFound) {
				t.Errorf("%s %s (public) without a token: %d %s", m, p, st, b)
			}
		}
	}
	sort.Strings(ops)
	if len(ops) < 20 {
		t.Errorf("only %d operations documented: %v", len(ops), ops)
	}
	for _, public := range []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /v1/openapi.json"} {
		if !contains(ops, public) {
			t.Errorf("%s is not documented", public)
		}
	}
	// An undocumented route is not served.
	if st, _, _ := call(t, srv, "GET", "/v1/nosuchroute", "alice", nil); st != http.StatusNotFound {
		t.Errorf("GET /v1/nosuchroute: %d, want 404", st)
	}

	v := &validator{doc: doc}
	check := func(method, path, user string, body any, wantStatus int) []byte {
		t.Helper()
		st, _, b := call(t, srv, method, path, user, body)
		if st != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", method, path, st, b, wantStatus)
		}
		if err := v.response(method, path, st, b); err != nil {
			t.Errorf("%s %s: the response does not match the document: %v\n%s", method, path, err, b)
		}
		return b
	}
	// A job no site may run is recorded REJECTED with the reason.
	b := check("POST", "/v1/jobs", "alice", api.SubmitRequest{Script: "#!/bin/sh\n#SBATCH --nodes=2\nhostname\n", Project: "climate"}, 201)
	var j api.Job
	json.Unmarshal(b, &j)
	if j.State != api.StateRejected || !strings.Contains(j.Reason, "no site") || j.ScriptSHA256 == "" {
		t.Errorf("job without a site: %+v", j)
	}
	check("POST", "/v1/jobs", "alice", api.SubmitRequest{Script: "#!/bin/sh\nhostname\n", Project: "climate", DryRun: true}, 422)
	check("POST", "/v1/jobs", "alice", api.SubmitRequest{Script: "#!/bin/sh\n#SBATCH -M de-hpc\nhostname\n", Project: "climate"}, 400)
	check("GET", "/v1/jobs/"+j.ID, "alice", nil, 200)
	check("GET", "/v1/jobs/"+j.ID+"/explain", "alice", nil, 200)
	check("GET", "/v1/jobs", "alice", nil, 200)
	check("GET", "/v1/jobs/nosuchjob", "alice", nil, 404)
	check("GET", "/v1/sites", "alice", nil, 200)
	check("GET", "/v1/usage?project=climate", "alice", nil, 200)
	check("GET", "/v1/balance?project=climate", "alice", nil, 200)
	check("GET", "/v1/whoami", "admin", nil, 200)
	check("GET", "/v1/admin/projects", "admin", nil, 200)
	check("GET", "/v1/admin/audit", "admin", nil, 200)
	check("GET", "/v1/admin/audit?limit=0", "admin", nil, 400)
	check("GET", "/v1/health", "", nil, 200)
	check("GET", "/healthz", "", nil, 200)
	check("GET", "/readyz", "", nil, 503) // no site configured: not ready
	check("GET", "/v1/admin/projects", "alice", nil, 403)

	// A response that breaks the document is caught (the validator can fail).
	if err := v.response("GET", "/v1/jobs/x", 200, []byte(`{"id": 5}`)); err == nil {
		t.Error("the validator accepted a job whose id is a number")
	}
	if err := v.response("GET", "/v1/sites", 200, []byte(`[{"name": "x", "surprise": 1}]`)); err == nil {
		t.Error("the validator accepted a site with an undocumented field")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// validator checks JSON bodies against the document's schemas (the subset of
// JSON Schema the document uses: type, properties, required,
// additionalProperties, items, enum, oneOf, $ref).
type validator struct{ doc map[string]any }

// response validates a response body for a concrete path.
func (v *validator) response(method, path string, status int, body []byte) error {
	path, _, _ = strings.Cut(path, "?")
	for p, item := range v.doc["paths"].(map[string]any) {
		if !matchPath(p, path) {
			continue
		}
		op, ok := item.(map[string]any)[strings.ToLower(method)].(map[string]any)
		if !ok {
			continue
		}
		resps := op["responses"].(map[string]any)
		r, ok := resps[fmt.Sprint(status)].(map[string]any)
		if !ok {
			r, ok = resps["default"].(map[string]any)
		}
		if !ok {
			return fmt.Errorf("status %d is not documented", status)
		}
		content := r["content"].(map[string]any)
		js, ok := content["application/json"].(map[string]any)
		if !ok {
			return nil // text: nothing to validate
		}
		var val any
		if err := json.Unmarshal(body, &val); err != nil {
			return err
		}
		return v.validate(js["schema"].(map[string]any), val, "$")
	}
	return fmt.Errorf("%s %s is not documented", method, path)
}

func matchPath(pattern, path string) bool {
	a, b := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.HasPrefix(a[i], "{") && a[i] != b[i] {
			return false
		}
	}
	return true
}

func (v *validator) validate(s map[string]any, val any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		sub, ok := v.doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: unresolved %s", at, ref)
		}
		return v.validate(sub, val, at)
	}
	if one, ok := s["oneOf"].([]any); ok {
		var errs []string
		for _, o := range one {
			err := v.validate(o.(map[string]any), val, at)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("%s: matches none of oneOf: %s", at, strings.Join(errs, " / "))
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == val
		}
		if !found {
			return fmt.Errorf("%s: %v is not in the enum", at, val)
		}
	}
	switch s["type"] {
	case "null":
		if val != nil {
			return fmt.Errorf("%s: want null, got %v", at, val)
		}
	case "string":
		if _, ok := val.(string); !ok {
			return fmt.Errorf("%s: want a string, got %T", at, val)
		}
	case "boolean":
		if _, ok := val.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, val)
		}
	case "integer", "number":
		f, ok := val.(float64)
		if !ok {
			return fmt.Errorf("%s: want a number, got %T", at, val)
		}
		if s["type"] == "integer" && f != float64(int64(f)) {
			return fmt.Errorf("%s: want an integer, got %v", at, f)
		}
	case "array":
		arr, ok := val.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, val)
		}
		for i, e := range arr {
			if err := v.validate(s["items"].(map[string]any), e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "object":
		obj, ok := val.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", at, val)
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: required property %s missing", at, r)
			}
		}
		for k, e := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if ap, ok := s["additionalProperties"].(map[string]any); ok {
					ps = ap
				} else if s["additionalProperties"] == false {
					return fmt.Errorf("%s: property %s is not documented", at, k)
				} else {
					continue
				}
			}
			if err := v.validate(ps, e, at+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestMetricsScrapeSiteless scrapes /metrics without a token and finds the
// counters and gauges a rejected submission moves.
func TestMetricsScrapeSiteless(t *testing.T) {
	_, srv := siteless(t)
	before := scrape(t, srv)
	if before[`sta_gateway_build_info{version="dev"}`] != 1 {
		t.Errorf("build info: %v", before[`sta_gateway_build_info{version="dev"}`])
	}
	call(t, srv, "POST", "/v1/jobs", "alice", api.SubmitRequest{Script: "#!/bin/sh\nhostname\n", Project: "climate"})
	call(t, srv, "POST", "/v1/jobs", "alice", api.SubmitRequest{Script: "#!/bin/sh\nhostname\n", Project: "climate"})
	after := scrape(t, srv)
	if got := after[`sta_gateway_submissions_total{result="rejected",site=""}`]; got != 2 {
		t.Errorf("rejected submissions: %v, want 2", got)
	}
	if got := after[`sta_gateway_jobs{site="",state="REJECTED"}`]; got != 2 {
		t.Errorf("jobs REJECTED: %v, want 2", got)
	}
}

// scrape reads /metrics into "name{labels}" -> value.
func scrape(t *testing.T, srv *httptest.Server) map[string]float64 {
	t.Helper()
	st, ctype, b := call(t, srv, "GET", "/metrics", "", nil)
	if st != 200 || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("GET /metrics: %d %s", st, ctype)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var f float64
		fmt.Sscan(line[i+1:], &f)
		out[line[:i]] = f
	}
	return out
}
