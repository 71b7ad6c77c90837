// Package devsites gives tests the real Slurm sites that scripts/dev-sites.sh runs on
// this machine: their addresses, users, keys, certificate authorities and Slurm
// configuration, read from the STA_DEV_* variables that `scripts/dev-sites.sh env`
// prints.
//
// A test that needs the sites calls Load, which fails the test (it never skips) when
// the sites are not up. The package is for tests only; nothing in the product imports
// it.
package devsites

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// Env is the set of dev sites and their users.
type Env struct {
	State      string            // the dev-sites state folder
	Sites      []Site            // in the order of STA_DEV_SITES
	Users      []string          // plain login users (alice, bob)
	Keys       map[string]string // login -> private key file (users and the monitor)
	KnownHosts string            // known_hosts file with every site's host key
}

// Site is one dev site.
type Site struct {
	Name         string // ca-hydro
	Addr         string // host:port of its sshd login node
	Cluster      string // Slurm ClusterName
	Jurisdiction string // CA, DE
	SlurmConf    string // slurm.conf, for Slurm commands run on this machine
	Topology     string // topology.conf
	UserCA       string // private key of the user CA the site's sshd trusts
	Monitor      string // login that may see every job
	Accounts     []string
}

// Load reads the dev sites from the environment. It fails tb when they are missing.
func Load(tb testing.TB) *Env {
	tb.Helper()
	e, err := FromEnv()
	if err != nil {
		tb.Fatalf("dev sites: %v\n(start them with: scripts/dev-sites.sh up && eval \"$(scripts/dev-sites.sh env)\"; scripts/test.sh does both)", err)
	}
	return e
}

// FromEnv reads the dev sites from the STA_DEV_* variables and checks that the files
// they name exist.
func FromEnv() (*Env, error) {
	get := func(name string) (string, error) {
		v := os.Getenv(name)
		if v == "" {
			return "", fmt.Errorf("%s is not set", name)
		}
		return v, nil
	}
	var err error
	e := &Env{Keys: map[string]string{}}
	if e.State, err = get("STA_DEV_STATE"); err != nil {
		return nil, err
	}
	sites, err := get("STA_DEV_SITES")
	if err != nil {
		return nil, err
	}
	users, err := get("STA_DEV_USERS")
	if err != nil {
		return nil, err
	}
	e.Users = strings.Fields(users)
	if e.KnownHosts, err = get("STA_DEV_KNOWN_HOSTS"); err != nil {
		return nil, err
	}
	files := []string{e.KnownHosts}
	for _, name := range strings.Fields(sites) {
		p := "STA_DEV_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_"
		s := Site{Name: name}
		for _, f := range []struct {
			dst *string
			key string
		}{
			{&s.Addr, "SSH"}, {&s.Cluster, "CLUSTER"}, {&s.Jurisdiction, "JURISDICTION"},
			{&s.SlurmConf, "SLURM_CONF"}, {&s.Topology, "TOPOLOGY"}, {&s.UserCA, "USER_CA"},
			{&s.Monitor, "MONITOR"},
		} {
			if *f.dst, err = get(p + f.key); err != nil {
				return nil, err
			}
		}
		s.Accounts = strings.Fields(os.Getenv(p + "ACCOUNTS"))
		files = append(files, s.SlurmConf, s.UserCA)
		e.Sites = append(e.Sites, s)
		if s.Monitor != "" {
			e.Keys[s.Monitor] = ""
		}
	}
	for _, u := range append(append([]string{}, e.Users...), keysOf(e.Keys)...) {
		k, err := get("STA_DEV_KEY_" + strings.ToUpper(u))
		if err != nil {
			return nil, err
		}
		e.Keys[u] = k
		files = append(files, k)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Site returns the named site; it fails tb if there is none.
func (e *Env) Site(tb testing.TB, name string) Site {
	tb.Helper()
	for _, s := range e.Sites {
		if s.Name == name {
			return s
		}
	}
	tb.Fatalf("dev sites: no site %q (have %v)", name, e.Sites)
	return Site{}
}

// HostKeyCallback verifies host keys strictly against the dev known_hosts file.
func (e *Env) HostKeyCallback(tb testing.TB) ssh.HostKeyCallback {
	tb.Helper()
	kh, err := knownhosts.NewDB(e.KnownHosts)
	if err != nil {
		tb.Fatalf("known_hosts: %v", err)
	}
	return kh.HostKeyCallback()
}

// KeySigner returns the signer of login's private key file.
func (e *Env) KeySigner(tb testing.TB, login string) ssh.Signer {
	tb.Helper()
	path, ok := e.Keys[login]
	if !ok {
		tb.Fatalf("dev sites: no key for %q", login)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return s
}

// MintCert returns a signer holding a fresh key and a user certificate for login,
// valid for ttl, signed by the user CA that site trusts (as the gateway's
// per-jurisdiction CA would mint it).
func (s Site) MintCert(tb testing.TB, login string, ttl time.Duration) ssh.Signer {
	tb.Helper()
	b, err := os.ReadFile(s.UserCA)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := ssh.ParsePrivateKey(b)
	if err != nil {
		tb.Fatalf("%s: %v", s.UserCA, err)
	}
	return MintCert(tb, ca, login, ttl)
}

// MintCert signs a fresh ed25519 key for login with ca.
func MintCert(tb testing.TB, ca ssh.Signer, login string, ttl time.Duration) ssh.Signer {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	cert := &ssh.Certificate{
		Key:             sshPub,
		CertType:        ssh.UserCert,
		KeyId:           "sta-dev-test:" + login,
		ValidPrincipals: []string{login},
		ValidAfter:      uint64(now.Add(-time.Minute).Unix()),
		ValidBefore:     uint64(now.Add(ttl).Unix()),
		Permissions:     ssh.Permissions{Extensions: map[string]string{"permit-pty": ""}},
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		tb.Fatal(err)
	}
	keySigner, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	cs, err := ssh.NewCertSigner(cert, keySigner)
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

// Dial opens an SSH connection to the site's login node as login, verifying the host
// key strictly. The connection is closed when the test ends.
func (e *Env) Dial(tb testing.TB, ctx context.Context, s Site, login string, auth ssh.Signer) (*ssh.Client, error) {
	tb.Helper()
	cfg := &ssh.ClientConfig{
		User:            login,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(auth)},
		HostKeyCallback: e.HostKeyCallback(tb),
		Timeout:         10 * time.Second,
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, s.Addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	client := ssh.NewClient(c, chans, reqs)
	tb.Cleanup(func() { client.Close() })
	return client, nil
}

// Slurm runs a Slurm client command on this machine against the site (as root, who
// is a Slurm administrator), with SLURM_TIME_FORMAT=%s, and returns its stdout. It
// fails tb when the command fails.
func (s Site) Slurm(tb testing.TB, ctx context.Context, name string, args ...string) string {
	tb.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "SLURM_CONF="+s.SlurmConf, "SLURM_TIME_FORMAT=%s")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %s on %s: %v: %s", name, strings.Join(args, " "), s.Name, err, stderr.String())
	}
	return string(out)
}

// WaitJobState polls sacct on the site (run locally, as the site's administrator)
// until the job reaches a final state, and returns that state.
func (s Site) WaitJobState(tb testing.TB, ctx context.Context, jobID string, timeout time.Duration) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		out := s.Slurm(tb, ctx, "sacct", "-n", "-X", "-P", "-j", jobID, "-M", s.Cluster, "-o", "State")
		last = strings.TrimSpace(out)
		switch {
		case last == "", last == "PENDING", last == "RUNNING", last == "REQUEUED",
			last == "SUSPENDED", last == "COMPLETING":
		default:
			return last
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("job %s on %s: still %q after %v", jobID, s.Name, last, timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// PID returns the PID that dev-sites recorded for one of its processes, such as
// "ca-hydro-slurmctld" or "ca-hydro-sshd". It fails tb if the process is not running.
func (e *Env) PID(tb testing.TB, name string) int {
	tb.Helper()
	b, err := os.ReadFile(e.State + "/pids/" + name + ".pid")
	if err != nil {
		tb.Fatalf("dev sites: %v", err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil {
		tb.Fatalf("dev sites: %s.pid: %v", name, err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		tb.Fatalf("dev sites: %s (%d) is not running", name, pid)
	}
	return pid
}
