package devsites_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sta-federation/sta-gateway/internal/devsites"
)

// run runs one command on a session of c, stdin from stdin, and returns stdout.
func run(c *ssh.Client, cmd, stdin string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdin = strings.NewReader(stdin)
	s.Stdout, s.Stderr = &stdout, &stderr
	if err := s.Run(cmd); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", cmd, err, stderr.String())
	}
	return stdout.String(), nil
}

// TestSubmitEverySiteUserAndCredential submits a job over SSH (x/crypto/ssh, strict
// known_hosts, script on stdin) as every user of every site, once with the user's key
// and once with a certificate minted from the site's jurisdiction CA, and reads the
// outcome from the site's own accounting.
func TestSubmitEverySiteUserAndCredential(t *testing.T) {
	env := devsites.Load(t)
	account := map[string]string{"alice": "acct-a", "bob": "acct-b"}
	for _, site := range env.Sites {
		for _, user := range env.Users {
			for _, cred := range []string{"key", "cert"} {
				t.Run(site.Name+"/"+user+"/"+cred, func(t *testing.T) {
					t.Parallel()
					ctx := t.Context()
					signer := env.KeySigner(t, user)
					if cred == "cert" {
						signer = site.MintCert(t, user, 5*time.Minute)
					}
					c, err := env.Dial(t, ctx, site, user, signer)
					if err != nil {
						t.Fatalf("dial %s as %s with %s: %v", site.Addr, user, cred, err)
					}
					tag := fmt.Sprintf("sta-devsites-%s-%s-%d", user, cred, time.Now().UnixNano())
					script := "#!/bin/bash\n#SBATCH --job-name=devsites\n#SBATCH --time=1\n#SBATCH --output=/dev/null\necho hello\n"
					out, err := run(c, "sbatch --parsable --account="+account[user]+" --comment="+tag, script)
					if err != nil {
						t.Fatal(err)
					}
					id, cluster, _ := strings.Cut(strings.TrimSpace(out), ";")
					if id == "" || strings.ContainsFunc(id, func(r rune) bool { return r < '0' || r > '9' }) {
						t.Fatalf("sbatch --parsable printed %q, want a job id", out)
					}
					if cluster != "" && cluster != site.Cluster {
						t.Fatalf("job went to cluster %q, want %q", cluster, site.Cluster)
					}
					if st := site.WaitJobState(t, ctx, id, 60*time.Second); st != "COMPLETED" {
						t.Fatalf("job %s ended %s, want COMPLETED", id, st)
					}
					got := strings.TrimSpace(site.Slurm(t, ctx, "sacct", "-n", "-X", "-P", "-j", id,
						"-M", site.Cluster, "-o", "User,Account,Cluster,Comment"))
					want := strings.Join([]string{user, account[user], site.Cluster, tag}, "|")
					if got != want {
						t.Fatalf("sacct says %q, want %q", got, want)
					}
				})
			}
		}
	}
}

// TestCertificateOfOtherJurisdictionRefused: a certificate minted by one
// jurisdiction's CA logs in only to that jurisdiction's sites.
func TestCertificateOfOtherJurisdictionRefused(t *testing.T) {
	env := devsites.Load(t)
	tried := 0
	for _, issuer := range env.Sites {
		for _, target := range env.Sites {
			if issuer.Jurisdiction == target.Jurisdiction {
				continue
			}
			tried++
			cert := issuer.MintCert(t, "alice", 5*time.Minute)
			c, err := env.Dial(t, t.Context(), target, "alice", cert)
			if err == nil {
				c.Close()
				t.Errorf("certificate of %s's CA (%s) logged in to %s (%s)",
					issuer.Name, issuer.Jurisdiction, target.Name, target.Jurisdiction)
			} else if !strings.Contains(err.Error(), "unable to authenticate") {
				t.Errorf("certificate of %s on %s: %v, want an authentication failure", issuer.Name, target.Name, err)
			}
		}
	}
	if tried == 0 {
		t.Fatal("the dev sites span a single jurisdiction; need CA and DE")
	}
}

// TestCertificateForOtherLoginRefused: a certificate names its login.
func TestCertificateForOtherLoginRefused(t *testing.T) {
	env := devsites.Load(t)
	site := env.Sites[0]
	cert := site.MintCert(t, "bob", 5*time.Minute)
	if c, err := env.Dial(t, t.Context(), site, "alice", cert); err == nil {
		c.Close()
		t.Fatal("a certificate for bob logged in as alice")
	}
}

// TestPrivateDataJobs: on de-hpc (PrivateData=jobs), bob does not see alice's job in
// squeue; the monitor login does.
func TestPrivateDataJobs(t *testing.T) {
	env := devsites.Load(t)
	site := env.Site(t, "de-hpc")
	ctx := t.Context()
	dial := func(login string) *ssh.Client {
		c, err := env.Dial(t, ctx, site, login, env.KeySigner(t, login))
		if err != nil {
			t.Fatalf("dial as %s: %v", login, err)
		}
		return c
	}
	alice := dial("alice")
	out, err := run(alice, "sbatch --parsable --account=acct-a --time=2 --output=/dev/null",
		"#!/bin/bash\nsleep 60\n")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	t.Cleanup(func() { site.Slurm(t, context.Background(), "scancel", id) })

	squeue := "squeue -h -a -o %i"
	seen := func(login string) bool {
		out, err := run(dial(login), squeue, "")
		if err != nil {
			t.Fatalf("squeue as %s: %v", login, err)
		}
		for _, l := range strings.Fields(out) {
			if l == id {
				return true
			}
		}
		return false
	}
	if !seen("alice") {
		t.Fatalf("alice does not see her own job %s", id)
	}
	if seen("bob") {
		t.Errorf("bob sees alice's job %s on a PrivateData=jobs site", id)
	}
	if !seen(site.Monitor) {
		t.Errorf("%s does not see alice's job %s", site.Monitor, id)
	}
}
