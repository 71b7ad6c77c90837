package gateway

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/mpi"
	"github.com/sta-federation/sta-gateway/slurm"
	"github.com/sta-federation/sta-gateway/slurm/hostlist"
	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

// view is what the gateway last saw of a site, for routing and the sites view:
// its nodes (read each poller tick: the node table, no job query), its queue
// (the monitor's one squeue of that tick; unknown without a monitor) and its
// switch tree (read at discovery).
type view struct {
	at         time.Time
	nodes      []slurm.Node
	queue      []slurm.QueueJob
	queueKnown bool
	topo       *mpi.Topology // nil: the site has no tree topology
	topoNote   string        // why topo is nil
}

// setNodes records the node table of this tick.
func (s *site) setNodes(nodes []slurm.Node, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view.nodes, s.view.at = nodes, at
}

// setQueue records the monitor's squeue of this tick.
func (s *site) setQueue(rows []slurm.QueueJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view.queue, s.view.queueKnown = rows, true
}

// setTopology records the switch tree read at discovery.
func (s *site) setTopology(sw []slurm.Switch, err error) {
	t, note := topologyOf(sw, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view.topo, s.view.topoNote = t, note
}

// snapshot returns the view as it stands (its slices are never written after
// they are set, so sharing them is safe).
func (s *site) snapshot() view {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view
}

// topologyOf builds the placement model of `scontrol show topology`.
func topologyOf(sw []slurm.Switch, err error) (*mpi.Topology, string) {
	if err != nil {
		return nil, "topology: " + err.Error()
	}
	if len(sw) == 0 {
		return nil, "the site has no switch tree (TopologyPlugin is not topology/tree)"
	}
	specs := make([]mpi.SwitchSpec, 0, len(sw))
	for _, w := range sw {
		spec := mpi.SwitchSpec{Name: w.Name}
		var err error
		// scontrol lists every node under a switch; only a leaf's are its own.
		if w.Level == 0 && w.Nodes != "" {
			if spec.Nodes, err = hostlist.Expand(w.Nodes); err != nil {
				return nil, fmt.Sprintf("topology: switch %s: nodes %q: %v", w.Name, w.Nodes, err)
			}
		}
		if w.Level > 0 && w.Switches != "" {
			if spec.Switches, err = hostlist.Expand(w.Switches); err != nil {
				return nil, fmt.Sprintf("topology: switch %s: switches %q: %v", w.Name, w.Switches, err)
			}
		}
		specs = append(specs, spec)
	}
	t, err := mpi.NewTopology(specs)
	if err != nil {
		return nil, "topology: " + err.Error()
	}
	return t, ""
}

// inPartition reports whether node n belongs to partition p.
func inPartition(n *slurm.Node, p string) bool { return slices.Contains(n.Partitions, p) }

// freeCPUs is what a job may still get of node n.
func freeCPUs(n *slurm.Node) int {
	c := n.CPUsEffective
	if c == 0 {
		c = n.CPUs
	}
	return max(c-n.CPUAlloc, 0)
}

// fitsNode reports whether node n could take a job asking cpn CPUs (the whole
// node when exclusive) now.
func fitsNode(n *slurm.Node, cpn int64, exclusive bool) bool {
	if !n.Usable() {
		return false
	}
	if exclusive {
		return n.CPUAlloc == 0
	}
	return int64(freeCPUs(n)) >= cpn
}

// partitionView summarises a partition for the sites view.
func (v *view) partitionView(p slurm.Partition) api.SitePartition {
	out := api.SitePartition{Name: p.Name, State: p.State, TotalNodes: p.TotalNodes, TotalCPUs: p.TotalCPUs}
	if !p.MaxTime.Infinite && p.MaxTime.Duration > 0 {
		out.MaxTime = sbatch.FormatTime(p.MaxTime.Duration)
	}
	if p.DefaultTime.Duration > 0 {
		out.DefaultTime = sbatch.FormatTime(p.DefaultTime.Duration)
	}
	for i := range v.nodes {
		n := &v.nodes[i]
		if !inPartition(n, p.Name) {
			continue
		}
		if n.Usable() {
			out.UsableNodes++
			if n.CPUAlloc == 0 {
				out.IdleNodes++
			}
			out.FreeCPUs += freeCPUs(n)
		}
	}
	if v.queueKnown {
		pending, running := 0, 0
		for i := range v.queue {
			q := &v.queue[i]
			if !slices.Contains(strings.Split(q.Partition, ","), p.Name) {
				continue
			}
			switch q.State {
			case slurm.StatePending:
				pending++
			case slurm.StateRunning:
				running++
			}
		}
		out.PendingJobs, out.RunningJobs = &pending, &running
	}
	return out
}

// waitEstimate is when a job could start at a site, by the cached view.
type waitEstimate struct {
	Wait  time.Duration
	Known bool   // false: the view cannot tell (no usable nodes free up, say)
	Why   string // how it was reached, for explain
}

// unknownWait is the wait scored when the view cannot tell.
const unknownWait = 24 * time.Hour

// expectedStart estimates when a job of nodes x cpn CPUs could start in
// partition part: nodes that fit it now, then a first-come simulation of the
// queue as the view last saw it: the pending jobs ahead of it (submitted
// earlier, not held) start in submission order as running jobs reach their
// time limits and release their nodes. It counts nodes, not backfill: an
// estimate to compare sites by, not Slurm's own schedule.
func (v *view) expectedStart(part string, nodes, cpn int64, exclusive bool, now time.Time) waitEstimate {
	pool := map[string]bool{}
	free := int64(0)
	for i := range v.nodes {
		n := &v.nodes[i]
		if !inPartition(n, part) || !n.Usable() {
			continue
		}
		pool[n.Name] = true
		if fitsNode(n, cpn, exclusive) {
			free++
		}
	}
	size := int64(len(pool))
	if v.nodes == nil {
		return waitEstimate{Wait: unknownWait, Why: "no node table read yet"}
	}
	if size < nodes {
		return waitEstimate{Wait: unknownWait, Why: fmt.Sprintf("%d usable nodes, the job needs %d", size, nodes)}
	}
	if !v.queueKnown {
		if free >= nodes {
			return waitEstimate{Known: true, Why: fmt.Sprintf("%d of %d nodes free (queue not visible: no monitor login)", free, size)}
		}
		return waitEstimate{Wait: unknownWait, Why: fmt.Sprintf("%d of %d nodes free, queue not visible (no monitor login)", free, size)}
	}
	type release struct {
		at    time.Time
		nodes int64
	}
	var releases []release
	type waiting struct {
		submit time.Time
		nodes  int64
		limit  time.Duration
	}
	var ahead []waiting
	for i := range v.queue {
		q := &v.queue[i]
		var onPool int64
		if q.NodeList != "" {
			hosts, err := hostlist.Expand(q.NodeList)
			if err == nil {
				for _, h := range hosts {
					if pool[h] {
						onPool++
					}
				}
			}
		}
		limit := time.Hour
		if !q.TimeLimit.Infinite && q.TimeLimit.Duration > 0 {
			limit = q.TimeLimit.Duration
		}
		switch q.State {
		case slurm.StateRunning, slurm.StateSuspended:
			if onPool == 0 {
				continue
			}
			end := q.EndTime
			if end.IsZero() || q.TimeLimit.Infinite {
				continue // never frees its nodes, as far as the view knows
			}
			releases = append(releases, release{at: end, nodes: onPool})
		case slurm.StatePending:
			// A job that needs more nodes than the pool has can never start
			// (and must not block the simulated queue forever).
			if !slices.Contains(strings.Split(q.Partition, ","), part) || !queuedToRun(q.Reason) || int64(q.NumNodes) > size {
				continue
			}
			ahead = append(ahead, waiting{submit: q.SubmitTime, nodes: int64(max(q.NumNodes, 1)), limit: limit})
		}
	}
	sort.SliceStable(ahead, func(i, j int) bool { return ahead[i].submit.Before(ahead[j].submit) })
	sort.Slice(releases, func(i, j int) bool { return releases[i].at.Before(releases[j].at) })
	why := fmt.Sprintf("%d of %d nodes free, %d jobs pending ahead, %d running", free, size, len(ahead), len(releases))
	t := now
	for {
		for len(ahead) > 0 && ahead[0].nodes <= free {
			free -= ahead[0].nodes
			releases = insertRelease(releases, release{at: t.Add(ahead[0].limit), nodes: ahead[0].nodes},
				func(a, b release) bool { return a.at.Before(b.at) })
			ahead = ahead[1:]
		}
		if len(ahead) == 0 && nodes <= free {
			return waitEstimate{Wait: t.Sub(now), Known: true, Why: why}
		}
		if len(releases) == 0 {
			return waitEstimate{Wait: unknownWait, Why: why + "; no running job frees enough nodes"}
		}
		r := releases[0]
		releases = releases[1:]
		if r.at.After(t) {
			t = r.at
		}
		free = min(free+r.nodes, size)
	}
}

func insertRelease[T any](s []T, v T, less func(a, b T) bool) []T {
	i := sort.Search(len(s), func(i int) bool { return less(v, s[i]) })
	return slices.Insert(s, i, v)
}

// queuedToRun reports whether a pending job with this reason is waiting for
// resources or its turn in the partition's pool: not held, not waiting for a
// dependency or a begin time, not over a partition limit (PartitionNodeLimit)
// and not waiting for particular nodes (ReqNodeNotAvail), which the pool's
// releases say nothing about.
func queuedToRun(reason string) bool {
	switch reason {
	case "", "None", "Priority", "Resources", "Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_higher_priority_partitions":
		return true
	}
	return false
}

// freeForPlacement lists the nodes of partition part that could take one node's
// share of a job now, with their free CPUs, for mpi's planner.
func (v *view) freeForPlacement(part string, cpn int64, exclusive bool) []mpi.FreeNode {
	var out []mpi.FreeNode
	for i := range v.nodes {
		n := &v.nodes[i]
		if !inPartition(n, part) || !fitsNode(n, cpn, exclusive) {
			continue
		}
		if v.topo != nil && !v.topo.HasNode(n.Name) {
			continue
		}
		out = append(out, mpi.FreeNode{Name: n.Name, Cores: freeCPUs(n), GPUs: n.GPUs})
	}
	return out
}

// partitionNodes lists every usable node of partition part the topology knows.
func (v *view) partitionNodes(part string) []mpi.FreeNode {
	var out []mpi.FreeNode
	for i := range v.nodes {
		n := &v.nodes[i]
		if inPartition(n, part) && n.Usable() && (v.topo == nil || v.topo.HasNode(n.Name)) {
			out = append(out, mpi.FreeNode{Name: n.Name})
		}
	}
	return out
}
