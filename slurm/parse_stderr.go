package slurm

import (
	"errors"
	"fmt"
	"strings"
)

// Classes of query failures read from a Slurm command's stderr. Callers branch on
// them with errors.Is; none of them is ever a job state.
var (
	// ErrInvalidJobID: Slurm does not know a job id the query named. For squeue
	// and scontrol this means the job left the controller's memory (MinJobAge),
	// never existed there, or is hidden from the login (PrivateData=jobs): it does
	// not say the job ended. squeue reports it only when every id asked for is
	// unknown; with several ids the unknown ones are silently absent.
	ErrInvalidJobID = errors.New("slurm: invalid job id")
	// ErrSlurmUnavailable: the controller (squeue, scontrol) or the accounting
	// daemon (sacct) did not answer: timeout, refused connection, authentication
	// daemon down. Transient: retry later.
	ErrSlurmUnavailable = errors.New("slurm: controller or accounting unavailable")
	// ErrQueryRefused: Slurm refused the query itself (bad option, unknown user,
	// accounting disabled). Permanent until the query or the site changes.
	ErrQueryRefused = errors.New("slurm: query refused")
	// ErrQueryFailed: the command failed in a way not recognised here (an
	// unknown message on stderr, a non-zero exit without one). Treated as
	// transient: the query is retried and nothing is concluded from it.
	ErrQueryFailed = errors.New("slurm: query failed")
)

// StderrError is a failure a Slurm query command reported. It wraps one of
// ErrInvalidJobID, ErrSlurmUnavailable, ErrQueryRefused or ErrQueryFailed.
type StderrError struct {
	Command  string // squeue, sacct, scontrol
	ExitCode int    // the command's exit status (0: it printed an error yet exited 0)
	Message  string // the stderr line(s) that carry the error
	Kind     error
}

func (e *StderrError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	return fmt.Sprintf("%s (exit %d): %v: %s", e.Command, e.ExitCode, e.Kind, msg)
}

func (e *StderrError) Unwrap() error { return e.Kind }

// Transient reports whether retrying the same query later may succeed.
func (e *StderrError) Transient() bool {
	return e.Kind == ErrSlurmUnavailable || e.Kind == ErrQueryFailed
}

// Messages of Slurm's error table (slurm_errno.c) and of the system calls under
// it, by class. Matched case-insensitively as substrings of a stderr line.
var (
	stderrInvalidJob = []string{
		"invalid job id specified", // ESLURM_INVALID_JOB_ID
		"invalid job id:",          // squeue/scontrol: an id that does not parse
		"invalid job id ",
		"job id not found",
		"no such job",
	}
	stderrUnavailable = []string{
		"socket timed out", // SLURM_PROTOCOL_SOCKET_IMPL_TIMEOUT
		"unable to contact slurm controller",
		"zero bytes were transmitted or received",
		"communication connection failure",
		"communication send failure",
		"communication receive failure",
		"message receive failure",
		"message send failure",
		"unexpected message received",
		"backup controller in standby mode",
		"connection refused",
		"connection reset",
		"connection timed out",
		"timed out",
		"network is unreachable",
		"no route to host",
		"transport endpoint is not connected",
		"resource temporarily unavailable",
		"broken pipe",
		"problem talking to the database",
		"persistent connection",
		"slurmdbd",
		"unable to connect to database",
		"protocol authentication error",
		"munge",
		"invalid authentication credential",
		"insane message length",
		"slurmctld not responding",
		"try again",
	}
	stderrRefused = []string{
		"invalid user",
		"invalid account",
		"invalid partition",
		"invalid qos",
		"invalid time specification",
		"invalid field",
		"invalid state",
		"invalid node name",
		"unrecognized option",
		"invalid option",
		"unknown option",
		"access/permission denied",
		"permission denied",
		"accounting storage is disabled",
		"no such cluster",
		"unknown cluster",
		"is not a valid cluster",
		"invalid --",
		"usage:",
	}
)

func stderrMatches(low string, pats []string) bool {
	for _, p := range pats {
		if strings.Contains(low, p) {
			return true
		}
	}
	return false
}

// classifyStderr reads a query command's stderr. Blank stderr and lines that are
// only warnings are no failure; a recognised message gives its class (an
// invalid job id first, then unavailability, then refusal); anything else is
// ErrQueryFailed.
func classifyStderr(cmd string, exitCode int, stderr string) error {
	var msgs []string
	kind := error(nil)
	rank := func(k error) int {
		switch k {
		case ErrSlurmUnavailable:
			return 4
		case ErrInvalidJobID:
			return 3
		case ErrQueryRefused:
			return 2
		case ErrQueryFailed:
			return 1
		}
		return 0
	}
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		low := strings.ToLower(l)
		var k error
		switch {
		case stderrMatches(low, stderrUnavailable):
			k = ErrSlurmUnavailable
		case stderrMatches(low, stderrInvalidJob):
			k = ErrInvalidJobID
		case stderrMatches(low, stderrRefused):
			k = ErrQueryRefused
		case strings.Contains(low, "warning") && !strings.Contains(low, "error"):
			continue
		default:
			k = ErrQueryFailed
		}
		msgs = append(msgs, l)
		if rank(k) > rank(kind) {
			kind = k
		}
	}
	if kind == nil {
		if exitCode == 0 {
			return nil
		}
		kind = ErrQueryFailed
	}
	return &StderrError{Command: cmd, ExitCode: exitCode, Message: strings.Join(msgs, "; "), Kind: kind}
}

// ClassifySqueueStderr reads squeue's stderr: nil when it holds no error, else a
// *StderrError wrapping ErrInvalidJobID ("slurm_load_jobs error: Invalid job id
// specified"), ErrSlurmUnavailable ("Socket timed out on send/recv operation",
// "Unable to contact slurm controller"), ErrQueryRefused or ErrQueryFailed. Read it
// whatever the exit status: squeue has exited 0 after printing an error.
func ClassifySqueueStderr(stderr string) error { return classifyStderr("squeue", 0, stderr) }

// ClassifySacctStderr is ClassifySqueueStderr for sacct (slurmdbd unreachable is
// ErrSlurmUnavailable; "accounting storage is disabled" is ErrQueryRefused).
func ClassifySacctStderr(stderr string) error { return classifyStderr("sacct", 0, stderr) }

// ClassifyScontrolStderr is ClassifySqueueStderr for scontrol show.
func ClassifyScontrolStderr(stderr string) error { return classifyStderr("scontrol", 0, stderr) }

// CheckQuery judges a finished query command from its exit status and stderr: nil
// only when it exited 0 and printed no error. The error is a *StderrError.
func CheckQuery(command string, exitCode int, stderr string) error {
	return classifyStderr(command, exitCode, stderr)
}
