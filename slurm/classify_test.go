package slurm

import "testing"

// TestSbatchMayHaveSubmitted: only sbatch's own lines make a rejection
// definite, and a sign of a lost exchange anywhere keeps the outcome unknown.
func TestSbatchMayHaveSubmitted(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		maybe  bool
	}{
		{"sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified", false},
		{"sbatch: unrecognized option '--nodez=2'", false},
		{"sbatch: error: Batch job submission failed: Socket timed out on send/recv operation", true},
		{"sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)", true},
		// A login shell's complaint is not sbatch's.
		{"bash: ulimit: -X: invalid option\nsbatch: error: Batch job submission failed: Socket timed out on send/recv operation", true},
		{"bash: ulimit: -X: invalid option\nsbatch: error: something new", true},
		{"bash: ulimit: -X: invalid option\nsbatch: error: invalid partition specified: x\nsbatch: error: Invalid partition name specified", false},
		{"", true},
		{"sbatch: error: something Slurm added in a later version", true},
	} {
		if got := sbatchMayHaveSubmitted(tc.stderr); got != tc.maybe {
			t.Errorf("%q: may have submitted = %v, want %v", tc.stderr, got, tc.maybe)
		}
	}
}
