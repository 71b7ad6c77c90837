package slurm_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/internal/devsites"
	"github.com/sta-federation/sta-gateway/slurm"
)

var accountOf = map[string]string{"alice": "acct-a", "bob": "acct-b"}

// siteOf returns the submit-path view of a dev site (MessageTimeout 5s there).
func siteOf(s devsites.Site) *slurm.Site {
	return &slurm.Site{Name: s.Name, Cluster: s.Cluster, MessageTimeout: 5 * time.Second,
		SbatchTimeout: 10 * time.Second, ClockSkew: time.Minute}
}

func newTag(t testing.TB) string {
	return fmt.Sprintf("sta-test-%d-%d", os.Getpid(), time.Now().UnixNano())
}

const sleepScript = "#!/bin/bash\n#SBATCH --time=2\n#SBATCH --output=/dev/null\nsleep 300\n"
const quickScript = "#!/bin/bash\n#SBATCH --time=1\n#SBATCH --output=/dev/null\ntrue\n"

// sacctByTag counts the jobs that carry tag in the site's accounting, read as the
// site's administrator, independently of the code under test.
func sacctByTag(t testing.TB, site devsites.Site, tag string) []string {
	t.Helper()
	// A time-window sacct query can lag a few seconds behind a job's end: read
	// again, for up to a minute, until the tag shows.
	deadline := time.Now().Add(time.Minute)
	for {
		out := site.Slurm(t, t.Context(), "sacct", "-a", "-n", "-X", "-P", "-D", "-S", "now-3600", "-E", "now+60",
			"-M", site.Cluster, "-o", "JobID,Comment")
		var ids []string
		for _, l := range strings.Split(out, "\n") {
			id, comment, ok := strings.Cut(l, "|")
			if ok && (comment == tag || strings.HasPrefix(comment, tag+" ")) {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 || time.Now().After(deadline) {
			return ids
		}
		time.Sleep(time.Second)
	}
}

// TestSubmitFindCancel: on every site, as alice and bob, with a key and with a
// minted certificate: submit, read back, find by tag while queued, cancel, find by
// tag again once the job has left the queue (from sacct).
func TestSubmitFindCancel(t *testing.T) {
	env := devsites.Load(t)
	for _, ds := range env.Sites {
		for _, user := range env.Users {
			for _, cred := range []string{withKey, withCert} {
				t.Run(ds.Name+"/"+user+"/"+cred, func(t *testing.T) {
					t.Parallel()
					ctx := t.Context()
					c := mustClient(t, env, ds, user, cred, 1)
					site := siteOf(ds)
					tag := newTag(t)
					before := time.Now()
					ref, err := site.Submit(ctx, c, slurm.SubmitRequest{Login: user, Script: []byte(sleepScript),
						Args: []string{"--account=" + accountOf[user], "--partition=short", "--job-name=find-me"},
						Tag:  tag, Comment: "user's own words", Partition: "short", Account: accountOf[user]})
					if err != nil {
						t.Fatal(err)
					}
					if ref.Cluster != ds.Cluster || ref.Partition != "short" || ref.Account != accountOf[user] ||
						ref.User != user || ref.Comment != tag+" user's own words" {
						t.Fatalf("read back %+v", ref)
					}
					if ref.SubmitTime.Before(before.Add(-2*time.Second)) || ref.SubmitTime.After(time.Now().Add(2*time.Second)) {
						t.Fatalf("submit time %v, want about %v", ref.SubmitTime, before)
					}
					found, err := site.FindByTag(ctx, c, user, tag, before)
					if err != nil {
						t.Fatal(err)
					}
					if found.JobID != ref.JobID || !found.SubmitTime.Equal(ref.SubmitTime) {
						t.Fatalf("FindByTag in queue: %+v, want job %s", found, ref.JobID)
					}
					if err := site.Cancel(ctx, c, *ref, tag); err != nil {
						t.Fatal(err)
					}
					if st := ds.WaitJobState(t, ctx, ref.JobID, 30*time.Second); !strings.HasPrefix(st, "CANCELLED") {
						t.Fatalf("after Cancel, job %s is %s", ref.JobID, st)
					}
					// Gone from squeue after MinJobAge: FindByTag must use sacct.
					deadline := time.Now().Add(60 * time.Second)
					for {
						if !inQueue(t, ds, ref.JobID) {
							break
						}
						if time.Now().After(deadline) {
							t.Fatalf("job %s still in squeue after 60s", ref.JobID)
						}
						time.Sleep(time.Second)
					}
					found, err = site.FindByTag(ctx, c, user, tag, before)
					if err != nil {
						t.Fatalf("FindByTag after the job left the queue: %v", err)
					}
					if found.JobID != ref.JobID {
						t.Fatalf("FindByTag from sacct: job %s, want %s", found.JobID, ref.JobID)
					}
					if err := site.Cancel(ctx, c, *ref, tag); err != nil {
						t.Fatalf("cancelling an ended job: %v", err)
					}
					if _, err := site.FindByTag(ctx, c, user, newTag(t), before); !errors.Is(err, slurm.ErrNotFound) {
						t.Fatalf("FindByTag of an unknown tag: %v, want ErrNotFound", err)
					}
				})
			}
		}
	}
}

// TestSubmitRejected: a job Slurm refuses is a RejectedError, not ambiguous.
func TestSubmitRejected(t *testing.T) {
	env := devsites.Load(t)
	ds := env.Site(t, "de-hpc") // AccountingStorageEnforce=associations
	c := mustClient(t, env, ds, "bob", withKey, 0)
	_, err := siteOf(ds).Submit(t.Context(), c, slurm.SubmitRequest{Login: "bob", Script: []byte(quickScript),
		Args: []string{"--account=acct-a"}, Tag: newTag(t)})
	var rej *slurm.RejectedError
	if !errors.As(err, &rej) || !errors.Is(err, slurm.ErrRejected) || slurm.IsAmbiguous(err) {
		t.Fatalf("bob charging acct-a: %v, want a RejectedError", err)
	}
	if !strings.Contains(rej.Message, "account") {
		t.Fatalf("rejection says %q; want Slurm's reason", rej.Message)
	}
}

// TestSubmitInjection: hostile values in every field a user sets reach Slurm
// literally or are refused; no marker file ever appears on the site.
func TestSubmitInjection(t *testing.T) {
	env := devsites.Load(t)
	ds := env.Sites[0]
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	marker := filepath.Join(dir, "marker")
	payloads := []string{
		"x'; touch " + marker + "; '",
		"$(touch " + marker + ")",
		"`touch " + marker + "`",
		"a\"; touch " + marker + "; \"",
		"; touch " + marker,
		"| touch " + marker,
		"&& touch " + marker,
		"$RANDOM ${HOME} \\ * ? [a] ~",
		strings.Repeat("L", 4000), // too long for Slurm: refused, not ambiguous
	}
	refused := []string{"a\nb", "nul\x00byte", "cr\rx", strings.Repeat("x", 70000)}
	for _, ex := range executors() {
		t.Run(ex.name, func(t *testing.T) {
			ctx := t.Context()
			c := mustClient(t, env, ds, "alice", withKey, ex.shells)
			site := siteOf(ds)
			for i, p := range payloads {
				tag := newTag(t)
				ref, err := site.Submit(ctx, c, slurm.SubmitRequest{Login: "alice",
					Script: []byte("#!/bin/bash\n#SBATCH --output=/dev/null\n# " + p + "\necho '" + strings.ReplaceAll(p, "'", "") + "'\n"),
					Args:   []string{"--account=acct-a", "--hold", "--job-name=" + p, "--time=1"},
					Tag:    tag, Comment: p})
				if len(p) > 1000 {
					if err == nil {
						ds.Slurm(t, ctx, "scancel", ref.JobID)
					} else if !errors.Is(err, slurm.ErrRejected) {
						t.Fatalf("payload %d (%d bytes): %v, want success or a rejection", i, len(p), err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("payload %d: %v", i, err)
				}
				out := ds.Slurm(t, ctx, "squeue", "-h", "-j", ref.JobID, "-o", "%j"+"\x1f"+"%k")
				name, comment, _ := strings.Cut(strings.TrimRight(out, "\n"), "\x1f")
				if comment != tag+" "+p {
					t.Errorf("payload %d: Slurm holds comment %q, want %q", i, trim(comment), trim(tag+" "+p))
				}
				if name != p && !(len(p) > 200 && strings.HasPrefix(p, name)) {
					t.Errorf("payload %d: Slurm holds job name %q, want %q", i, trim(name), trim(p))
				}
				ds.Slurm(t, ctx, "scancel", ref.JobID)
			}
			for i, p := range refused {
				for _, req := range []slurm.SubmitRequest{
					{Comment: p}, {Args: []string{"--job-name=" + p}}, {Tag: p},
				} {
					req.Login, req.Script = "alice", []byte(quickScript)
					if req.Tag == "" {
						req.Tag = newTag(t)
					}
					if ref, err := site.Submit(ctx, c, req); err == nil {
						t.Errorf("refused payload %d accepted as job %s (%+v)", i, ref.JobID, req)
					}
				}
			}
			for _, a := range []string{"--clusters=de-hpc", "--clu=de-hpc", "-M", "--uid=0", "--gid=0", "--comment=x",
				"-Mde-hpc", "--wrap=id"} {
				if _, err := site.Submit(ctx, c, slurm.SubmitRequest{Login: "alice", Script: []byte(quickScript),
					Args: []string{a}, Tag: newTag(t)}); err == nil {
					t.Errorf("argument %q accepted", a)
				}
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("an injected command ran on the site: the marker exists")
	}
}

// ancestorSSHD returns the sshd process above pid (the per-connection child that
// carries the session).
func ancestorSSHD(t *testing.T, pid int) int {
	t.Helper()
	for p := pid; p > 1; {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		comm := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]
		if comm == "sshd" {
			return p
		}
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		p, _ = strconv.Atoi(f[1])
	}
	t.Fatalf("no sshd above process %d", pid)
	return 0
}

// findProcess returns the PID of the process whose command line holds needle.
func findProcess(needle string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), needle) && strings.HasPrefix(string(b), "sbatch\x00") {
			return pid
		}
	}
	return 0
}

// TestSubmitAmbiguous cuts the SSH connection while sbatch waits on a stopped
// controller (killing the session's sshd process), then lets the controller go on:
// the job lands after the cut. The error says the outcome is unknown, Resolve finds
// the job after the fence, exactly one job carries the tag, and the next command
// redials. A second case lets sbatch time out on the controller ("Socket timed
// out", non-zero exit) while the job is created anyway.
func TestSubmitAmbiguous(t *testing.T) {
	env := devsites.Load(t)
	ds := env.Site(t, "ca-hydro")
	ctld := env.PID(t, ds.Name+"-slurmctld")
	var contOnce sync.Once
	resume := func() { contOnce.Do(func() { syscall.Kill(ctld, syscall.SIGCONT) }) }
	for _, tc := range []struct {
		name   string
		shells int
		cut    bool
	}{{"cut/session", 0, true}, {"cut/shell", 2, true}, {"socket-timeout/session", 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			c := mustClient(t, env, ds, "alice", withKey, tc.shells)
			site := siteOf(ds)
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			tag := newTag(t)
			contOnce = sync.Once{}
			if err := syscall.Kill(ctld, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(resume)
			type result struct {
				ref *slurm.JobRef
				err error
			}
			done := make(chan result, 1)
			go func() {
				ref, err := site.Submit(ctx, c, slurm.SubmitRequest{Login: "alice", Script: []byte(quickScript),
					Args: []string{"--account=acct-a"}, Tag: tag})
				done <- result{ref, err}
			}()
			var sbatchPID int
			for i := 0; i < 100 && sbatchPID == 0; i++ {
				time.Sleep(50 * time.Millisecond)
				sbatchPID = findProcess("--comment=" + tag)
			}
			if sbatchPID == 0 {
				t.Fatal("the remote sbatch never started")
			}
			if tc.cut {
				time.Sleep(300 * time.Millisecond) // sbatch has sent its request
				if err := syscall.Kill(ancestorSSHD(t, sbatchPID), syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Submit did not return within 30s")
			}
			resume()
			var amb *slurm.AmbiguousError
			if !errors.As(r.err, &amb) || !errors.Is(r.err, slurm.ErrAmbiguous) {
				t.Fatalf("Submit: %v, want an AmbiguousError", r.err)
			}
			t.Logf("ambiguous as expected: %v", r.err)
			ref, err := site.Resolve(ctx, c, "alice", amb)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if time.Now().Before(amb.FenceAt) {
				t.Fatalf("Resolve answered before the fence")
			}
			ids := sacctByTag(t, ds, tag)
			if len(ids) != 1 || ids[0] != ref.JobID {
				t.Fatalf("jobs with tag %s in sacct: %v; Resolve found %s", tag, ids, ref.JobID)
			}
			if tc.cut && c.Dials() != 2 {
				t.Fatalf("connections dialled: %d, want 2 (the cut one and a new one)", c.Dials())
			}
		})
	}
}

// inQueue says whether squeue (as root, locally) still lists the job.
func inQueue(t *testing.T, ds devsites.Site, id string) bool {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "squeue", "-h", "-t", "all", "-j", id, "-o", "%i")
	cmd.Env = append(os.Environ(), "SLURM_CONF="+ds.SlurmConf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "Invalid job id specified") {
			return false
		}
		t.Fatalf("squeue -j %s: %v: %s", id, err, out)
	}
	return strings.TrimSpace(string(out)) == id
}
