package slurm

import (
	"fmt"
	"strconv"
	"strings"
)

// JobState is a job's state in the gateway's closed set (ARCHITECTURE.md, "States").
// Slurm's own state strings are mapped onto it by ParseJobState.
type JobState string

// The closed set of job states. ACCEPTED, SUBMITTING and REJECTED belong to the
// gateway (before or instead of a Slurm job); the others are read from Slurm.
const (
	StateAccepted    JobState = "ACCEPTED"
	StateSubmitting  JobState = "SUBMITTING"
	StatePending     JobState = "PENDING"
	StateRunning     JobState = "RUNNING"
	StateSuspended   JobState = "SUSPENDED"
	StateRequeued    JobState = "REQUEUED"
	StateCompleted   JobState = "COMPLETED"
	StateFailed      JobState = "FAILED"
	StateCancelled   JobState = "CANCELLED"
	StateTimeout     JobState = "TIMEOUT"
	StateNodeFail    JobState = "NODE_FAIL"
	StateOutOfMemory JobState = "OUT_OF_MEMORY"
	StatePreempted   JobState = "PREEMPTED"
	StateBootFail    JobState = "BOOT_FAIL"
	StateDeadline    JobState = "DEADLINE"
	StateRejected    JobState = "REJECTED"
	StateUnknown     JobState = "UNKNOWN"
)

// JobStates returns the closed set, in the order of ARCHITECTURE.md.
func JobStates() []JobState {
	return []JobState{
		StateAccepted, StateSubmitting, StatePending, StateRunning, StateSuspended,
		StateRequeued, StateCompleted, StateFailed, StateCancelled, StateTimeout,
		StateNodeFail, StateOutOfMemory, StatePreempted, StateBootFail, StateDeadline,
		StateRejected, StateUnknown,
	}
}

// IsFinal reports whether the state is an end: the job will not run again and its
// usage can be charged. UNKNOWN is never final.
//
// One caveat for sacct -D rows: a run that ended PREEMPTED, NODE_FAIL or REQUEUED
// may be followed by another run of the same job (requeue); the job's state is
// that of its latest run (see LatestRun).
func (s JobState) IsFinal() bool {
	switch s {
	case StateCompleted, StateFailed, StateCancelled, StateTimeout, StateNodeFail,
		StateOutOfMemory, StatePreempted, StateBootFail, StateDeadline, StateRejected:
		return true
	}
	return false
}

// Valid reports whether s is one of the closed set.
func (s JobState) Valid() bool {
	for _, v := range JobStates() {
		if s == v {
			return true
		}
	}
	return false
}

func (s JobState) String() string { return string(s) }

// slurmStateNames maps every job state word Slurm prints (squeue %T and -O State,
// scontrol JobState=, sacct State; long and compact forms) onto the closed set.
// Base states first, then the flags that job_state_string prints instead of the
// base state (Slurm 22.05 to 25.11).
var slurmStateNames = map[string]JobState{
	// Base states.
	"PENDING":       StatePending,
	"RUNNING":       StateRunning,
	"SUSPENDED":     StateSuspended,
	"COMPLETED":     StateCompleted,
	"CANCELLED":     StateCancelled,
	"FAILED":        StateFailed,
	"TIMEOUT":       StateTimeout,
	"NODE_FAIL":     StateNodeFail,
	"PREEMPTED":     StatePreempted,
	"BOOT_FAIL":     StateBootFail,
	"DEADLINE":      StateDeadline,
	"OUT_OF_MEMORY": StateOutOfMemory,
	// Flags printed in place of the base state. None of them is an end.
	"COMPLETING":    StateRunning,   // the job ended; nodes still clean up (epilog)
	"STAGE_OUT":     StateRunning,   // burst buffer stage-out after the script ended
	"CONFIGURING":   StateRunning,   // allocated, nodes booting or being configured
	"EXPEDITING":    StateRunning,   // 25.11: ended, checked for an expedited requeue
	"RESIZING":      StateRunning,   // the allocation changes size
	"SIGNALING":     StateRunning,   // an outgoing signal is pending
	"REQUEUED":      StateRequeued,  // being requeued
	"REQUEUE_FED":   StateRequeued,  // being requeued by the federation
	"REQUEUE_HOLD":  StateRequeued,  // requeued and held
	"SPECIAL_EXIT":  StateRequeued,  // requeued and held after a special exit code
	"RESV_DEL_HOLD": StatePending,   // held: its reservation was deleted
	"STOPPED":       StateSuspended, // SIGSTOP: keeps its CPUs, does not run
	// REVOKED: a federation sibling was removed because another cluster started
	// the job. Its outcome is not known here: UNKNOWN, never an end.
	"REVOKED": StateUnknown,
	// Compact forms (squeue %t, StateCompact).
	"PD": StatePending, "R": StateRunning, "S": StateSuspended, "CD": StateCompleted,
	"CA": StateCancelled, "F": StateFailed, "TO": StateTimeout, "NF": StateNodeFail,
	"PR": StatePreempted, "BF": StateBootFail, "DL": StateDeadline, "OOM": StateOutOfMemory,
	"CG": StateRunning, "SO": StateRunning, "CF": StateRunning, "RS": StateRunning,
	"SI": StateRunning, "RQ": StateRequeued, "RF": StateRequeued, "RH": StateRequeued,
	"SE": StateRequeued, "RD": StatePending, "ST": StateSuspended, "RV": StateUnknown,
}

// slurmBaseStates are the long names of Slurm's base states, the only words that
// may carry flags.
var slurmBaseStates = map[string]JobState{
	"PENDING": StatePending, "RUNNING": StateRunning, "SUSPENDED": StateSuspended,
	"COMPLETED": StateCompleted, "CANCELLED": StateCancelled, "FAILED": StateFailed,
	"TIMEOUT": StateTimeout, "NODE_FAIL": StateNodeFail, "PREEMPTED": StatePreempted,
	"BOOT_FAIL": StateBootFail, "DEADLINE": StateDeadline, "OUT_OF_MEMORY": StateOutOfMemory,
}

// slurmStateFlagRank orders the flags as Slurm's job_state_string does: the first
// one present names the state. Flags not ranked here (LAUNCH_FAILED,
// POWER_UP_NODE, RECONFIG_FAIL, UPDATE_DB) leave the base state in charge.
var slurmStateFlagRank = []string{
	"COMPLETING", "STAGE_OUT", "CONFIGURING", "EXPEDITING", "RESIZING", "REQUEUED",
	"REQUEUE_FED", "REQUEUE_HOLD", "SPECIAL_EXIT", "STOPPED", "REVOKED",
	"RESV_DEL_HOLD", "SIGNALING",
}

// slurmStateQuietFlags never change what the base state means.
var slurmStateQuietFlags = map[string]bool{
	"LAUNCH_FAILED": true, "POWER_UP_NODE": true, "RECONFIG_FAIL": true, "UPDATE_DB": true,
}

// ParseJobState maps a state as Slurm prints it onto the closed set:
//
//   - long names (squeue %T, scontrol JobState=, sacct State): RUNNING, COMPLETING, ...
//   - compact names (squeue %t): R, CG, PD, ...
//   - sacct's "CANCELLED by 1001" (the uid that cancelled)
//   - a base state with flags joined by "," or "+" (job_state_string_complete,
//     JSON-like renderings): "PENDING,REQUEUED", "RUNNING+COMPLETING"
//   - sacct's truncation mark: "CANCELLED+" in fixed-width output; a truncated
//     word counts only when every state it could be maps to the same one
//
// Case is ignored. Anything not understood maps to UNKNOWN, never to an end: a
// final base state with a flag this package does not know is UNKNOWN too, since
// the flag could mean the job is still ending (as COMPLETING does).
func ParseJobState(s string) JobState {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return StateUnknown
	}
	// "CANCELLED by 1001" (sacct): the words after the state name the canceller.
	if word, rest, ok := strings.Cut(s, " "); ok {
		uid, isBy := strings.CutPrefix(rest, "BY ")
		if word != "CANCELLED" || !isBy || uid == "" || strings.Trim(uid, "0123456789") != "" {
			return StateUnknown
		}
		s = word
	}
	if st, ok := slurmStateNames[s]; ok {
		return st
	}
	// Truncated by sacct's fixed width ("CANCELLED+", "OUT_OF_ME+").
	if prefix, ok := strings.CutSuffix(s, "+"); ok && !strings.ContainsAny(prefix, "+,") {
		return truncatedJobState(prefix)
	}
	// A base state with flags.
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '+' })
	if len(parts) < 2 {
		return StateUnknown
	}
	base, ok := slurmBaseStates[parts[0]]
	if !ok {
		return StateUnknown
	}
	flags := map[string]bool{}
	for _, f := range parts[1:] {
		flags[f] = true
	}
	for _, f := range slurmStateFlagRank {
		if flags[f] {
			return slurmStateNames[f]
		}
	}
	for f := range flags {
		if !slurmStateQuietFlags[f] && base.IsFinal() {
			return StateUnknown
		}
	}
	return base
}

func truncatedJobState(prefix string) JobState {
	if len(prefix) < 2 {
		return StateUnknown
	}
	found := JobState("")
	for name, st := range slurmStateNames {
		if len(name) <= 3 || !strings.HasPrefix(name, prefix) {
			continue
		}
		if found != "" && found != st {
			return StateUnknown
		}
		found = st
	}
	if found == "" {
		return StateUnknown
	}
	return found
}

// ParseExitCode parses Slurm's "N:S" exit code (sacct ExitCode, scontrol
// ExitCode=): the exit code of the batch script and the signal that ended it (0
// when none). A lone "N" (no signal part) is accepted.
func ParseExitCode(s string) (code, signal int, err error) {
	c, sig, hasSig := strings.Cut(strings.TrimSpace(s), ":")
	code, err = strconv.Atoi(c)
	if err != nil || code < 0 || code > 255 {
		return 0, 0, fmt.Errorf("exit code %q: want N:S", s)
	}
	if hasSig {
		signal, err = strconv.Atoi(sig)
		if err != nil || signal < 0 || signal > 255 {
			return 0, 0, fmt.Errorf("exit code %q: want N:S", s)
		}
	}
	return code, signal, nil
}

// exitFromWaitStatus splits a raw wait(2) status, as squeue's exit_code field
// prints it (768 is exit 3, 9 is SIGKILL), into exit code and signal.
func exitFromWaitStatus(s string) (code, signal int, err error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("wait status %q: not a number", s)
	}
	return int(n>>8) & 0xff, int(n & 0x7f), nil
}
