package slurm_test

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sta-federation/sta-gateway/internal/devsites"
	"github.com/sta-federation/sta-gateway/slurm"
)

// credential kinds the tests log in with.
const (
	withKey  = "key"
	withCert = "cert"
)

// mustClient returns a Client for login at site, closed when the test ends.
func mustClient(tb testing.TB, env *devsites.Env, site devsites.Site, login, cred string, shells int) *slurm.Client {
	tb.Helper()
	kh, err := slurm.LoadKnownHosts(env.KnownHosts)
	if err != nil {
		tb.Fatal(err)
	}
	var auth ssh.AuthMethod
	switch cred {
	case withKey:
		auth, err = slurm.KeyFile(env.Keys[login])
		if err != nil {
			tb.Fatal(err)
		}
	case withCert:
		auth = slurm.Certificates(func() (ssh.Signer, error) {
			return site.MintCert(tb, login, 5*time.Minute), nil
		})
	default:
		tb.Fatalf("unknown credential %q", cred)
	}
	c, err := slurm.NewClient(slurm.Config{
		Site:   site.Name,
		Hop:    slurm.Hop{Addr: site.Addr, User: login, Auth: []ssh.AuthMethod{auth}, KnownHosts: kh},
		Shells: shells,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func executors() []struct {
	name   string
	shells int
} {
	return []struct {
		name   string
		shells int
	}{{"session", 0}, {"shell", 2}}
}

// TestRunLiteralArgumentsAndStdin: arguments and stdin reach the remote program
// byte for byte through both executors, whatever they contain.
func TestRunLiteralArgumentsAndStdin(t *testing.T) {
	env := devsites.Load(t)
	site := env.Sites[0]
	big := make([]byte, 1<<20)
	rand.Read(big)
	args := []string{"", "plain", "x'; touch /tmp/sta-marker-run; '", "$(id)", "`id`", "a b\tc",
		"\"dq\"", "\\", "*", "~", "=ls", "!!", "%1", "ümlaut", strings.Repeat("z", 60000)}
	for _, ex := range executors() {
		t.Run(ex.name, func(t *testing.T) {
			c := mustClient(t, env, site, "alice", withKey, ex.shells)
			ctx := t.Context()
			res, err := c.Run(ctx, slurm.Command{Args: append([]string{"printf", "%s\\0"}, args...)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Executor != ex.name {
				t.Fatalf("ran on %s executor, want %s", res.Executor, ex.name)
			}
			got := strings.Split(strings.TrimSuffix(string(res.Stdout), "\x00"), "\x00")
			if len(got) != len(args) {
				t.Fatalf("remote saw %d arguments, want %d: %q", len(got), len(args), got)
			}
			for i := range args {
				if got[i] != args[i] {
					t.Errorf("argument %d: remote saw %q, want %q", i, trim(got[i]), trim(args[i]))
				}
			}
			for _, in := range [][]byte{[]byte("script\nwith lines\n"), []byte("no newline at end"), big,
				[]byte("has\x00nul\n"), []byte("")} {
				res, err := c.Run(ctx, slurm.Command{Args: []string{"sha256sum"}, Stdin: in})
				if err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("%x", sha256sum(in))
				if gotSum, _, _ := strings.Cut(string(res.Stdout), " "); gotSum != want {
					t.Errorf("stdin of %d bytes: remote sha256 %s, want %s", len(in), gotSum, want)
				}
			}
			res, err = c.Run(ctx, slurm.Command{Args: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != 7 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
				t.Fatalf("got exit %d stdout %q stderr %q, want 7, out, err", res.ExitCode, res.Stdout, res.Stderr)
			}
			res, err = c.Run(ctx, slurm.Command{Args: []string{"sh", "-c", "kill -TERM $$"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != -1 || res.Signal != "TERM" {
				t.Fatalf("killed by TERM: got exit %d signal %q", res.ExitCode, res.Signal)
			}
			res, err = c.Run(ctx, slurm.Command{Args: []string{"sh", "-c", "env | grep -E '^(SBATCH_|SLURM_CLUSTERS=|SLURM_TIME_FORMAT=)' || true"}})
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Stdout) != "SLURM_TIME_FORMAT=%s\n" {
				t.Fatalf("remote environment: %q, want only SLURM_TIME_FORMAT=%%s", res.Stdout)
			}
		})
	}
	if _, err := os.Stat("/tmp/sta-marker-run"); err == nil {
		os.Remove("/tmp/sta-marker-run")
		t.Fatal("an argument ran as a shell command on the site")
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// TestRunRejectsUnquotable: NUL and line breaks never reach the site.
func TestRunRejectsUnquotable(t *testing.T) {
	env := devsites.Load(t)
	c := mustClient(t, env, env.Sites[0], "alice", withKey, 0)
	for _, a := range []string{"a\x00b", "a\nb", "a\rb", strings.Repeat("x", slurm.MaxArgLen+1)} {
		if _, err := c.Run(t.Context(), slurm.Command{Args: []string{"echo", a}}); err == nil {
			t.Errorf("argument %q accepted", trim(a))
		}
	}
	if c.Dials() != 0 {
		t.Fatalf("refused commands dialled the site %d times", c.Dials())
	}
}

// TestHostKeyChangedRefused: a known_hosts entry with another key for the site is a
// clear error, never a silent accept.
func TestHostKeyChangedRefused(t *testing.T) {
	env := devsites.Load(t)
	site := env.Sites[0]
	other := env.Sites[1] // another site's host key, filed under this site's address
	b, err := os.ReadFile(env.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	var otherKey string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "["+strings.Replace(other.Addr, ":", "]:", 1)+" ") {
			otherKey = strings.SplitN(l, " ", 2)[1]
		}
	}
	if otherKey == "" {
		t.Fatalf("no known_hosts line for %s", other.Addr)
	}
	kh := t.TempDir() + "/known_hosts"
	line := "[" + strings.Replace(site.Addr, ":", "]:", 1) + " " + otherKey + "\n"
	if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := t.TempDir() + "/empty"
	os.WriteFile(unknown, nil, 0o600)
	for _, tc := range []struct {
		file string
		want error
	}{{kh, slurm.ErrHostKeyChanged}, {unknown, slurm.ErrHostKeyUnknown}} {
		k, err := slurm.LoadKnownHosts(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		auth, _ := slurm.KeyFile(env.Keys["alice"])
		c, err := slurm.NewClient(slurm.Config{Site: site.Name,
			Hop: slurm.Hop{Addr: site.Addr, User: "alice", Auth: []ssh.AuthMethod{auth}, KnownHosts: k}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Run(t.Context(), slurm.Command{Args: []string{"true"}})
		var he *slurm.HostKeyError
		if !errors.Is(err, tc.want) || !errors.As(err, &he) || he.Fingerprint == "" {
			t.Errorf("known_hosts %s: got %v, want %v with the presented fingerprint", tc.file, err, tc.want)
		}
		if slurm.IsAmbiguous(err) {
			t.Errorf("host key refusal reported as ambiguous: %v", err)
		}
		c.Close()
	}
}

func sha256sum(b []byte) []byte {
	h := sha256.New()
	h.Write(b)
	return h.Sum(nil)
}

// TestConcurrentBelowMaxSessions: 200 concurrent commands on one connection to an
// sshd with MaxSessions 10 all run; sessions wait their turn, none is refused.
func TestConcurrentBelowMaxSessions(t *testing.T) {
	env := devsites.Load(t)
	for _, ex := range executors() {
		t.Run(ex.name, func(t *testing.T) {
			c := mustClient(t, env, env.Sites[0], "bob", withKey, ex.shells)
			errs := make(chan error, 200)
			for i := 0; i < 200; i++ {
				go func() {
					res, err := c.Run(t.Context(), slurm.Command{Args: []string{"echo", fmt.Sprint(i)}})
					if err == nil && string(res.Stdout) != fmt.Sprintf("%d\n", i) {
						err = fmt.Errorf("command %d printed %q", i, res.Stdout)
					}
					errs <- err
				}()
			}
			for i := 0; i < 200; i++ {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if c.Dials() != 1 {
				t.Fatalf("%d connections for 200 commands, want 1", c.Dials())
			}
		})
	}
}

// TestProxyJump reaches one site's login node through another's (ProxyJump),
// verifying both host keys.
func TestProxyJump(t *testing.T) {
	env := devsites.Load(t)
	jump, target := env.Sites[0], env.Sites[1]
	kh, err := slurm.LoadKnownHosts(env.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := slurm.KeyFile(env.Keys["alice"])
	if err != nil {
		t.Fatal(err)
	}
	c, err := slurm.NewClient(slurm.Config{Site: target.Name,
		Hop:   slurm.Hop{Addr: target.Addr, User: "alice", Auth: []ssh.AuthMethod{auth}, KnownHosts: kh},
		Jumps: []slurm.Hop{{Addr: jump.Addr, User: "alice", Auth: []ssh.AuthMethod{auth}, KnownHosts: kh}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Run(t.Context(), slurm.Command{Args: []string{"sh", "-c", "echo $SLURM_CONF"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != target.SlurmConf {
		t.Fatalf("through %s reached a login node with SLURM_CONF=%s, want %s", jump.Name, got, target.SlurmConf)
	}
}

// TestRedialAfterConnectionLoss: when the connection dies between commands, the
// next command redials and runs.
func TestRedialAfterConnectionLoss(t *testing.T) {
	env := devsites.Load(t)
	c := mustClient(t, env, env.Sites[0], "alice", withKey, 1)
	if _, err := c.Run(t.Context(), slurm.Command{Args: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	c.Drop()
	res, err := c.Run(t.Context(), slurm.Command{Args: []string{"echo", "again"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "again\n" || c.Dials() != 2 {
		t.Fatalf("after a lost connection: %q with %d dials, want again with 2", res.Stdout, c.Dials())
	}
}

// TestForcedCommandSite logs in with an automation key whose use the site forces
// through a wrapper that runs only Slurm commands (authorized_keys command=). A
// Client asked for persistent shells finds out from the failed probe and sends
// plain words, one command per session: queries and the whole submit path work,
// anything else is refused by the site.
func TestForcedCommandSite(t *testing.T) {
	env := devsites.Load(t)
	ds := env.Site(t, "ca-hydro")
	key := os.Getenv("STA_DEV_KEY_ALICE_FORCED")
	if key == "" {
		t.Fatal("STA_DEV_KEY_ALICE_FORCED is not set (scripts/dev-sites.sh env)")
	}
	env.Keys["alice-forced"] = key
	kh, err := slurm.LoadKnownHosts(env.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := slurm.KeyFile(key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := slurm.NewClient(slurm.Config{Site: ds.Name, Shells: 2,
		Hop: slurm.Hop{Addr: ds.Addr, User: "alice", Auth: []ssh.AuthMethod{auth}, KnownHosts: kh}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	res, err := c.Run(ctx, slurm.Command{Args: []string{"squeue", "--version"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Executor != "session" || !strings.HasPrefix(string(res.Stdout), "slurm") {
		t.Fatalf("through the forced command: executor %s, stdout %q", res.Executor, res.Stdout)
	}
	res, err = c.Run(ctx, slurm.Command{Args: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "refused") {
		t.Fatalf("the wrapper let `id` run: exit %d, %q", res.ExitCode, res.Stderr)
	}
	site := siteOf(ds)
	tag := newTag(t)
	before := time.Now()
	ref, err := site.Submit(ctx, c, slurm.SubmitRequest{Login: "alice", Script: []byte(sleepScript),
		Args: []string{"--account=acct-a", "--job-name=it's forced"}, Tag: tag, Comment: "x'; id; '", Account: "acct-a"})
	if err != nil {
		t.Fatal(err)
	}
	found, err := site.FindByTag(ctx, c, "alice", tag, before)
	if err != nil || found.JobID != ref.JobID {
		t.Fatalf("FindByTag through the forced command: %+v, %v", found, err)
	}
	if found.Comment != tag+" x'; id; '" {
		t.Fatalf("comment %q", found.Comment)
	}
	if err := site.Cancel(ctx, c, *ref, tag); err != nil {
		t.Fatal(err)
	}
	if st := ds.WaitJobState(t, ctx, ref.JobID, 30*time.Second); !strings.HasPrefix(st, "CANCELLED") {
		t.Fatalf("job %s ended %s", ref.JobID, st)
	}
}
