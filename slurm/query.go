package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// query runs a read-only query and checks it: a failed command, or one that printed
// an error while exiting 0, is an error (a *StderrError), never an answer.
func (s *Site) query(ctx context.Context, r Runner, name string, args []string) ([]byte, error) {
	res, err := r.Run(ctx, Command{Args: args, Timeout: s.commandTimeout()})
	if err != nil {
		return nil, fmt.Errorf("site %s: %s: %w", s.Name, name, err)
	}
	if err := CheckQuery(name, res.ExitCode, string(res.Stderr)); err != nil {
		return nil, fmt.Errorf("site %s: %w", s.Name, err)
	}
	return res.Stdout, nil
}

func (s *Site) commandTimeout() time.Duration { return or(s.CommandTimeout, 3*s.messageTimeout()) }

// Queue asks squeue, in ONE call, about the jobs of q (one REQUEST_JOB_INFO on the
// controller whatever their number). Jobs the controller no longer knows are
// absent from the answer; when none of them is known, the answer is empty.
func (s *Site) Queue(ctx context.Context, r Runner, q SqueueQuery) ([]QueueJob, error) {
	args, err := SqueueArgs(q)
	if err != nil {
		return nil, err
	}
	out, err := s.query(ctx, r, "squeue", args)
	if errors.Is(err, ErrInvalidJobID) && len(q.JobIDs) > 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	jobs, err := ParseSqueue(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", s.Name, err)
	}
	return jobs, nil
}

// Accounting asks sacct about the jobs of q (one call); q.Cluster defaults to the
// site's cluster.
func (s *Site) Accounting(ctx context.Context, r Runner, q SacctQuery) ([]AcctJob, error) {
	if q.Cluster == "" {
		q.Cluster = s.Cluster
	}
	if q.Now.IsZero() {
		q.Now = s.now()
	}
	args, err := SacctArgs(q)
	if err != nil {
		return nil, err
	}
	out, err := s.query(ctx, r, "sacct", args)
	if err != nil {
		return nil, err
	}
	jobs, err := ParseSacct(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", s.Name, err)
	}
	return jobs, nil
}

// Partitions reads the site's partitions and their limits.
func (s *Site) Partitions(ctx context.Context, r Runner) ([]Partition, error) {
	out, err := s.query(ctx, r, "scontrol", PartitionsArgs())
	if err != nil {
		return nil, err
	}
	return ParsePartitions(bytes.NewReader(out))
}

// Nodes reads the site's nodes (CPUs, GPUs, features, state).
func (s *Site) Nodes(ctx context.Context, r Runner) ([]Node, error) {
	out, err := s.query(ctx, r, "scontrol", NodesArgs())
	if err != nil {
		return nil, err
	}
	return ParseNodes(bytes.NewReader(out))
}

// Topology reads the site's switch tree (scontrol show topology).
func (s *Site) Topology(ctx context.Context, r Runner) ([]Switch, error) {
	out, err := s.query(ctx, r, "scontrol", TopologyArgs())
	if err != nil {
		return nil, err
	}
	return ParseTopology(bytes.NewReader(out))
}

// Job reads one job in detail (scontrol show job): its output paths among others.
// ErrInvalidJobID when the controller does not know it.
func (s *Site) Job(ctx context.Context, r Runner, jobID string) (*JobDetail, error) {
	args, err := JobDetailArgs(jobID)
	if err != nil {
		return nil, err
	}
	out, err := s.query(ctx, r, "scontrol", args)
	if err != nil {
		return nil, err
	}
	jobs, err := ParseJobDetail(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", s.Name, err)
	}
	for i := range jobs {
		if jobs[i].JobID == jobID || jobs[i].ArrayJobID == jobID {
			return &jobs[i], nil
		}
	}
	return nil, fmt.Errorf("site %s: job %s: %w", s.Name, jobID, ErrInvalidJobID)
}

// OutputChunk is a piece of a job's output file.
type OutputChunk struct {
	Data   []byte
	Offset int64 // of Data in the file
	Size   int64 // the file's size when read (at least Offset+len(Data) when Data is not empty); -1 when it does not exist (yet)
}

// ReadOutput reads up to max bytes of a file on the site from offset (a job's
// stdout or stderr, as its owner). No session is held open between calls; the
// caller follows a file by calling again with Offset+len(Data).
func (s *Site) ReadOutput(ctx context.Context, r Runner, path string, offset, max int64) (*OutputChunk, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("output path %q is not absolute", path)
	}
	if offset < 0 || max <= 0 || max > 16<<20 {
		return nil, fmt.Errorf("output: offset %d, max %d out of range", offset, max)
	}
	// A constant program; the path and numbers are its arguments.
	const prog = `if [ ! -e "$1" ]; then echo -1; exit 0; fi; stat -c %s -- "$1" && tail -c +"$2" -- "$1" | head -c "$3"`
	res, err := r.Run(ctx, Command{Args: []string{"sh", "-c", prog, "sh", path,
		strconv.FormatInt(offset+1, 10), strconv.FormatInt(max, 10)}, Timeout: s.commandTimeout()})
	if err != nil {
		return nil, fmt.Errorf("site %s: read %s: %w", s.Name, path, err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("site %s: read %s: exit %d: %s", s.Name, path, res.ExitCode,
			strings.TrimSpace(string(res.Stderr)))
	}
	head, data, _ := bytes.Cut(res.Stdout, []byte("\n"))
	size, err := strconv.ParseInt(string(head), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("site %s: read %s: size %q", s.Name, path, head)
	}
	if size < 0 {
		return &OutputChunk{Offset: offset, Size: -1}, nil
	}
	// stat runs before tail: a file still being written may have grown in
	// between, and Data then reaches past the size stat saw. The file was at
	// least that long; never report a Size that Offset+len(Data) exceeds.
	if end := offset + int64(len(data)); len(data) > 0 && end > size {
		size = end
	}
	return &OutputChunk{Data: data, Offset: offset, Size: size}, nil
}
