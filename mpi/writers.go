package mpi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Formats lists the names Write accepts, for a --format flag.
var Formats = []string{"hostfile", "rankfile", "mpich", "nodelist", "json"}

// Write writes the plan in one of Formats.
func (p *Plan) Write(w io.Writer, format string) error {
	switch format {
	case "hostfile":
		return p.WriteHostfile(w)
	case "rankfile":
		return p.WriteRankfile(w)
	case "mpich":
		return p.WriteMPICH(w)
	case "nodelist":
		return p.WriteNodelist(w)
	case "json":
		return p.WriteJSON(w)
	}
	return fmt.Errorf("mpi: unknown plan format %q (want one of %v)", format, Formats)
}

// WriteHostfile writes a SLURM_HOSTFILE: one host per task, in rank order,
// for `srun --distribution=arbitrary`.
func (p *Plan) WriteHostfile(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for i, n := range p.Nodes {
		for range p.TasksPerNode[i] {
			bw.WriteString(n)
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// WriteRankfile writes an Open MPI rankfile ("rank N=host slot=S"), each
// rank on its own cores: with CPUsPerTask c, local rank i of a node gets
// slots i*c to i*c+c-1 (numbered within the cores Slurm gives the job on
// that node).
func (p *Plan) WriteRankfile(w io.Writer) error {
	bw := bufio.NewWriter(w)
	c := max(p.CPUsPerTask, 1)
	rank := 0
	for i, n := range p.Nodes {
		for local := range p.TasksPerNode[i] {
			slot := strconv.Itoa(local * c)
			if c > 1 {
				slot += "-" + strconv.Itoa(local*c+c-1)
			}
			fmt.Fprintf(bw, "rank %d=%s slot=%s\n", rank, n, slot)
			rank++
		}
	}
	return bw.Flush()
}

// WriteMPICH writes an MPICH (Hydra) hostfile: "host:n" per node, in rank
// order.
func (p *Plan) WriteMPICH(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for i, n := range p.Nodes {
		fmt.Fprintf(bw, "%s:%d\n", n, p.TasksPerNode[i])
	}
	return bw.Flush()
}

// WriteNodelist writes the compressed hostlist of the nodes and a newline.
func (p *Plan) WriteNodelist(w io.Writer) error {
	_, err := io.WriteString(w, p.Nodelist+"\n")
	return err
}

// WriteJSON writes the plan as one indented JSON object.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
