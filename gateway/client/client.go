// Package client is the typed Go client of the gateway's HTTP API (package
// gateway/api): one method per route, errors rebuilt as *api.Error, and safe
// retries.
//
// Retries. A request is retried, with exponential backoff and while its
// context lasts, only when it may not have been acted upon: transport errors
// (connection refused or reset, timeouts) and 502, 503 and 504 responses.
// Other answers, errors included, are final. POST /v1/jobs carries an
// Idempotency-Key, random per logical request and the same on every retry, so
// a retried submission never submits twice (the gateway replays the first
// answer). Requests the gateway does not deduplicate (creating a project,
// granting an allocation) are retried only when they provably never reached
// it: the connection could not be made, or the gateway itself answered 503.
//
// Errors. An error answer of the gateway ({code, message, field}) is returned
// as an *api.Error, wrapped with the operation; a body without a code (a
// proxy's error page) gets the code of its status (api.CodeForStatus). When the
// gateway cannot be reached at all (after the retries), the error is an
// *UnreachableError, which matches ErrUnreachable with errors.Is.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/sta-federation/sta-gateway/gateway/api"
)

// ErrUnreachable is the sentinel of errors that say the gateway could not be
// reached: every attempt failed in transport, or a proxy in front of it
// answered 502, 503 or 504 without an API error body.
var ErrUnreachable = errors.New("gateway unreachable")

// UnreachableError says the gateway at URL could not be reached and why. It
// matches ErrUnreachable (errors.Is) and unwraps to the last transport error.
type UnreachableError struct {
	URL      string
	Attempts int
	Err      error // the last transport error, or nil for a proxy's status
	Status   int   // the proxy's status, when there was one
}

func (e *UnreachableError) Error() string {
	var why string
	switch {
	case e.Err != nil:
		why = e.Err.Error()
	case e.Status != 0:
		why = fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	default:
		why = "no answer"
	}
	return fmt.Sprintf("gateway %s unreachable after %d attempt(s): %s", e.URL, e.Attempts, why)
}

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// Unwrap returns the last transport error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Defaults of Options.
const (
	DefaultRetryMax       = 4
	DefaultRetryWaitMin   = 250 * time.Millisecond
	DefaultRetryWaitMax   = 2 * time.Second
	DefaultRequestTimeout = 30 * time.Second
)

// MaxAnswer is the largest answer body the client reads (64 MiB): an
// endpoint that sends more is refused rather than read into memory.
const MaxAnswer = 64 << 20

// Options configure a Client. The zero value of each field means its default.
type Options struct {
	// Token is sent as "Authorization: Bearer TOKEN" when not empty.
	Token string
	// ActAs names the user a service token acts for (X-STA-User).
	ActAs string
	// UserAgent, e.g. "stacli/1.2.3".
	UserAgent string
	// HTTPClient does the requests; its Timeout should be zero (each call
	// has its own, see RequestTimeout).
	HTTPClient *http.Client
	// RetryMax is the number of retries after the first attempt; negative
	// means none.
	RetryMax     int
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// RequestTimeout bounds one call, retries included (a long poll adds its
	// wait to it); negative means none beyond the caller's context.
	RequestTimeout time.Duration
}

// Client calls one gateway. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	opts    Options
	http    *http.Client
	retry   *retryablehttp.Client // transport errors, 502, 503, 504
	careful *retryablehttp.Client // only when the request never reached the gateway
}

// New returns a client of the gateway at baseURL ("http://127.0.0.1:8473").
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: gateway URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: gateway URL %q: want http://HOST:PORT or https://HOST:PORT", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: gateway URL %q: no query or fragment allowed", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if opts.RetryMax == 0 {
		opts.RetryMax = DefaultRetryMax
	} else if opts.RetryMax < 0 {
		opts.RetryMax = 0
	}
	if opts.RetryWaitMin <= 0 {
		opts.RetryWaitMin = DefaultRetryWaitMin
	}
	if opts.RetryWaitMax <= 0 {
		opts.RetryWaitMax = DefaultRetryWaitMax
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	c := &Client{base: u, opts: opts, http: hc}
	mk := func(check retryablehttp.CheckRetry) *retryablehttp.Client {
		return &retryablehttp.Client{
			HTTPClient:     hc,
			Logger:         nil, // the library would log to stderr
			RetryWaitMin:   opts.RetryWaitMin,
			RetryWaitMax:   opts.RetryWaitMax,
			RetryMax:       opts.RetryMax,
			CheckRetry:     check,
			Backoff:        retryablehttp.DefaultBackoff, // honours Retry-After on 503
			ErrorHandler:   retryablehttp.PassthroughErrorHandler,
			RequestLogHook: countAttempt,
		}
	}
	c.retry = mk(retryTransient)
	c.careful = mk(retryUnsent)
	return c, nil
}

// BaseURL returns the gateway's URL.
func (c *Client) BaseURL() string { return c.base.String() }

// retryTransient is the retry policy of requests that are safe to repeat.
func retryTransient(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return !permanentTransportError(err), nil
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

// retryUnsent is the retry policy of requests the gateway does not
// deduplicate: only when the request cannot have been acted upon.
func retryUnsent(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		var op *net.OpError
		return errors.As(err, &op) && op.Op == "dial", nil
	}
	// A 503 with an API error body is the gateway refusing before acting
	// (shutting down); a proxy's 503 is not known to be so.
	return resp.StatusCode == http.StatusServiceUnavailable &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), nil
}

// permanentTransportError says a transport error will not go away by
// retrying: TLS certificate problems, a bad URL scheme, too many redirects.
func permanentTransportError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	if errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr) {
		return true
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		return false
	}
	// net/http reports these two as plain errors.
	msg := ue.Err.Error()
	return strings.Contains(msg, "unsupported protocol scheme") || strings.Contains(msg, "stopped after")
}

// attemptsKey keys the attempt counter of one call in its request's context.
type attemptsKey struct{}

func countAttempt(_ retryablehttp.Logger, req *http.Request, _ int) {
	if n, ok := req.Context().Value(attemptsKey{}).(*int); ok {
		*n++
	}
}

// NewIdempotencyKey returns a random key for one logical request.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// call is one logical request.
type call struct {
	op      string // for errors: "submit job"
	method  string
	path    string // below /v1, escaped
	query   url.Values
	body    any
	out     any
	key     string        // Idempotency-Key
	careful bool          // not deduplicated by the gateway
	extra   time.Duration // long-poll wait added to the timeout
}

func (c *Client) do(parent context.Context, cl call) error {
	ctx := parent
	if c.opts.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, c.opts.RequestTimeout+cl.extra)
		defer cancel()
	}
	u := c.base.String() + api.Version + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body any
	if cl.body != nil {
		// Not HTML-escaped: a script's <, > and & stay one byte each, so a
		// script within api.MaxScriptBytes fits the gateway's body limit.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(cl.body); err != nil {
			return fmt.Errorf("%s: %w", cl.op, err)
		}
		if b.Len() > api.MaxBodyBytes {
			return fmt.Errorf("%s: the request is %d bytes, over the gateway's limit of %d", cl.op, b.Len(), api.MaxBodyBytes)
		}
		body = b.Bytes()
	}
	attempts := new(int)
	ctx = context.WithValue(ctx, attemptsKey{}, attempts)
	req, err := retryablehttp.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return fmt.Errorf("%s: %w", cl.op, err)
	}
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.opts.Token != "" {
		req.Header.Set(api.HeaderAuthorization, "Bearer "+c.opts.Token)
	}
	if c.opts.ActAs != "" {
		req.Header.Set(api.HeaderActAs, c.opts.ActAs)
	}
	if c.opts.UserAgent != "" {
		req.Header.Set("User-Agent", c.opts.UserAgent)
	}
	if cl.key != "" {
		req.Header.Set(api.HeaderIdempotencyKey, cl.key)
	}
	rc := c.retry
	if cl.careful {
		rc = c.careful
	}
	resp, err := rc.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return fmt.Errorf("%s: %w", cl.op, parent.Err())
		}
		// Our own deadline: the gateway did not answer in time.
		return fmt.Errorf("%s: %w", cl.op, &UnreachableError{URL: c.BaseURL(), Attempts: *attempts, Err: err})
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		body := &io.LimitedReader{R: resp.Body, N: MaxAnswer + 1}
		if cl.out == nil {
			_, _ = io.Copy(io.Discard, body)
			return nil
		}
		err := json.NewDecoder(body).Decode(cl.out)
		if body.N <= 0 {
			return fmt.Errorf("%s: the gateway's answer is over %d MiB", cl.op, MaxAnswer>>20)
		}
		if err != nil {
			return fmt.Errorf("%s: reading the gateway's answer: %w", cl.op, err)
		}
		return nil
	}
	apiErr, ok := readError(resp)
	if !ok {
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return fmt.Errorf("%s: %w", cl.op, &UnreachableError{URL: c.BaseURL(), Attempts: *attempts, Status: resp.StatusCode})
		}
	}
	return fmt.Errorf("%s: %w", cl.op, apiErr)
}

// readError rebuilds the *api.Error of an error response; ok is false when
// the body was not one (its code then comes from the status).
func readError(resp *http.Response) (*api.Error, bool) {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e api.Error
	if json.Unmarshal(b, &e) == nil && e.Code != "" {
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		return &e, true
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 || !isPrintable(msg) {
		msg = ""
	}
	text := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if msg != "" {
		text += ": " + msg
	}
	return &api.Error{Code: api.CodeForStatus(resp.StatusCode), Message: text}, false
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}
