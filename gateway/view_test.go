package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/slurm"
)

func node(name string, cpus, alloc int, state string, parts ...string) slurm.Node {
	return slurm.Node{Name: name, CPUs: cpus, CPUsEffective: cpus, CPUAlloc: alloc, StateBase: state, Partitions: parts}
}

func limit(d time.Duration) slurm.TimeLimit { return slurm.TimeLimit{Duration: d} }

// TestExpectedStart checks the wait estimate on hand-made views: free nodes now,
// nodes freed when running jobs reach their limits, jobs pending ahead served
// first (in submission order), held jobs ignored, and what the view cannot tell.
func TestExpectedStart(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	four := []slurm.Node{
		node("n1", 8, 8, "ALLOCATED", "batch"), node("n2", 8, 8, "ALLOCATED", "batch"),
		node("n3", 8, 0, "IDLE", "batch"), node("n4", 8, 2, "MIXED", "batch"),
	}
	running := func(nodes string, ends time.Duration) slurm.QueueJob {
		return slurm.QueueJob{State: slurm.StateRunning, Partition: "batch", NodeList: nodes, NumNodes: strings.Count(nodes, ",") + 1,
			EndTime: now.Add(ends), TimeLimit: limit(time.Hour)}
	}
	pending := func(nodes int, submitted time.Duration, lim time.Duration, reason string) slurm.QueueJob {
		return slurm.QueueJob{State: slurm.StatePending, Partition: "batch", NumNodes: nodes, SubmitTime: now.Add(submitted),
			TimeLimit: limit(lim), Reason: reason}
	}
	for _, tc := range []struct {
		name      string
		v         view
		nodes     int64
		cpn       int64
		exclusive bool
		want      time.Duration
		known     bool
	}{
		{"fits now", view{nodes: four, queueKnown: true}, 2, 4, false, 0, true},
		{"mixed node too full for 8 CPUs", view{nodes: four, queueKnown: true,
			queue: []slurm.QueueJob{running("n1", 10*time.Minute), running("n2", 30*time.Minute), running("n4", 50*time.Minute)}},
			2, 8, false, 10 * time.Minute, true},
		{"exclusive waits for an empty node", view{nodes: four, queueKnown: true,
			queue: []slurm.QueueJob{running("n1", 40*time.Minute), running("n2", 20*time.Minute), running("n4", 5*time.Minute)}},
			3, 1, true, 20 * time.Minute, true},
		{"pending ahead goes first", view{nodes: four, queueKnown: true,
			queue: []slurm.QueueJob{running("n1", 10*time.Minute), running("n2", 30*time.Minute),
				pending(2, -time.Hour, 2*time.Hour, "Resources")}},
			1, 8, false, 30 * time.Minute, true},
		{"held job is not ahead", view{nodes: four, queueKnown: true,
			queue: []slurm.QueueJob{running("n1", 10*time.Minute), pending(3, -time.Hour, time.Hour, "JobHeldUser")}},
			2, 8, false, 10 * time.Minute, true},
		{"pending job too big for the pool is not ahead", view{nodes: four, queueKnown: true,
			queue: []slurm.QueueJob{running("n1", 10*time.Minute), pending(5, -time.Hour, time.Hour, "Resources")}},
			2, 8, false, 10 * time.Minute, true},
		{"pending job over a partition limit is not ahead", view{nodes: four, queueKnown: true,
			queue: []slurm.QueueJob{pending(4, -time.Hour, time.Hour, "PartitionNodeLimit")}},
			1, 1, false, 0, true},
		{"more nodes than usable", view{nodes: append([]slurm.Node{}, four[:3]...), queueKnown: true}, 4, 1, false, unknownWait, false},
		{"drained nodes do not count", view{nodes: []slurm.Node{node("n1", 8, 0, "IDLE", "batch"),
			{Name: "n2", CPUs: 8, StateBase: "IDLE", StateFlags: []string{"DRAIN"}, Partitions: []string{"batch"}}}, queueKnown: true},
			2, 1, false, unknownWait, false},
		{"other partition", view{nodes: four, queueKnown: true}, 1, 1, false, unknownWait, false},
		{"queue unseen, nodes free", view{nodes: four}, 1, 1, false, 0, true},
		{"queue unseen, nodes busy", view{nodes: four}, 3, 8, false, unknownWait, false},
		{"nothing read yet", view{}, 1, 1, false, unknownWait, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			part := "batch"
			if tc.name == "other partition" {
				part = "gpu"
			}
			got := tc.v.expectedStart(part, tc.nodes, tc.cpn, tc.exclusive, now)
			if got.Wait != tc.want || got.Known != tc.known {
				t.Errorf("expectedStart = %v known=%v (%s), want %v known=%v", got.Wait, got.Known, got.Why, tc.want, tc.known)
			}
		})
	}
}

func TestPreambleShell(t *testing.T) {
	for _, ok := range []string{"#!/bin/bash", "#!/bin/sh", "#!/usr/bin/env bash", "#!/usr/bin/env -S bash -l", "#!/bin/dash -e"} {
		if err := preambleShellOK(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "#!/usr/bin/env python3", "#!/bin/zsh", "#!/bin/csh", "echo hi"} {
		if err := preambleShellOK(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestInsertPreamble(t *testing.T) {
	script := "#!/bin/bash\n#SBATCH -N4\n\n# comment\n#SBATCH -t 5\nsrun hostname\n#SBATCH --ignored\n"
	got := insertPreamble(script, 6, "PRE\n")
	want := "#!/bin/bash\n#SBATCH -N4\n\n# comment\n#SBATCH -t 5\nPRE\nsrun hostname\n#SBATCH --ignored\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := insertPreamble("#!/bin/sh\n#SBATCH -N2", 0, "PRE\n"); got != "#!/bin/sh\n#SBATCH -N2\nPRE\n" {
		t.Errorf("no command: %q", got)
	}
}

// TestPartitionViewTimes: the sites view gives a partition's limits in
// Slurm's time format.
func TestPartitionViewTimes(t *testing.T) {
	v := view{}
	for _, tc := range []struct {
		max, def         time.Duration
		wantMax, wantDef string
	}{
		{30 * time.Minute, 10 * time.Minute, "00:30:00", "00:10:00"},
		{48 * time.Hour, time.Hour + 30*time.Minute, "2-00:00:00", "01:30:00"},
		{20 * time.Minute, 10 * time.Second, "00:20:00", "00:00:10"},
	} {
		got := v.partitionView(slurm.Partition{Name: "batch", MaxTime: limit(tc.max), DefaultTime: limit(tc.def)})
		if got.MaxTime != tc.wantMax || got.DefaultTime != tc.wantDef {
			t.Errorf("limits %v/%v shown as %q/%q, want %q/%q", tc.max, tc.def, got.MaxTime, got.DefaultTime, tc.wantMax, tc.wantDef)
		}
	}
}
