package slurm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

// Command is one remote program run: an argument vector, never a shell line.
type Command struct {
	// Args is the program and its arguments. Each is quoted for the remote shell;
	// NUL, newlines and carriage returns are refused.
	Args []string
	// Stdin is sent to the program as data (a batch script), byte for byte.
	Stdin []byte
	// Timeout bounds the program on the site (coreutils timeout, exit code 124).
	// Zero: the context's deadline, if any.
	Timeout time.Duration
}

// Result of a command that ran to its end.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int    // -1 when killed by a signal
	Signal         string // the signal that killed it, if any
	Executor       string // "session" or "shell"
}

// TimedOut says the remote timeout stopped the program (TERM, or KILL after it).
func (r *Result) TimedOut() bool { return r.ExitCode == 124 || r.Signal == "KILL" }

// RunError is a command that did not run to a known end.
type RunError struct {
	Site string
	Cmd  string // the program name
	// Sent says the command may have started on the site: its effect, if it has
	// one, is unknown (ambiguous), not absent.
	Sent bool
	Err  error
}

func (e *RunError) Error() string {
	state := "not started"
	if e.Sent {
		state = "outcome unknown"
	}
	return fmt.Sprintf("site %s: %s (%s): %v", e.Site, e.Cmd, state, e.Err)
}

func (e *RunError) Unwrap() error { return e.Err }

// IsAmbiguous reports whether err is a command that may have run on the site.
func IsAmbiguous(err error) bool {
	var re *RunError
	return errors.As(err, &re) && re.Sent
}

// Client runs commands at one site as one login over one SSH connection.
type Client struct {
	cfg Config
	sem chan struct{} // session slots, below sshd's MaxSessions

	mu      sync.Mutex
	cur     *conn
	dialing chan struct{} // closed when the dial in flight ends
	dialErr error
	closed  bool

	shells  chan *shell   // idle persistent shells
	nshells atomic.Int32  // shells running or starting, at most cfg.Shells
	freed   chan struct{} // closed (and replaced) when a shell slot comes free; under mu
	noShell atomic.Bool   // the site forces a command: no persistent shells
	forced  atomic.Bool   // send plain quoted words (the site's wrapper runs them)
	dials   atomic.Int64
}

// NewClient checks cfg and returns a Client. It dials lazily, at the first command.
func NewClient(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:    cfg,
		sem:    make(chan struct{}, cfg.MaxSessions-1),
		shells: make(chan *shell, cfg.Shells),
		freed:  make(chan struct{}),
	}
	c.forced.Store(cfg.Forced)
	c.noShell.Store(cfg.Forced)
	return c, nil
}

// Site is the name of the site.
func (c *Client) Site() string { return c.cfg.Site }

// Dials counts the connections opened so far (for tests and metrics).
func (c *Client) Dials() int64 { return c.dials.Load() }

// Close closes the connection and its shells. Commands in flight fail.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cur := c.cur
	c.mu.Unlock()
	if cur != nil {
		cur.kill(ErrClosed)
	}
	for {
		select {
		case sh := <-c.shells:
			sh.close()
		default:
			return nil
		}
	}
}

// Connect opens the connection now (it is otherwise opened by the first command).
func (c *Client) Connect(ctx context.Context) error {
	_, err := c.conn(ctx)
	return err
}

// conn returns the live connection, dialling it if there is none. One dial at a
// time; concurrent callers wait for it.
func (c *Client) conn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if c.cur != nil && c.cur.alive() {
			cur := c.cur
			c.mu.Unlock()
			return cur, nil
		}
		if c.dialing != nil {
			wait := c.dialing
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		c.dialing = done
		c.mu.Unlock()

		client, err := dial(ctx, &c.cfg)
		c.mu.Lock()
		c.dialing = nil
		close(done)
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		if c.closed {
			// Closed while dialling: this connection would outlive the Client.
			c.mu.Unlock()
			client.Close()
			return nil, ErrClosed
		}
		c.dials.Add(1)
		cn := &conn{client: client, dead: make(chan struct{})}
		c.cur = cn
		c.mu.Unlock()
		go func() {
			err := client.Wait()
			if err == nil {
				err = io.EOF
			}
			cn.kill(fmt.Errorf("connection lost: %w", err))
		}()
		go c.keepalive(cn)
		c.cfg.Logger.Debug("ssh connected", "site", c.cfg.Site, "login", c.cfg.User, "addr", c.cfg.Addr)
		return cn, nil
	}
}

// keepalive sends keepalive@openssh.com requests; a missed reply kills the
// connection so that the next command redials.
func (c *Client) keepalive(cn *conn) {
	t := time.NewTicker(c.cfg.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-cn.dead:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := cn.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				cn.kill(fmt.Errorf("keepalive: %w", err))
				return
			}
		case <-time.After(c.cfg.KeepaliveTimeout):
			c.cfg.Logger.Warn("ssh keepalive unanswered", "site", c.cfg.Site, "login", c.cfg.User)
			cn.kill(errors.New("keepalive unanswered"))
			return
		case <-cn.dead:
			return
		}
	}
}

// Drop closes the current connection (a later command redials). For a caller that
// learnt the connection is bad.
func (c *Client) Drop() {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur != nil {
		cur.kill(errors.New("dropped by caller"))
	}
}

func (c *Client) acquire(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) release() { <-c.sem }

// Run runs cmd on the site. A command that ran to its end returns a Result whatever
// its exit code; an error means it did not, and a *RunError says whether it may have
// started (IsAmbiguous). Nothing that may have started is retried here.
func (c *Client) Run(ctx context.Context, cmd Command) (*Result, error) {
	if c.cfg.Observe == nil || len(cmd.Args) == 0 {
		return c.run(ctx, cmd)
	}
	start := time.Now()
	res, err := c.run(ctx, cmd)
	c.cfg.Observe(cmd.Args[0], time.Since(start), err)
	return res, err
}

func (c *Client) run(ctx context.Context, cmd Command) (*Result, error) {
	if len(cmd.Args) == 0 {
		return nil, errors.New("slurm: empty command")
	}
	for i, a := range cmd.Args {
		if err := checkArg(a); err != nil {
			return nil, fmt.Errorf("slurm: %s: argument %d: %w", cmd.Args[0], i, err)
		}
	}
	if cmd.Timeout <= 0 {
		if dl, ok := ctx.Deadline(); ok {
			cmd.Timeout = time.Until(dl)
		}
	}
	if cmd.Timeout > 0 {
		// The remote timeout bounds the command once it runs; this bounds
		// everything before and around it (a login shell stuck in its rc
		// files, a connection that stops answering) on this side.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmd.Timeout+localGrace)
		defer cancel()
	}
	if c.cfg.Shells > 0 && !c.noShell.Load() {
		res, err := c.runShell(ctx, cmd)
		if !errors.Is(err, errNoShell) {
			return res, err
		}
	}
	return c.runSession(ctx, cmd)
}

// localGrace is how much longer than a command's remote timeout this side
// waits for its answer: timeout's --kill-after, and the way back.
const localGrace = 5 * time.Second

// argv returns the program and its arguments with the remote timeout in front.
func argv(cmd Command) []string {
	if cmd.Timeout <= 0 {
		return cmd.Args
	}
	secs := int64((cmd.Timeout + time.Second - 1) / time.Second)
	return append([]string{"timeout", "--kill-after=2", strconv.FormatInt(secs, 10)}, cmd.Args...)
}

// prelude clears what must not steer Slurm commands (the input variables of
// sbatch, squeue, sacct, scontrol, scancel and sinfo: SBATCH_*, SQUEUE_*, ...,
// which a user's profile may set to filter or redirect output; SLURM_CLUSTERS)
// and makes times epoch seconds. A constant: no user data.
const prelude = `for v in $(env | sed -n "s/^\(S\(BATCH\|QUEUE\|ACCT\|CONTROL\|CANCEL\|INFO\)_[A-Za-z0-9_]*\)=.*/\1/p"); do unset "$v"; done; unset SLURM_CLUSTERS; SLURM_TIME_FORMAT=%s; export SLURM_TIME_FORMAT`

// sessionLine is the line the login shell runs for one command: a POSIX sh runs the
// prelude and then execs the quoted arguments. It is one line of loginQuote'd
// words, which sh, bash, zsh, csh and fish all read alike.
func sessionLine(args []string) string {
	var b strings.Builder
	b.WriteString("exec /bin/sh -c ")
	b.WriteString(loginQuote(prelude + `; exec "$@"`))
	b.WriteString(" sh")
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(loginQuote(a))
	}
	return b.String()
}

// bareLine is the command line for a site whose key forces a command: the
// arguments as loginQuote'd words, nothing else.
func bareLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = loginQuote(a)
	}
	return strings.Join(q, " ")
}

// loginQuote quotes a word for the user's login shell, whichever it is (sh,
// bash, zsh, csh, fish): in single quotes, byte for byte, except the quote
// and the backslash (which fish reads as escapes even there), each written
// outside the quotes, escaped with a backslash.
func loginQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString(`'\''`)
		case '\\':
			b.WriteString(`'\\'`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func (c *Client) runSession(ctx context.Context, cmd Command) (*Result, error) {
	name := cmd.Args[0]
	fail := func(sent bool, err error) (*Result, error) {
		return nil, &RunError{Site: c.cfg.Site, Cmd: name, Sent: sent, Err: err}
	}
	if err := c.acquire(ctx); err != nil {
		return fail(false, err)
	}
	defer c.release()
	sess, _, err := c.newSession(ctx)
	if err != nil {
		return fail(false, err)
	}
	defer sess.Close()
	stdout := &limitedBuffer{max: c.cfg.MaxOutput}
	stderr := &limitedBuffer{max: c.cfg.MaxOutput}
	sess.Stdout, sess.Stderr = stdout, stderr
	sess.Stdin = bytes.NewReader(cmd.Stdin)
	line := sessionLine(argv(cmd))
	if c.forced.Load() {
		line = bareLine(cmd.Args)
	}
	if err := sess.Start(line); err != nil {
		return fail(true, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		return fail(true, ctx.Err())
	}
	res := &Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Executor: "session"}
	if stdout.over || stderr.over {
		return fail(true, fmt.Errorf("output over %d bytes", c.cfg.MaxOutput))
	}
	var ee *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitStatus()
		res.fromShellStatus()
		if ee.Signal() != "" {
			res.ExitCode, res.Signal = -1, ee.Signal()
		}
	default:
		// ExitMissingError, connection lost: the command may have run.
		return fail(true, err)
	}
	return res, nil
}

type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// newSession opens a session, which runs nothing yet. sshd may refuse it for a
// moment ("no more sessions": it frees a closed session's slot only once it has
// reaped the child): that is waited out with a backoff, on the same connection. A
// connection that fails otherwise is dropped and redialled once.
func (c *Client) newSession(ctx context.Context) (*ssh.Session, *conn, error) {
	backoff := 5 * time.Millisecond
	redialled := false
	for {
		cn, err := c.conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		sess, err := cn.client.NewSession()
		if err == nil {
			return sess, cn, nil
		}
		var oce *ssh.OpenChannelError
		switch {
		case errors.As(err, &oce) && cn.alive():
			// Refused, not broken: wait for a slot.
			if backoff > 2*time.Second {
				return nil, nil, fmt.Errorf("open session: %w", err)
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil, nil, fmt.Errorf("open session: %w (%w)", err, ctx.Err())
			}
			backoff *= 2
		case redialled || ctx.Err() != nil:
			return nil, nil, fmt.Errorf("open session: %w", err)
		default:
			cn.kill(fmt.Errorf("open session: %w", err))
			redialled = true
		}
	}
}

// errNoShell: no persistent shell can be had here; use a session.
var errNoShell = errors.New("persistent shell unavailable")

// shell is a long-lived POSIX shell on one session, fed commands on its stdin.
// Each command's output ends with a marker line that carries its exit code; the
// marker is random per shell, so no output can forge it.
type shell struct {
	cn     *conn
	sess   *ssh.Session
	stdin  io.WriteCloser
	stdout *markReader
	stderr *markReader
	marker string
}

func (s *shell) close() {
	s.sess.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// getShell returns an idle shell, starts one if fewer than Shells run, or waits
// for a shell to come back or for a slot to come free.
func (c *Client) getShell(ctx context.Context) (*shell, error) {
	for {
		// Taken before the slot count is read, so that a slot freed after
		// that read still wakes this waiter.
		c.mu.Lock()
		freed := c.freed
		c.mu.Unlock()
		select {
		case sh := <-c.shells:
			if sh.cn.alive() {
				return sh, nil
			}
			c.retire(sh)
			continue
		default:
		}
		if n := c.nshells.Load(); n < int32(c.cfg.Shells) && c.nshells.CompareAndSwap(n, n+1) {
			sh, err := c.startShell(ctx)
			if err != nil {
				c.slotFreed()
				return nil, err
			}
			return sh, nil
		}
		select {
		case sh := <-c.shells:
			if sh.cn.alive() {
				return sh, nil
			}
			c.retire(sh)
		case <-freed: // a failed shell was retired: a new one may start
		case <-ctx.Done():
			return nil, &RunError{Site: c.cfg.Site, Cmd: "shell", Err: ctx.Err()}
		}
	}
}

// retire closes a shell that cannot serve again (its connection went, or it
// is in an unknown place in its stream) and frees its session and its slot.
func (c *Client) retire(sh *shell) {
	sh.close()
	c.release()
	c.slotFreed()
}

// slotFreed gives back a shell slot and wakes the waiters of getShell.
func (c *Client) slotFreed() {
	c.nshells.Add(-1)
	c.mu.Lock()
	close(c.freed)
	c.freed = make(chan struct{})
	c.mu.Unlock()
}

// startShell opens a session for a persistent shell, holding one session slot for
// as long as the shell lives. A site whose sshd forces a command never answers the
// probe: the Client then stops trying shells (errNoShell).
func (c *Client) startShell(ctx context.Context) (*shell, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, &RunError{Site: c.cfg.Site, Cmd: "shell", Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			c.release()
		}
	}()
	sess, cn, err := c.newSession(ctx)
	if err != nil {
		return nil, &RunError{Site: c.cfg.Site, Cmd: "shell", Err: err}
	}
	stdin, err1 := sess.StdinPipe()
	stdout, err2 := sess.StdoutPipe()
	stderr, err3 := sess.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		sess.Close()
		return nil, &RunError{Site: c.cfg.Site, Cmd: "shell", Err: err}
	}
	sh := &shell{cn: cn, sess: sess, stdin: stdin, marker: "STA-END-" + randomHex(16),
		stdout: newMarkReader(stdout, c.cfg.MaxOutput), stderr: newMarkReader(stderr, c.cfg.MaxOutput)}
	if err := sess.Start("exec /bin/sh -c " + loginQuote(prelude+"; exec /bin/sh -s")); err != nil {
		sess.Close()
		return nil, &RunError{Site: c.cfg.Site, Cmd: "shell", Err: err}
	}
	// Probe: the shell must echo the marker back on both streams.
	pctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	if _, _, _, err := sh.exchange(pctx, "true </dev/null\n"); err != nil {
		sess.Close()
		if ctx.Err() != nil {
			return nil, &RunError{Site: c.cfg.Site, Cmd: "shell", Err: ctx.Err()}
		}
		if !cn.alive() {
			// The connection went, not the shell: an ordinary failure, the
			// next command redials (and probes again).
			return nil, &RunError{Site: c.cfg.Site, Cmd: "shell", Err: fmt.Errorf("%w (%v)", err, cn.err)}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// The session ended instead of running a shell, on a live
			// connection: a forced command ran (and refused or ignored the
			// shell). Send plain words from now on.
			c.forced.Store(true)
		}
		c.noShell.Store(true)
		c.cfg.Logger.Warn("persistent shell unavailable; one command per session",
			"site", c.cfg.Site, "login", c.cfg.User, "err", err.Error())
		return nil, errNoShell
	}
	ok = true
	return sh, nil
}

// exchange writes a command line to the shell, then the marker commands, and reads
// both streams up to their markers. Returns stdout, stderr and the exit code.
func (sh *shell) exchange(ctx context.Context, line string) (stdout, stderr []byte, code int, err error) {
	script := line + "printf '\\n%s %d\\n' " + sh.marker + " $?\nprintf '\\n%s\\n' " + sh.marker + " >&2\n"
	type out struct {
		b    []byte
		code int
		err  error
	}
	oc := make(chan out, 1)
	ec := make(chan out, 1)
	go func() {
		b, code, err := sh.stdout.until("\n"+sh.marker+" ", true)
		oc <- out{b, code, err}
	}()
	go func() {
		b, _, err := sh.stderr.until("\n"+sh.marker+"\n", false)
		ec <- out{b, 0, err}
	}()
	werr := make(chan error, 1)
	go func() {
		_, err := io.WriteString(sh.stdin, script)
		werr <- err
	}()
	var o, e out
	for got := 0; got < 2; {
		select {
		case o = <-oc:
			got++
		case e = <-ec:
			got++
		case <-ctx.Done():
			sh.sess.Close()
			return nil, nil, 0, ctx.Err()
		}
	}
	if err := errors.Join(o.err, e.err); err != nil {
		return nil, nil, 0, err
	}
	if err := <-werr; err != nil {
		return nil, nil, 0, err
	}
	return o.b, e.b, o.code, nil
}

// shellLine is the command as the persistent shell reads it: quoted arguments and
// stdin as a here-document under a random delimiter (raw when it is plain text that
// ends with a newline, else base64 decoded on the site, byte for byte).
func shellLine(cmd Command) string {
	var b strings.Builder
	quoted := make([]string, 0, len(cmd.Args)+3)
	for _, a := range argv(cmd) {
		quoted = append(quoted, sbatch.Quote(a))
	}
	words := strings.Join(quoted, " ")
	if len(cmd.Stdin) == 0 {
		b.WriteString(words)
		b.WriteString(" </dev/null\n")
		return b.String()
	}
	delim := "STA-EOF-" + randomHex(12)
	raw := bytes.HasSuffix(cmd.Stdin, []byte("\n")) && bytes.IndexByte(cmd.Stdin, 0) < 0 &&
		!bytes.Contains(cmd.Stdin, []byte(delim))
	if raw {
		b.WriteString(words)
		b.WriteString(" <<'" + delim + "'\n")
		b.Write(cmd.Stdin)
	} else {
		b.WriteString("base64 -d <<'" + delim + "' | " + words + "\n")
		enc := base64.StdEncoding.EncodeToString(cmd.Stdin)
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteByte('\n')
			enc = enc[76:]
		}
		b.WriteString(enc)
		b.WriteByte('\n')
	}
	b.WriteString(delim)
	b.WriteByte('\n')
	return b.String()
}

func (c *Client) runShell(ctx context.Context, cmd Command) (*Result, error) {
	sh, err := c.getShell(ctx)
	if err != nil {
		return nil, err
	}
	stdout, stderr, code, err := sh.exchange(ctx, shellLine(cmd))
	if err != nil {
		// The shell is in an unknown place in its stream: retire it.
		c.retire(sh)
		if !sh.cn.alive() {
			err = fmt.Errorf("%w (%v)", err, sh.cn.err)
		}
		return nil, &RunError{Site: c.cfg.Site, Cmd: cmd.Args[0], Sent: true, Err: err}
	}
	c.shells <- sh
	res := &Result{Stdout: stdout, Stderr: stderr, ExitCode: code, Executor: "shell"}
	res.fromShellStatus()
	return res, nil
}

// fromShellStatus turns a shell's 128+N status (a program killed by signal N) into
// ExitCode -1 and the signal's name.
func (r *Result) fromShellStatus() {
	if r.ExitCode > 128 && r.ExitCode <= 128+64 {
		r.Signal = signalName(r.ExitCode - 128)
		r.ExitCode = -1
	}
}

func signalName(n int) string {
	names := map[int]string{1: "HUP", 2: "INT", 3: "QUIT", 6: "ABRT", 9: "KILL", 11: "SEGV", 13: "PIPE", 14: "ALRM", 15: "TERM"}
	if s, ok := names[n]; ok {
		return s
	}
	return "SIG" + strconv.Itoa(n)
}

// markReader reads a stream in which each command's output ends with a marker.
type markReader struct {
	r   io.Reader
	buf []byte
	max int
}

func newMarkReader(r io.Reader, max int) *markReader {
	return &markReader{r: r, max: max}
}

// until returns what comes before mark and consumes the mark's line. With withCode,
// the rest of the marker line is the decimal exit code.
func (m *markReader) until(mark string, withCode bool) ([]byte, int, error) {
	chunk := make([]byte, 32<<10)
	for {
		if i := bytes.Index(m.buf, []byte(mark)); i >= 0 {
			rest := m.buf[i+len(mark):]
			code := 0
			if withCode {
				nl := bytes.IndexByte(rest, '\n')
				if nl < 0 {
					goto read
				}
				n, err := strconv.Atoi(string(rest[:nl]))
				if err != nil {
					return nil, 0, fmt.Errorf("shell marker: bad exit code %q", rest[:nl])
				}
				code = n
				rest = rest[nl+1:]
			}
			out := append([]byte(nil), m.buf[:i]...)
			m.buf = append(m.buf[:0], rest...)
			return out, code, nil
		}
	read:
		if len(m.buf) > m.max+len(mark)+32 {
			return nil, 0, fmt.Errorf("output over %d bytes", m.max)
		}
		n, err := m.r.Read(chunk)
		m.buf = append(m.buf, chunk[:n]...)
		if err != nil && n == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, fmt.Errorf("shell stream: %w", err)
		}
	}
}
