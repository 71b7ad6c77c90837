package mpi

import (
	"fmt"

	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

// FreeNode is a node that can take work now, with what it has free.
type FreeNode struct {
	Name string `json:"name"`
	// Cores is the number of free cores; 0 means unknown. It is checked
	// (when known) only if the request sets CPUsPerTask.
	Cores int `json:"cores,omitempty"`
	// GPUs is the number of free GPUs; it is checked only when the request
	// sets GPUsPerNode.
	GPUs int `json:"gpus,omitempty"`
}

// FreeNodesFromHostlist lists the nodes of a Slurm hostlist expression as
// free nodes of unknown cores and GPUs (for `--free HOSTLIST`).
func FreeNodesFromHostlist(expr string) ([]FreeNode, error) {
	names, err := hostlist.Expand(expr)
	if err != nil {
		return nil, fmt.Errorf("mpi: free nodes: %w", err)
	}
	out := make([]FreeNode, len(names))
	for i, n := range names {
		out[i] = FreeNode{Name: n}
	}
	return out, nil
}

// Request is what a job asks for. Give Nodes, or Tasks, or both; tasks are
// spread over the nodes as evenly as possible, the first nodes in rank
// order taking one more when they do not divide.
type Request struct {
	Nodes        int // number of nodes (srun -N)
	Tasks        int // number of ranks (srun -n); 0 means Nodes x TasksPerNode
	TasksPerNode int // ranks per node (--ntasks-per-node); 0 means 1, or Tasks/Nodes rounded up
	CPUsPerTask  int // cores per rank; 0 means cores are not checked
	GPUsPerNode  int // GPUs per node; 0 means GPUs are not checked

	// Parallel, when set, splits the ranks into tensor-parallel, pipeline
	// and data-parallel groups.
	Parallel *Parallel

	// AllreduceBytes is the buffer size of the ring allreduce whose
	// hop-bytes the plan reports; 0 means 1 GiB.
	AllreduceBytes int64
	// Oversubscription is the ratio of a switch's downlink to uplink
	// bandwidth assumed where the topology does not know its links (a
	// topology.conf); 0 means 1 (non-blocking).
	Oversubscription float64
}

// Parallel describes the parallel groups of a training job. Ranks are
// numbered with the tensor-parallel index varying fastest, so each
// tensor-parallel group is a run of consecutive ranks on one node; Order
// says which of the two other dimensions comes next (closer in the fabric).
type Parallel struct {
	TensorParallel   int    `json:"tensor_parallel"`   // ranks per tensor-parallel group; 0 means 1
	PipelineParallel int    `json:"pipeline_parallel"` // pipeline stages; 0 means 1
	Order            string `json:"order"`             // "tp-dp-pp" (default: data-parallel groups closer) or "tp-pp-dp"
}

// maxTasks bounds a request so that a typo cannot allocate gigabytes.
const maxTasks = 1 << 22

// resolved is a checked request.
type resolved struct {
	nodes, tasks int
	perNode      int // most tasks on one node
	cpusPerTask  int
	gpusPerNode  int
	coresNeeded  int
	allreduce    int64
	oversub      float64
	par          *Parallel
	dp           int
}

func (r Request) resolve() (resolved, error) {
	var q resolved
	switch {
	case r.Nodes < 0, r.Tasks < 0, r.TasksPerNode < 0, r.CPUsPerTask < 0, r.GPUsPerNode < 0, r.AllreduceBytes < 0:
		return q, invalidf("negative count")
	case r.Oversubscription < 0:
		return q, invalidf("negative oversubscription")
	case r.Nodes == 0 && r.Tasks == 0:
		return q, invalidf("give the number of nodes or of tasks")
	case r.Tasks > maxTasks, r.Nodes > maxTasks, r.TasksPerNode > maxTasks:
		return q, invalidf("more than %d tasks", maxTasks)
	}
	q.nodes, q.tasks = r.Nodes, r.Tasks
	tpn := r.TasksPerNode
	switch {
	case q.nodes == 0:
		if tpn == 0 {
			tpn = 1
		}
		q.nodes = (q.tasks + tpn - 1) / tpn
	case q.tasks == 0:
		if tpn == 0 {
			tpn = 1
		}
		if int64(q.nodes)*int64(tpn) > maxTasks {
			return q, invalidf("more than %d tasks", maxTasks)
		}
		q.tasks = q.nodes * tpn
	default:
		if q.tasks < q.nodes {
			return q, invalidf("%d tasks cannot occupy %d nodes", q.tasks, q.nodes)
		}
		if tpn == 0 {
			tpn = (q.tasks + q.nodes - 1) / q.nodes
		}
		if int64(q.nodes)*int64(tpn) < int64(q.tasks) {
			return q, invalidf("%d tasks do not fit on %d nodes of %d tasks each", q.tasks, q.nodes, tpn)
		}
	}
	q.perNode = (q.tasks + q.nodes - 1) / q.nodes
	q.cpusPerTask, q.gpusPerNode = r.CPUsPerTask, r.GPUsPerNode
	q.coresNeeded = q.perNode * r.CPUsPerTask
	q.allreduce = r.AllreduceBytes
	if q.allreduce == 0 {
		q.allreduce = 1 << 30
	}
	q.oversub = r.Oversubscription
	if q.oversub == 0 {
		q.oversub = 1
	}
	if r.Parallel != nil {
		p := *r.Parallel
		if p.TensorParallel < 0 || p.PipelineParallel < 0 {
			return q, invalidf("negative parallel size")
		}
		p.TensorParallel = max(p.TensorParallel, 1)
		p.PipelineParallel = max(p.PipelineParallel, 1)
		switch p.Order {
		case "":
			p.Order = "tp-dp-pp"
		case "tp-dp-pp", "tp-pp-dp":
		default:
			return q, invalidf("parallel order %q: want tp-dp-pp or tp-pp-dp", p.Order)
		}
		if q.tasks%q.nodes != 0 {
			return q, invalidf("parallel groups need the same number of tasks on every node (%d tasks on %d nodes)", q.tasks, q.nodes)
		}
		if q.perNode%p.TensorParallel != 0 {
			return q, invalidf("tensor-parallel size %d does not divide the %d tasks of a node: a tensor-parallel group stays inside one node", p.TensorParallel, q.perNode)
		}
		if q.tasks%(p.TensorParallel*p.PipelineParallel) != 0 {
			return q, invalidf("tensor-parallel %d x pipeline %d does not divide %d tasks", p.TensorParallel, p.PipelineParallel, q.tasks)
		}
		q.dp = q.tasks / (p.TensorParallel * p.PipelineParallel)
		q.par = &p
	}
	return q, nil
}

// Place plans a request on free nodes of a topology. It is a pipeline over
// an immutable snapshot (see README.md):
//
//  1. filter: the free nodes the topology knows, with enough free cores and
//     GPUs (unknown or duplicated free nodes are errors);
//  2. rank and select: the fewest leaf switches (the free-aware lower
//     bound: the fewest leaves whose eligible nodes add up to the request),
//     then the fewest switches at each higher level from the top down, then
//     the tightest fit (fewest eligible nodes left free on the leaves used,
//     whole free leaves kept whole), never across islands;
//  3. order: nodes leaf by leaf in depth-first order of the fabric, each
//     node's ranks contiguous, so a ring crosses each boundary once;
//  4. measure: lower bounds, ring crossings, hop-bytes, uplink load and
//     fragmentation.
//
// Place does no I/O and is deterministic: the same inputs give the same
// plan.
func Place(t *Topology, free []FreeNode, req Request) (*Plan, error) {
	if t == nil {
		return nil, invalidf("no topology")
	}
	q, err := req.resolve()
	if err != nil {
		return nil, err
	}
	s, err := newSnapshot(t, free, q)
	if err != nil {
		return nil, err
	}
	sel, err := s.selectNodes(q.nodes)
	if err != nil {
		return nil, err
	}
	return s.buildPlan(sel, q), nil
}

// snapshot is the state one plan works on; the topology is never written.
type snapshot struct {
	t       *Topology
	free    []bool // per node
	elig    []bool // per node: free, with enough cores and GPUs
	swFree  []int  // per switch: free nodes in the subtree
	swElig  []int  // per switch: eligible nodes in the subtree
	nFree   int
	nElig   int
	isWhole []bool // per switch (leaves): every node of the leaf is free
}

// newSnapshot is the filter stage.
func newSnapshot(t *Topology, free []FreeNode, q resolved) (*snapshot, error) {
	s := &snapshot{
		t:       t,
		free:    make([]bool, len(t.nodes)),
		elig:    make([]bool, len(t.nodes)),
		swFree:  make([]int, len(t.sw)),
		swElig:  make([]int, len(t.sw)),
		isWhole: make([]bool, len(t.sw)),
	}
	var unknown []string
	for _, f := range free {
		i, ok := t.nodeIdx[f.Name]
		if !ok {
			unknown = append(unknown, f.Name)
			continue
		}
		if s.free[i] {
			return nil, fmt.Errorf("%w: %s", ErrDuplicateNode, f.Name)
		}
		s.free[i] = true
		s.nFree++
		ok = (q.cpusPerTask == 0 || f.Cores == 0 || f.Cores >= q.coresNeeded) &&
			(q.gpusPerNode == 0 || f.GPUs >= q.gpusPerNode)
		if ok {
			s.elig[i] = true
			s.nElig++
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownNodesError{Nodes: unknown}
	}
	for _, sw := range t.post {
		r := &t.sw[sw]
		if r.isLeaf() {
			for _, n := range r.nodes {
				if s.free[n] {
					s.swFree[sw]++
				}
				if s.elig[n] {
					s.swElig[sw]++
				}
			}
			s.isWhole[sw] = s.swFree[sw] == len(r.nodes)
			continue
		}
		for _, c := range r.children {
			s.swFree[sw] += s.swFree[c]
			s.swElig[sw] += s.swElig[c]
		}
	}
	return s, nil
}
