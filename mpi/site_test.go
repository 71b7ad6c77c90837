package mpi_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/internal/devsites"
	"github.com/sta-federation/sta-gateway/mpi"
)

// runAs runs a command as login on the site's login node and returns stdout.
func runAs(t *testing.T, env *devsites.Env, s devsites.Site, login, cmd, stdin string) string {
	t.Helper()
	c, err := env.Dial(t, t.Context(), s, login, env.KeySigner(t, login))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr, sess.Stdin = &out, &errb, strings.NewReader(stdin)
	if err := sess.Run(cmd); err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, errb.String())
	}
	return out.String()
}

// freeNodes reads the site's idle nodes as its own controller reports them.
func freeNodes(t *testing.T, s devsites.Site) []mpi.FreeNode {
	t.Helper()
	out := s.Slurm(t, t.Context(), "sinfo", "-h", "-N", "-p", "batch", "-t", "idle", "-o", "%N")
	var free []mpi.FreeNode
	for _, n := range strings.Fields(out) {
		free = append(free, mpi.FreeNode{Name: n})
	}
	return free
}

// TestPlacementOnRealSite runs plans on ca-hydro (topology/tree: two leaves of two
// nodes under one spine, cabled across). With one node of each leaf busy, a 2-node plan must span
// both leaves, and the job Slurm runs with the plan's --nodelist lands there. A
// 4-node plan orders nodes leaf by leaf with each node's ranks contiguous, and srun
// with SLURM_HOSTFILE and --distribution=arbitrary places ranks in that order.
func TestPlacementOnRealSite(t *testing.T) {
	env := devsites.Load(t)
	site := env.Site(t, "ca-hydro")
	f, err := os.Open(site.Topology)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := mpi.ParseTopologyConf(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	waitIdle := func(n int) []mpi.FreeNode {
		deadline := time.Now().Add(60 * time.Second)
		for {
			free := freeNodes(t, site)
			if len(free) >= n {
				return free
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d idle nodes after 60s, want %d", len(free), n)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	waitIdle(4)
	// Keep the first node of each leaf busy (the leaves come from the site's
	// topology.conf; ca-hydro's are cabled across: hydro01,03 and hydro02,04).
	var busyNodes, freeWant []string
	for _, sw := range topo.Switches() {
		if sw.Level == 0 {
			if len(sw.Nodes) != 2 {
				t.Fatalf("leaf %s has nodes %v; the test wants leaves of two", sw.Name, sw.Nodes)
			}
			busyNodes, freeWant = append(busyNodes, sw.Nodes[0]), append(freeWant, sw.Nodes[1])
		}
	}
	if len(busyNodes) != 2 {
		t.Fatalf("ca-hydro has %d leaves, the test wants 2", len(busyNodes))
	}
	busy := runAs(t, env, site, "alice",
		"sbatch --parsable --account=acct-a --exclusive --time=3 --output=/dev/null --nodelist="+busyNodes[0]+" --wrap 'sleep 120'; "+
			"sbatch --parsable --account=acct-a --exclusive --time=3 --output=/dev/null --nodelist="+busyNodes[1]+" --wrap 'sleep 120'", "")
	ids := strings.Fields(busy)
	t.Cleanup(func() { site.Slurm(t, context.Background(), "scancel", ids...) })
	deadline := time.Now().Add(60 * time.Second)
	var free []mpi.FreeNode
	for {
		free = freeNodes(t, site)
		names := fmt.Sprint(free)
		if len(free) == 2 && strings.Contains(names, freeWant[0]) && strings.Contains(names, freeWant[1]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("free nodes %v, want %v", free, freeWant)
		}
		time.Sleep(500 * time.Millisecond)
	}
	plan, err := mpi.Place(topo, free, mpi.Request{Nodes: 2, TasksPerNode: 1})
	if err != nil {
		t.Fatal(err)
	}
	if plan.LeavesSpanned != 2 || plan.LeavesLowerBound != 2 {
		t.Fatalf("2-node plan spans %d leaves (lower bound %d), want 2 and 2", plan.LeavesSpanned, plan.LeavesLowerBound)
	}
	two := "#!/bin/bash\n#SBATCH -N2\n#SBATCH -n2\n#SBATCH --account=acct-a\n#SBATCH --time=2\n" +
		"#SBATCH --nodelist=" + plan.Nodelist + "\nsrun -l printenv SLURMD_NODENAME | sort -n\n"
	ran := runAs(t, env, site, "alice", "d=$(mktemp -d) && cd $d && sbatch --wait --quiet -o out.txt && cat out.txt; rm -rf $d", two)
	var ranOn []string
	for _, l := range strings.Split(strings.TrimSpace(ran), "\n") {
		_, node, _ := strings.Cut(l, ": ")
		ranOn = append(ranOn, node)
	}
	if strings.Join(ranOn, ",") != strings.Join(plan.Nodes, ",") {
		t.Fatalf("the 2-node job ran on %v; the plan chose %v", ranOn, plan.Nodes)
	}
	site.Slurm(t, t.Context(), "scancel", ids...)

	// All four nodes: the hostfile drives srun's rank placement.
	free = waitIdle(4)
	plan, err = mpi.Place(topo, free, mpi.Request{Nodes: 4, TasksPerNode: 2})
	if err != nil {
		t.Fatal(err)
	}
	var hostfile bytes.Buffer
	if err := plan.Write(&hostfile, "hostfile"); err != nil {
		t.Fatal(err)
	}
	hosts := strings.Fields(hostfile.String())
	if len(hosts) != 8 {
		t.Fatalf("hostfile %q, want 8 lines", hostfile.String())
	}
	leafOf := func(h string) string { l, _ := topo.LeafOf(h); return l }
	for i := 1; i < len(hosts); i++ {
		if hosts[i] != hosts[i-1] && leafOf(hosts[i]) != leafOf(hosts[i-1]) && i != 4 {
			t.Fatalf("hostfile %v leaves a leaf and comes back", hosts)
		}
	}
	if plan.RingLeafCrossings != 2 || plan.LeavesSpanned != 2 {
		t.Fatalf("4-node plan: %d ring leaf crossings over %d leaves, want 2 and 2", plan.RingLeafCrossings, plan.LeavesSpanned)
	}
	// The plan's order, and the same leaf by leaf order with the leaves swapped
	// (so that it differs from srun's default block distribution): srun places
	// rank i on line i of the hostfile.
	swapped := append(append([]string{}, hosts[4:]...), hosts[:4]...)
	for _, order := range [][]string{hosts, swapped} {
		got := srunOrder(t, env, site, order)
		if strings.Join(got, ",") != strings.Join(order, ",") {
			t.Fatalf("srun placed ranks on %v; the hostfile says %v", got, order)
		}
		t.Logf("rank order on ca-hydro: %v", got)
	}
}

// srunOrder runs a job on four nodes whose srun places 8 ranks by the hostfile
// order (SLURM_HOSTFILE, --distribution=arbitrary) and returns the node of each
// rank, as srun -l reports it.
func srunOrder(t *testing.T, env *devsites.Env, site devsites.Site, order []string) []string {
	t.Helper()
	script := "#!/bin/bash\n#SBATCH -N4\n#SBATCH -n8\n#SBATCH --account=acct-a\n#SBATCH --time=2\n" +
		"cat > $HOME/sta-hostfile.$SLURM_JOB_ID <<'EOF'\n" + strings.Join(order, "\n") + "\nEOF\n" +
		"SLURM_HOSTFILE=$HOME/sta-hostfile.$SLURM_JOB_ID srun --distribution=arbitrary -n 8 -l printenv SLURMD_NODENAME | sort -n\n" +
		"rm -f $HOME/sta-hostfile.$SLURM_JOB_ID\n"
	res := runAs(t, env, site, "alice", "d=$(mktemp -d) && cd $d && sbatch --wait --quiet -o out.txt && cat out.txt; rm -rf $d", script)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(res), "\n") {
		rank, node, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("srun output line %q", l)
		}
		if rank != fmt.Sprint(len(got)) {
			t.Fatalf("srun -l output %q out of rank order", res)
		}
		got = append(got, node)
	}
	return got
}
