package slurm

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseSbatchParsable reads the stdout of `sbatch --parsable`: "1234" or
// "1234;cluster" (sbatch adds the cluster when it was given -M). Warnings go to
// stderr and are not read here. An array submission prints the array's job id.
func ParseSbatchParsable(r io.Reader) (jobID, cluster string, err error) {
	b, err := io.ReadAll(io.LimitReader(r, 4097))
	if err != nil {
		return "", "", &ParseError{Command: "sbatch", Err: err}
	}
	if len(b) > 4096 {
		return "", "", &ParseError{Command: "sbatch", Err: errors.New("output longer than a job id")}
	}
	line := strings.TrimRight(string(b), "\r\n")
	if line == "" {
		return "", "", &ParseError{Command: "sbatch", Line: 1, Err: errors.New("no job id printed")}
	}
	if strings.ContainsAny(line, "\n\r") {
		return "", "", &ParseError{Command: "sbatch", Line: 2, Err: fmt.Errorf("more than one line: %q", clipForError(line))}
	}
	jobID, cluster, hasCluster := strings.Cut(line, ";")
	if n, err := strconv.ParseUint(jobID, 10, 32); err != nil || n == 0 || jobID[0] == '0' || jobID[0] == '+' {
		return "", "", &ParseError{Command: "sbatch", Line: 1, Err: fmt.Errorf("%q is not a job id", clipForError(line))}
	}
	if hasCluster && !slurmLoginNameRE.MatchString(cluster) {
		return "", "", &ParseError{Command: "sbatch", Line: 1, Err: fmt.Errorf("%q: cluster %q is not a cluster name", clipForError(line), clipForError(cluster))}
	}
	return jobID, cluster, nil
}
