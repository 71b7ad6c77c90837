package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// recorder is an http.Handler that answers with a scripted sequence of
// responses and records the requests it saw.
type recorder struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	answers  []func(w http.ResponseWriter, r *http.Request)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.requests)
	rec.requests = append(rec.requests, r)
	rec.bodies = append(rec.bodies, string(b))
	var a func(w http.ResponseWriter, r *http.Request)
	if n < len(rec.answers) {
		a = rec.answers[n]
	} else if len(rec.answers) > 0 {
		a = rec.answers[len(rec.answers)-1]
	}
	rec.mu.Unlock()
	if a == nil {
		http.Error(w, "no answer scripted", http.StatusTeapot)
		return
	}
	a(w, r)
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.requests)
}

func jsonAnswer(status int, v any) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
}

func textAnswer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// hangUp closes the connection without an answer: a transport error.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

func apiError(code api.Code, field, msg string) func(http.ResponseWriter, *http.Request) {
	return jsonAnswer(code.Status(), api.Error{Code: code, Field: field, Message: msg})
}

// MustClient returns a client of the handler's server with fast retries.
func MustClient(tb testing.TB, h http.Handler, opts client.Options) (*client.Client, *httptest.Server) {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	if opts.RetryWaitMin == 0 {
		opts.RetryWaitMin = time.Millisecond
		opts.RetryWaitMax = 5 * time.Millisecond
	}
	c, err := client.New(srv.URL, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return c, srv
}

// closedPort returns the address of a TCP port nothing listens on.
func closedPort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8473", "ftp://host", "http://", "http://h/?q=1", "::"} {
		if _, err := client.New(u, client.Options{}); err == nil {
			t.Errorf("New(%q) = nil error", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8473", "https://gw.example.org/", "http://h:1/prefix"} {
		if _, err := client.New(u, client.Options{}); err != nil {
			t.Errorf("New(%q): %v", u, err)
		}
	}
}

func TestSubmitIdempotencyKeyReusedAcrossRetries(t *testing.T) {
	job := api.Job{ID: "j-1", State: api.StatePending, SiteJobID: "1234"}
	rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){
		apiError(api.CodeUnavailable, "", "shutting down"),
		hangUp,
		textAnswer(http.StatusBadGateway, "<html>bad gateway</html>"),
		textAnswer(http.StatusGatewayTimeout, "timeout"),
		jsonAnswer(http.StatusCreated, job),
	}}
	c, _ := MustClient(t, rec, client.Options{Token: "tok", RetryMax: 5})
	got, err := c.Submit(t.Context(), api.SubmitRequest{Script: "#!/bin/sh\n", Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "j-1" || got.SiteJobID != "1234" {
		t.Errorf("job = %+v", got)
	}
	if rec.count() != 5 {
		t.Fatalf("%d requests, want 5", rec.count())
	}
	key := rec.requests[0].Header.Get(api.HeaderIdempotencyKey)
	if len(key) < 32 {
		t.Fatalf("Idempotency-Key %q too short", key)
	}
	for i, r := range rec.requests {
		if k := r.Header.Get(api.HeaderIdempotencyKey); k != key {
			t.Errorf("attempt %d: key %q, want %q", i, k, key)
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/jobs" {
			t.Errorf("attempt %d: %s %s", i, r.Method, r.URL.Path)
		}
		if a := r.Header.Get(api.HeaderAuthorization); a != "Bearer tok" {
			t.Errorf("attempt %d: Authorization %q", i, a)
		}
		if rec.bodies[i] != rec.bodies[0] || !strings.Contains(rec.bodies[i], `"project":"p"`) {
			t.Errorf("attempt %d: body %s", i, rec.bodies[i])
		}
	}

	// A second logical request gets a new key.
	if _, err := c.Submit(t.Context(), api.SubmitRequest{Script: "#!/bin/sh\n", Project: "p"}); err != nil {
		t.Fatal(err)
	}
	if k := rec.requests[5].Header.Get(api.HeaderIdempotencyKey); k == key || k == "" {
		t.Errorf("second submission key %q (first %q)", k, key)
	}
}

func TestSubmitWithKey(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){jsonAnswer(200, api.Job{ID: "j-9"})}}
	c, _ := MustClient(t, rec, client.Options{})
	if _, err := c.SubmitWithKey(t.Context(), "my-key-1", api.SubmitRequest{Project: "p"}); err != nil {
		t.Fatal(err)
	}
	if k := rec.requests[0].Header.Get(api.HeaderIdempotencyKey); k != "my-key-1" {
		t.Errorf("key %q", k)
	}
}

func TestNoRetryOnFinalAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		code   api.Code
		field  string
		msg    string
	}{
		{"invalid with field", apiError(api.CodeInvalid, "nodes", "must be positive"), api.CodeInvalid, "nodes", "must be positive"},
		{"unauthenticated", apiError(api.CodeUnauthenticated, "", "bad token"), api.CodeUnauthenticated, "", "bad token"},
		{"forbidden", apiError(api.CodeForbidden, "", "not a member"), api.CodeForbidden, "", "not a member"},
		{"not found", apiError(api.CodeNotFound, "", "no job j-7"), api.CodeNotFound, "", "no job j-7"},
		{"conflict", apiError(api.CodeConflict, "", "key reused"), api.CodeConflict, "", "key reused"},
		{"no site", apiError(api.CodeNoSite, "", "no site"), api.CodeNoSite, "", "no site"},
		{"internal 500", apiError(api.CodeInternal, "", "bug"), api.CodeInternal, "", "bug"},
		{"proxy 404 page", textAnswer(404, "<html>not here</html>"), api.CodeNotFound, "", "404 Not Found: <html>not here</html>"},
		{"bare 401", textAnswer(401, ""), api.CodeUnauthenticated, "", "401 Unauthorized"},
		{"bare 500", textAnswer(500, "oops"), api.CodeInternal, "", "500 Internal Server Error: oops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){tt.answer}}
			c, _ := MustClient(t, rec, client.Options{})
			_, err := c.Job(t.Context(), "j-7")
			var e *api.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *api.Error", err, err)
			}
			if e.Code != tt.code || e.Field != tt.field || e.Message != tt.msg {
				t.Errorf("got %+v, want code %s field %q message %q", *e, tt.code, tt.field, tt.msg)
			}
			if api.ErrorCode(err) != tt.code {
				t.Errorf("api.ErrorCode = %s", api.ErrorCode(err))
			}
			if errors.Is(err, client.ErrUnreachable) {
				t.Error("an answer of the gateway matched ErrUnreachable")
			}
			if !strings.HasPrefix(err.Error(), "get job j-7: ") {
				t.Errorf("error %q does not name the operation", err)
			}
			if rec.count() != 1 {
				t.Errorf("%d attempts, want 1", rec.count())
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Run("closed port", func(t *testing.T) {
		c, err := client.New("http://"+closedPort(t), client.Options{RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Sites(t.Context())
		if !errors.Is(err, client.ErrUnreachable) {
			t.Fatalf("err = %v, want ErrUnreachable", err)
		}
		var ue *client.UnreachableError
		if !errors.As(err, &ue) || ue.Attempts != 3 {
			t.Errorf("UnreachableError = %+v, want 3 attempts", ue)
		}
		var op *net.OpError
		if !errors.As(err, &op) {
			t.Errorf("the transport error is not in the chain: %v", err)
		}
	})
	t.Run("proxy 502 after retries", func(t *testing.T) {
		rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){textAnswer(502, "bad gateway")}}
		c, _ := MustClient(t, rec, client.Options{RetryMax: 3})
		_, err := c.Sites(t.Context())
		if !errors.Is(err, client.ErrUnreachable) {
			t.Fatalf("err = %v, want ErrUnreachable", err)
		}
		if rec.count() != 4 {
			t.Errorf("%d attempts, want 4", rec.count())
		}
	})
	t.Run("gateway's own 503 stays an api.Error", func(t *testing.T) {
		rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){apiError(api.CodeUnavailable, "", "site de-hpc unreachable")}}
		c, _ := MustClient(t, rec, client.Options{RetryMax: 1})
		_, err := c.Sites(t.Context())
		if api.ErrorCode(err) != api.CodeUnavailable || errors.Is(err, client.ErrUnreachable) {
			t.Fatalf("err = %v", err)
		}
		if rec.count() != 2 {
			t.Errorf("%d attempts, want 2", rec.count())
		}
	})
	t.Run("no answer in time", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}}}
		c, _ := MustClient(t, rec, client.Options{RetryMax: -1, RequestTimeout: 50 * time.Millisecond})
		_, err := c.Sites(t.Context())
		if !errors.Is(err, client.ErrUnreachable) {
			t.Fatalf("err = %v, want ErrUnreachable", err)
		}
	})
}

func TestContextStopsRetries(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){textAnswer(503, "busy")}}
	c, _ := MustClient(t, rec, client.Options{RetryMax: 100, RetryWaitMin: 20 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Sites(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	if errors.Is(err, client.ErrUnreachable) {
		t.Error("a cancelled call reported the gateway unreachable")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v after the context ended", d)
	}
	if n := rec.count(); n >= 100 {
		t.Errorf("%d attempts: the context did not stop the retries", n)
	}
}

func TestNonIdempotentPostsRetriedOnlyWhenUnsent(t *testing.T) {
	t.Run("connection lost after sending: no retry", func(t *testing.T) {
		rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){hangUp}}
		c, _ := MustClient(t, rec, client.Options{RetryMax: 3})
		_, err := c.Grant(t.Context(), api.Grant{Project: "p", Site: "s", CoreHours: 10})
		if !errors.Is(err, client.ErrUnreachable) {
			t.Fatalf("err = %v", err)
		}
		if rec.count() != 1 {
			t.Errorf("grant sent %d times, want 1", rec.count())
		}
	})
	t.Run("proxy 502: no retry", func(t *testing.T) {
		rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){textAnswer(502, "")}}
		c, _ := MustClient(t, rec, client.Options{RetryMax: 3})
		if _, err := c.CreateProject(t.Context(), api.Project{Name: "p"}); !errors.Is(err, client.ErrUnreachable) {
			t.Fatalf("err = %v", err)
		}
		if rec.count() != 1 {
			t.Errorf("create sent %d times, want 1", rec.count())
		}
	})
	t.Run("gateway 503 refusal: retried", func(t *testing.T) {
		rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){
			apiError(api.CodeUnavailable, "", "shutting down"),
			jsonAnswer(200, api.Balance{Project: "p", Site: "s", AllocationID: "a-1"}),
		}}
		c, _ := MustClient(t, rec, client.Options{RetryMax: 3})
		b, err := c.Grant(t.Context(), api.Grant{Project: "p", Site: "s", CoreHours: 10})
		if err != nil || b.AllocationID != "a-1" {
			t.Fatalf("b, err = %+v, %v", b, err)
		}
	})
	t.Run("connection refused: retried", func(t *testing.T) {
		c, err := client.New("http://"+closedPort(t), client.Options{RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Grant(t.Context(), api.Grant{Project: "p"})
		var ue *client.UnreachableError
		if !errors.As(err, &ue) || ue.Attempts != 3 {
			t.Fatalf("err = %v, want 3 attempts", err)
		}
	})
}

func TestRequests(t *testing.T) {
	var got *http.Request
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/output"):
			_ = json.NewEncoder(w).Encode(api.Output{Stream: "stdout", Data: "hi\n", Next: 3})
		case strings.HasSuffix(r.URL.Path, "/explain"):
			_ = json.NewEncoder(w).Encode(api.Decision{Site: "s"})
		case r.URL.Path == "/v1/jobs" || r.URL.Path == "/v1/sites" || r.URL.Path == "/v1/usage" ||
			r.URL.Path == "/v1/balance" || r.URL.Path == "/v1/admin/projects" && r.Method == "GET":
			_, _ = io.WriteString(w, "null")
		default:
			_, _ = io.WriteString(w, "{}")
		}
	})
	c, _ := MustClient(t, h, client.Options{Token: "t0k", ActAs: "alice", UserAgent: "stacli/test"})
	ctx := t.Context()
	tests := []struct {
		name   string
		call   func() error
		method string
		path   string
		query  string
	}{
		{"job", func() error { _, err := c.Job(ctx, "a/b c"); return err }, "GET", "/v1/jobs/a%2Fb%20c", ""},
		{"jobs", func() error {
			js, err := c.Jobs(ctx, client.JobFilter{Project: "climate", State: api.StateRunning, Site: "de-hpc", User: "bob", Limit: 5})
			if err == nil && js == nil {
				t.Error("Jobs returned a nil list for null")
			}
			return err
		}, "GET", "/v1/jobs", "limit=5&project=climate&site=de-hpc&state=RUNNING&user=bob"},
		{"jobs all", func() error { _, err := c.Jobs(ctx, client.JobFilter{}); return err }, "GET", "/v1/jobs", ""},
		{"explain", func() error { _, err := c.Explain(ctx, "j-1"); return err }, "GET", "/v1/jobs/j-1/explain", ""},
		{"cancel", func() error { _, err := c.Cancel(ctx, "j-1"); return err }, "POST", "/v1/jobs/j-1/cancel", ""},
		{"output", func() error {
			o, err := c.Output(ctx, "j-1", client.Stderr, 42, 1500*time.Millisecond)
			if err == nil && o.Data != "hi\n" {
				t.Errorf("output %+v", o)
			}
			return err
		}, "GET", "/v1/jobs/j-1/output", "offset=42&stream=stderr&wait=2"},
		{"sites", func() error { _, err := c.Sites(ctx); return err }, "GET", "/v1/sites", ""},
		{"site", func() error { _, err := c.Site(ctx, "ca-hydro"); return err }, "GET", "/v1/sites/ca-hydro", ""},
		{"usage", func() error {
			_, err := c.Usage(ctx, client.UsageFilter{Project: "p", By: "month", Since: "2026-01-01", Until: "2026-02-01"})
			return err
		}, "GET", "/v1/usage", "by=month&project=p&since=2026-01-01&until=2026-02-01"},
		{"balance", func() error { _, err := c.Balance(ctx, "p"); return err }, "GET", "/v1/balance", "project=p"},
		{"whoami", func() error { _, err := c.WhoAmI(ctx); return err }, "GET", "/v1/whoami", ""},
		{"health", func() error { _, err := c.Health(ctx); return err }, "GET", "/v1/health", ""},
		{"create project", func() error { _, err := c.CreateProject(ctx, api.Project{Name: "p"}); return err }, "POST", "/v1/admin/projects", ""},
		{"projects", func() error { _, err := c.Projects(ctx); return err }, "GET", "/v1/admin/projects", ""},
		{"grant", func() error { _, err := c.Grant(ctx, api.Grant{Project: "p"}); return err }, "POST", "/v1/admin/allocations", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			if got.Method != tt.method || got.URL.EscapedPath() != tt.path || got.URL.RawQuery != tt.query {
				t.Errorf("got %s %s?%s, want %s %s?%s", got.Method, got.URL.EscapedPath(), got.URL.RawQuery, tt.method, tt.path, tt.query)
			}
			if got.Header.Get("Authorization") != "Bearer t0k" || got.Header.Get(api.HeaderActAs) != "alice" ||
				got.Header.Get("User-Agent") != "stacli/test" {
				t.Errorf("headers %v", got.Header)
			}
		})
	}
}

func TestNoTokenNoAuthorizationHeader(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){jsonAnswer(200, api.Health{Status: "ok"})}}
	c, _ := MustClient(t, rec, client.Options{})
	if _, err := c.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.requests[0].Header["Authorization"]; ok {
		t.Error("Authorization sent without a token")
	}
}

func TestLongPollTimeoutIncludesWait(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond) // holds the long poll
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(api.Output{Stream: "stdout", EOF: true})
	})
	c, _ := MustClient(t, h, client.Options{RequestTimeout: 100 * time.Millisecond, RetryMax: -1})
	o, err := c.Output(t.Context(), "j", client.Stdout, 0, time.Second)
	if err != nil || !o.EOF {
		t.Fatalf("o, err = %+v, %v", o, err)
	}
}

func TestBadJSONAnswer(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter, *http.Request){textAnswer(200, "not json")}}
	c, _ := MustClient(t, rec, client.Options{})
	_, err := c.Job(t.Context(), "j")
	if err == nil || errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("err = %v", err)
	}
}

func TestNewIdempotencyKeyUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k := client.NewIdempotencyKey()
		if seen[k] || len(k) != 32 {
			t.Fatalf("key %q repeated or malformed", k)
		}
		seen[k] = true
	}
}
