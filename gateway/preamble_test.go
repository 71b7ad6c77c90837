package gateway

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/mpi"
)

// TestPreambleRuns runs the topology preamble under each POSIX shell this
// machine has, with the real `scontrol show hostnames` (which needs a
// slurm.conf, not a controller): the hostfile and rankfile list the job's
// nodes leaf by leaf with each node's tasks contiguous, uneven task counts
// included; the folder is private (mktemp -d) and gone when the script ends; and when
// the preamble cannot work (no nodes) the script still runs, without
// SLURM_HOSTFILE.
func TestPreambleRuns(t *testing.T) {
	if _, err := exec.LookPath("scontrol"); err != nil {
		t.Fatalf("scontrol (Slurm's client) is needed to run the preamble: %v", err)
	}
	topo, err := mpi.NewTopology([]mpi.SwitchSpec{
		{Name: "spine", Switches: []string{"leaf1", "leaf2"}},
		{Name: "leaf1", Nodes: []string{"n01", "n03", "n05"}},
		{Name: "leaf2", Nodes: []string{"n02", "n04", "n06"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	pre, err := topologyPreamble(topo, func(n string) bool { return n != "n05" })
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "slurm.conf")
	if err := os.WriteFile(conf, []byte("ClusterName=test\nSlurmctldHost=localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := insertPreamble("#!/bin/sh\n#SBATCH --nodes=4\necho dir=$sta_d\necho hostfile:\ncat \"$STA_HOSTFILE\"\n"+
		"echo rankfile:\ncat \"$STA_RANKFILE\"\necho slurm=$SLURM_HOSTFILE\nls -ld \"$sta_d\" | cut -c1-10\n", 3, pre)
	shells := 0
	for _, sh := range []string{"sh", "dash", "bash", "ksh", "ash"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		shells++
		t.Run(sh, func(t *testing.T) {
			tmp := t.TempDir()
			run := func(nodelist, tasks string) (string, string) {
				cmd := exec.Command(path, "-c", script)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SLURM_CONF=" + conf, "TMPDIR=" + tmp}
				if nodelist != "" {
					cmd.Env = append(cmd.Env, "SLURM_JOB_ID=42", "SLURM_JOB_NODELIST="+nodelist,
						"SLURM_TASKS_PER_NODE="+tasks, "SLURM_CPUS_PER_TASK=2")
				}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("%s: %v\n%s%s", sh, err, out, stderr.String())
				}
				return string(out), stderr.String()
			}
			// Slurm's order is by name; the fabric's is leaf1 (n01, n03) then
			// leaf2 (n02, n04). SLURM_TASKS_PER_NODE follows Slurm's order:
			// n02 has 3 tasks, the others 2.
			out, stderr := run("n[01-04]", "2,3,2(x2)")
			want := "hostfile:\nn01\nn01\nn03\nn03\nn02\nn02\nn02\nn04\nn04\n" +
				"rankfile:\nrank 0=n01 slot=0-1\nrank 1=n01 slot=2-3\nrank 2=n03 slot=0-1\nrank 3=n03 slot=2-3\n" +
				"rank 4=n02 slot=0-1\nrank 5=n02 slot=2-3\nrank 6=n02 slot=4-5\nrank 7=n04 slot=0-1\nrank 8=n04 slot=2-3\n"
			m := regexp.MustCompile(`(?m)^dir=(` + regexp.QuoteMeta(tmp) + `/sta-gateway\.42\.[A-Za-z0-9]{6})$`).FindStringSubmatch(out)
			if m == nil || !strings.Contains(out, want) || !strings.Contains(out, "slurm="+m[1]+"/hostfile\n") ||
				!strings.Contains(out, "drwx------\n") || stderr != "" {
				t.Fatalf("%s: output\n%s\nstderr %q\nwant\n%s", sh, out, stderr, want)
			}
			if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
				t.Errorf("%s: the job's folder is left behind: %v", sh, err)
			}
			// A node the fabric does not know still gets its tasks, after the others.
			out, _ = run("n[01-02],n09", "1(x3)")
			if !strings.Contains(out, "hostfile:\nn01\nn02\nn09\n") {
				t.Errorf("%s: unknown node: output\n%s", sh, out)
			}
			// Outside Slurm (no job id, no nodes): a warning, no
			// SLURM_HOSTFILE, the script runs on.
			out, stderr = run("", "1")
			if !strings.Contains(stderr, "topology preamble failed") || !strings.Contains(out, "slurm=\n") {
				t.Errorf("%s: failing preamble: output\n%s\nstderr %q", sh, out, stderr)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "sta-gateway.*")); len(left) > 0 {
				t.Errorf("%s: folders left behind: %v", sh, left)
			}
		})
	}
	if shells == 0 {
		t.Fatal("no POSIX shell found")
	}
}
