// Package mpi places multi-node MPI and training jobs on an InfiniBand
// fabric: it chooses nodes that span the fewest switches and orders ranks so
// that ring and tree collectives cross switch boundaries as rarely as
// possible. It is pure computation: no I/O beyond parsing an io.Reader, no
// context, deterministic results. It imports nothing of this project but
// slurm/hostlist.
//
// Inputs are a Topology, read from a Slurm topology.conf
// (ParseTopologyConf) or from ibnetdiscover output (ParseIBNetDiscover,
// ParseIBNetDiscoverOptions), the free nodes, and a Request. Place runs the
// pipeline described in README.md (filter, rank and select, order,
// measure) and returns a Plan, which writes itself as a compressed
// --nodelist, a SLURM_HOSTFILE, an Open MPI rankfile, an MPICH hostfile or
// JSON (Plan.Write and the Write* methods). A Topology converted from
// ibnetdiscover writes itself back as a topology.conf
// (Topology.WriteTopologyConf), as slurmibtopology.sh would.
//
// Typical use:
//
//	top, err := mpi.ParseTopologyConf(f)
//	free, err := mpi.FreeNodesFromHostlist("node[001-100]")
//	plan, err := mpi.Place(top, free, mpi.Request{Nodes: 16, TasksPerNode: 8})
//	err = plan.Write(os.Stdout, "hostfile")
//
// Errors from Place wrap ErrInvalidRequest, ErrUnknownNode,
// ErrDuplicateNode or ErrNotEnoughNodes; parse errors are *ParseError values
// carrying the line number.
package mpi
