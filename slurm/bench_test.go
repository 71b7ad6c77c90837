package slurm_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/internal/devsites"
	"github.com/sta-federation/sta-gateway/slurm"
)

const benchScript = "#!/bin/bash\n#SBATCH --output=/dev/null\n#SBATCH --time=1\ntrue\n"

// BenchmarkSubmitPaths submits held jobs to ca-hydro as alice, in one run, by:
// local sbatch on the site (the baseline), the pooled Client's sbatch through a
// persistent shell and through one session per command, Site.Submit (sbatch plus
// the read-back) on both, and ssh(1) with a new connection per job. Each
// iteration submits once by every path, interleaved, and the ratios to the
// baseline are reported. Goal: pooled sbatch at most 1.2x local, at least 10x
// faster than a new connection per job.
func BenchmarkSubmitPaths(b *testing.B) {
	env := devsites.Load(b)
	ds := env.Site(b, "ca-hydro")
	ctx := context.Background()
	name := fmt.Sprintf("sta-bench-%d", os.Getpid())
	args := []string{"--parsable", "--hold", "--account=acct-a", "--job-name=" + name}
	b.Cleanup(func() {
		exec.Command("env", "SLURM_CONF="+ds.SlurmConf, "scancel", "--name="+name, "--user=alice").Run()
	})

	alice, err := user.Lookup("alice")
	if err != nil {
		b.Fatal(err)
	}
	uid, _ := strconv.Atoi(alice.Uid)
	gid, _ := strconv.Atoi(alice.Gid)
	local := func() error {
		cmd := exec.Command("sbatch", args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "SLURM_CONF=" + ds.SlurmConf, "HOME=" + alice.HomeDir}
		cmd.Dir = alice.HomeDir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Stdin = strings.NewReader(benchScript)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("local sbatch: %v: %s", err, out)
		}
		return nil
	}
	host, port, _ := strings.Cut(ds.Addr, ":")
	newConn := func() error {
		cmd := exec.Command("ssh", "-i", env.Keys["alice"], "-o", "UserKnownHostsFile="+env.KnownHosts,
			"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ControlMaster=no",
			"-o", "ControlPath=none", "-p", port, "alice@"+host, "sbatch "+strings.Join(args, " "))
		cmd.Stdin = strings.NewReader(benchScript)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("ssh sbatch: %v: %s", err, stderr.String())
		}
		return nil
	}
	shellC := mustClient(b, env, ds, "alice", withKey, 1)
	sessC := mustClient(b, env, ds, "alice", withKey, 0)
	pooled := func(c *slurm.Client) func() error {
		return func() error {
			res, err := c.Run(ctx, slurm.Command{Args: append([]string{"sbatch"}, args...), Stdin: []byte(benchScript)})
			if err != nil {
				return err
			}
			if res.ExitCode != 0 {
				return fmt.Errorf("sbatch: %s", res.Stderr)
			}
			return nil
		}
	}
	site := siteOf(ds)
	submit := func(c *slurm.Client) func() error {
		return func() error {
			_, err := site.Submit(ctx, c, slurm.SubmitRequest{Login: "alice", Script: []byte(benchScript),
				Args: []string{"--hold", "--account=acct-a", "--job-name=" + name}, Tag: newTag(b)})
			return err
		}
	}
	paths := []struct {
		name string
		fn   func() error
		dur  time.Duration
	}{
		{"local", local, 0},
		{"shell", pooled(shellC), 0},
		{"session", pooled(sessC), 0},
		{"submit-shell", submit(shellC), 0},
		{"submit-session", submit(sessC), 0},
		{"newconn", newConn, 0},
	}
	// Warm up: connections open, shells started.
	for i := range paths {
		if err := paths[i].fn(); err != nil {
			b.Fatalf("%s: %v", paths[i].name, err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range paths {
			start := time.Now()
			if err := paths[j].fn(); err != nil {
				b.Fatalf("%s: %v", paths[j].name, err)
			}
			paths[j].dur += time.Since(start)
		}
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	base := per(paths[0].dur)
	for _, p := range paths {
		b.ReportMetric(per(p.dur), p.name+"-ms/job")
		if p.name != "local" {
			b.ReportMetric(per(p.dur)/base, p.name+"/local")
		}
	}
	b.ReportMetric(per(paths[5].dur)/per(paths[1].dur), "newconn/shell")
	b.ReportMetric(per(paths[5].dur)/per(paths[2].dur), "newconn/session")
}

// BenchmarkSubmitParallel submits through one pooled Client from 8 goroutines.
func BenchmarkSubmitParallel(b *testing.B) {
	env := devsites.Load(b)
	ds := env.Site(b, "ca-hydro")
	name := fmt.Sprintf("sta-bench-par-%d", os.Getpid())
	b.Cleanup(func() {
		exec.Command("env", "SLURM_CONF="+ds.SlurmConf, "scancel", "--name="+name, "--user=alice").Run()
	})
	c := mustClient(b, env, ds, "alice", withKey, 4)
	b.SetParallelism(4) // x GOMAXPROCS(2) = 8 goroutines
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Run(context.Background(), slurm.Command{
				Args:  []string{"sbatch", "--parsable", "--hold", "--account=acct-a", "--job-name=" + name},
				Stdin: []byte(benchScript)})
			if err != nil || res.ExitCode != 0 {
				b.Errorf("sbatch: %v %s", err, res.Stderr)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}
