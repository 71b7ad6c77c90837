package slurm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Sentinel errors of the transport. Callers branch on them with errors.Is.
var (
	// ErrHostKeyUnknown: the site's host key is not in known_hosts.
	ErrHostKeyUnknown = errors.New("host key unknown")
	// ErrHostKeyChanged: known_hosts holds another key for the site (possible
	// man-in-the-middle, or a rebuilt login node). Never accepted silently.
	ErrHostKeyChanged = errors.New("host key changed")
	// ErrAuth: the site refused every credential offered.
	ErrAuth = errors.New("ssh authentication failed")
	// ErrUnreachable: the site's login node could not be reached (dial, handshake).
	// Nothing ran.
	ErrUnreachable = errors.New("site unreachable")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("slurm client closed")
)

// HostKeyError says which host presented which key. It wraps ErrHostKeyUnknown or
// ErrHostKeyChanged.
type HostKeyError struct {
	Addr        string // host:port as dialled
	Fingerprint string // SHA256 fingerprint of the key the host presented
	Err         error
}

func (e *HostKeyError) Error() string {
	return fmt.Sprintf("%s: %v (presented %s); check known_hosts", e.Addr, e.Err, e.Fingerprint)
}

func (e *HostKeyError) Unwrap() error { return e.Err }

// KnownHosts verifies host keys strictly against OpenSSH known_hosts files
// (hashed names, [host]:port, @cert-authority and @revoked lines). An unknown or
// changed key is a *HostKeyError; there is no "accept new" mode.
type KnownHosts struct {
	db *knownhosts.HostKeyDB
}

// LoadKnownHosts reads known_hosts files.
func LoadKnownHosts(files ...string) (*KnownHosts, error) {
	if len(files) == 0 {
		return nil, errors.New("known_hosts: no file given")
	}
	db, err := knownhosts.NewDB(files...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	return &KnownHosts{db: db}, nil
}

// Callback returns the host key callback for ssh.ClientConfig.
func (k *KnownHosts) Callback() ssh.HostKeyCallback {
	cb := k.db.HostKeyCallback()
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		if err == nil {
			return nil
		}
		he := &HostKeyError{Addr: hostname, Fingerprint: ssh.FingerprintSHA256(key)}
		switch {
		case knownhosts.IsHostKeyChanged(err):
			he.Err = ErrHostKeyChanged
		case knownhosts.IsHostUnknown(err):
			he.Err = ErrHostKeyUnknown
		default:
			he.Err = err
		}
		return he
	}
}

// Algorithms returns the host key algorithms known_hosts holds for addr, so that the
// handshake asks for a key type it can verify.
func (k *KnownHosts) Algorithms(addr string) []string { return k.db.HostKeyAlgorithms(addr) }

// Hop is one SSH endpoint: a login node, or a jump host on the way to one.
type Hop struct {
	Addr       string           // host:port
	User       string           // login name
	Auth       []ssh.AuthMethod // tried in order
	KnownHosts *KnownHosts      // required: host keys are always verified
}

// Config of one Client: a login at a site, and how to reach it.
type Config struct {
	Site string // name, for errors and logs
	Hop         // the login node
	// Jumps are ProxyJump hosts, nearest first.
	Jumps []Hop

	DialTimeout       time.Duration // per hop, connect and handshake (default 10s)
	KeepaliveInterval time.Duration // keepalive@openssh.com requests (default 15s)
	KeepaliveTimeout  time.Duration // reply deadline of a keepalive (default 10s)
	// MaxSessions is the site's sshd MaxSessions (default 10). The Client keeps one
	// session in reserve below it.
	MaxSessions int
	// Shells is the number of persistent shells (0: one command per session).
	// Sites that force a command can run none; the Client then falls back.
	Shells int
	// Forced says the login's key forces a command (authorized_keys command=,
	// ForceCommand) that runs the command line it is given: each command is then
	// sent as plain quoted words, without the shell prelude or the remote
	// timeout, and the site's wrapper sets the environment (SLURM_TIME_FORMAT=%s,
	// no SBATCH_*). The Client also switches to this mode by itself when a
	// persistent shell's probe shows that the site forces a command.
	Forced bool
	// MaxOutput bounds stdout and stderr of one command (default 16 MiB).
	MaxOutput int

	Logger *slog.Logger
	// Observe, when set, is called after every command with its program name
	// (sbatch, squeue, ...), how long it took, and the error that kept it from
	// running to its end (nil when it ran, whatever its exit code): metrics.
	Observe func(program string, took time.Duration, err error)
}

func (c *Config) setDefaults() {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.KeepaliveInterval <= 0 {
		c.KeepaliveInterval = 15 * time.Second
	}
	if c.KeepaliveTimeout <= 0 {
		c.KeepaliveTimeout = 10 * time.Second
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 10
	}
	if c.MaxOutput <= 0 {
		c.MaxOutput = 16 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	hops := append([]Hop{c.Hop}, c.Jumps...)
	for _, h := range hops {
		if _, _, err := net.SplitHostPort(h.Addr); err != nil {
			return fmt.Errorf("site %s: address %q: %w", c.Site, h.Addr, err)
		}
		if h.User == "" {
			return fmt.Errorf("site %s: %s: no login name", c.Site, h.Addr)
		}
		if len(h.Auth) == 0 {
			return fmt.Errorf("site %s: %s: no credentials", c.Site, h.Addr)
		}
		if h.KnownHosts == nil {
			return fmt.Errorf("site %s: %s: no known_hosts (host keys are always verified)", c.Site, h.Addr)
		}
	}
	if c.Shells < 0 || c.Shells >= c.MaxSessions {
		return fmt.Errorf("site %s: %d persistent shells do not fit under MaxSessions %d", c.Site, c.Shells, c.MaxSessions)
	}
	return nil
}

// KeyFile returns an auth method from an unencrypted OpenSSH private key file. If
// FILE-cert.pub exists beside it, the certificate is offered first.
func KeyFile(path string) (ssh.AuthMethod, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signers := []ssh.Signer{}
	if cb, err := os.ReadFile(path + "-cert.pub"); err == nil {
		pk, _, _, _, err := ssh.ParseAuthorizedKey(cb)
		if err != nil {
			return nil, fmt.Errorf("%s-cert.pub: %w", path, err)
		}
		cert, ok := pk.(*ssh.Certificate)
		if !ok {
			return nil, fmt.Errorf("%s-cert.pub: not a certificate", path)
		}
		cs, err := ssh.NewCertSigner(cert, s)
		if err != nil {
			return nil, fmt.Errorf("%s-cert.pub: %w", path, err)
		}
		signers = append(signers, cs)
	}
	signers = append(signers, s)
	return ssh.PublicKeys(signers...), nil
}

// Agent returns an auth method backed by the ssh-agent at $SSH_AUTH_SOCK. The socket
// is dialled at each authentication, so a restarted agent is picked up.
func Agent() (ssh.AuthMethod, error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, errors.New("ssh-agent: SSH_AUTH_SOCK is not set")
	}
	return ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, fmt.Errorf("ssh-agent: %w", err)
		}
		// The signers use the connection while authenticating; it is closed with
		// the process, as ssh(1) does. One connection per handshake.
		return agent.NewClient(conn).Signers()
	}), nil
}

// Certificates returns an auth method that asks mint for a signer at every
// handshake, so that a redial after a short-lived certificate expired presents a
// fresh one (as minted by a jurisdiction's user CA).
func Certificates(mint func() (ssh.Signer, error)) ssh.AuthMethod {
	return ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		s, err := mint()
		if err != nil {
			return nil, fmt.Errorf("mint certificate: %w", err)
		}
		return []ssh.Signer{s}, nil
	})
}

// dial opens the SSH connection: through each jump host in turn, then to the
// login node, each hop with the dial timeout and its own host key check.
func dial(ctx context.Context, cfg *Config) (*ssh.Client, error) {
	hops := append(append([]Hop{}, cfg.Jumps...), cfg.Hop)
	var prev *ssh.Client
	for i, h := range hops {
		hctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
		c, err := dialHop(hctx, prev, h, cfg.DialTimeout)
		cancel()
		if err != nil {
			if prev != nil {
				prev.Close()
			}
			what := "login node"
			if i < len(hops)-1 {
				what = "jump host"
			}
			return nil, fmt.Errorf("site %s: %s %s@%s: %w", cfg.Site, what, h.User, h.Addr, err)
		}
		if prev != nil {
			// Closing the outer client closes the tunnel; keep the chain alive
			// by closing the previous hop when this one closes.
			go func(outer, inner *ssh.Client) {
				inner.Wait()
				outer.Close()
			}(prev, c)
		}
		prev = c
	}
	return prev, nil
}

func dialHop(ctx context.Context, via *ssh.Client, h Hop, timeout time.Duration) (*ssh.Client, error) {
	var conn net.Conn
	var err error
	if via == nil {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", h.Addr)
	} else {
		conn, err = via.DialContext(ctx, "tcp", h.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	// The handshake obeys the context: a hung sshd does not hang us.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	cc := &ssh.ClientConfig{
		User:              h.User,
		Auth:              h.Auth,
		HostKeyCallback:   h.KnownHosts.Callback(),
		HostKeyAlgorithms: h.KnownHosts.Algorithms(h.Addr),
		Timeout:           timeout,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, h.Addr, cc)
	if err != nil {
		conn.Close()
		var he *HostKeyError
		switch {
		case errors.As(err, &he):
			return nil, he
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w: handshake: %w", ErrUnreachable, ctx.Err())
		case isAuthError(err):
			return nil, fmt.Errorf("%w: %w", ErrAuth, err)
		}
		return nil, fmt.Errorf("%w: handshake: %w", ErrUnreachable, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func isAuthError(err error) bool {
	var se *ssh.ServerAuthError
	if errors.As(err, &se) {
		return true
	}
	// x/crypto/ssh reports exhausted methods as a plain error.
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}

// conn is one live SSH connection and what hangs on it.
type conn struct {
	client *ssh.Client
	dead   chan struct{} // closed when the connection is gone
	once   sync.Once
	err    error // why it died, set before dead is closed
}

func (c *conn) kill(err error) {
	c.once.Do(func() {
		c.err = err
		c.client.Close()
		close(c.dead)
	})
}

func (c *conn) alive() bool {
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}
