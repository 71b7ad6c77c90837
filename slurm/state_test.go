package slurm_test

import (
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/slurm"
)

// TestParseJobState covers every state word of Slurm's job_state_string and
// job_state_string_compact (22.05 to 25.11), sacct's forms and flag lists.
func TestParseJobState(t *testing.T) {
	tests := []struct {
		in   string
		want slurm.JobState
	}{
		// Base states, long and compact.
		{"PENDING", slurm.StatePending}, {"PD", slurm.StatePending},
		{"RUNNING", slurm.StateRunning}, {"R", slurm.StateRunning},
		{"SUSPENDED", slurm.StateSuspended}, {"S", slurm.StateSuspended},
		{"COMPLETED", slurm.StateCompleted}, {"CD", slurm.StateCompleted},
		{"CANCELLED", slurm.StateCancelled}, {"CA", slurm.StateCancelled},
		{"FAILED", slurm.StateFailed}, {"F", slurm.StateFailed},
		{"TIMEOUT", slurm.StateTimeout}, {"TO", slurm.StateTimeout},
		{"NODE_FAIL", slurm.StateNodeFail}, {"NF", slurm.StateNodeFail},
		{"PREEMPTED", slurm.StatePreempted}, {"PR", slurm.StatePreempted},
		{"BOOT_FAIL", slurm.StateBootFail}, {"BF", slurm.StateBootFail},
		{"DEADLINE", slurm.StateDeadline}, {"DL", slurm.StateDeadline},
		{"OUT_OF_MEMORY", slurm.StateOutOfMemory}, {"OOM", slurm.StateOutOfMemory},
		// Flags printed in place of the base state: never an end.
		{"COMPLETING", slurm.StateRunning}, {"CG", slurm.StateRunning},
		{"STAGE_OUT", slurm.StateRunning}, {"SO", slurm.StateRunning},
		{"CONFIGURING", slurm.StateRunning}, {"CF", slurm.StateRunning},
		{"EXPEDITING", slurm.StateRunning},
		{"RESIZING", slurm.StateRunning}, {"RS", slurm.StateRunning},
		{"SIGNALING", slurm.StateRunning}, {"SI", slurm.StateRunning},
		{"REQUEUED", slurm.StateRequeued}, {"RQ", slurm.StateRequeued},
		{"REQUEUE_FED", slurm.StateRequeued}, {"RF", slurm.StateRequeued},
		{"REQUEUE_HOLD", slurm.StateRequeued}, {"RH", slurm.StateRequeued},
		{"SPECIAL_EXIT", slurm.StateRequeued}, {"SE", slurm.StateRequeued},
		{"RESV_DEL_HOLD", slurm.StatePending}, {"RD", slurm.StatePending},
		{"STOPPED", slurm.StateSuspended}, {"ST", slurm.StateSuspended},
		{"REVOKED", slurm.StateUnknown}, {"RV", slurm.StateUnknown},
		// sacct forms.
		{"CANCELLED by 1001", slurm.StateCancelled},
		{"CANCELLED by 0", slurm.StateCancelled},
		{"CANCELLED+", slurm.StateCancelled}, // fixed-width truncation
		{"OUT_OF_ME+", slurm.StateOutOfMemory},
		{"REQUEUE+", slurm.StateRequeued}, // REQUEUED, REQUEUE_FED, REQUEUE_HOLD: all REQUEUED
		{"C+", slurm.StateUnknown},        // too short to tell
		{"COMP+", slurm.StateUnknown},     // COMPLETED or COMPLETING
		// Case and space.
		{" running\n", slurm.StateRunning}, {"Cancelled", slurm.StateCancelled},
		// Base state with flags (job_state_string_complete, JSON-like renderings).
		{"PENDING,REQUEUED", slurm.StateRequeued},
		{"RUNNING,COMPLETING", slurm.StateRunning},
		{"COMPLETED,COMPLETING", slurm.StateRunning}, // epilog still running: not yet an end
		{"FAILED+COMPLETING", slurm.StateRunning},
		{"PENDING,REQUEUE_HOLD", slurm.StateRequeued},
		{"PENDING,RESV_DEL_HOLD", slurm.StatePending},
		{"RUNNING,SIGNALING", slurm.StateRunning},
		{"RUNNING,POWER_UP_NODE", slurm.StateRunning},
		{"FAILED,LAUNCH_FAILED", slurm.StateFailed},
		{"COMPLETED,UPDATE_DB", slurm.StateCompleted},
		{"TIMEOUT,SOMETHING_NEW", slurm.StateUnknown}, // an unknown flag on an end
		{"RUNNING,SOMETHING_NEW", slurm.StateRunning},
		{"PENDING,EXPEDITING", slurm.StateRunning},
		// Nothing else is a state.
		{"", slurm.StateUnknown}, {"?", slurm.StateUnknown}, {"UNINITIALISED", slurm.StateUnknown},
		{"COMPLETED by 1001", slurm.StateUnknown}, {"DONE", slurm.StateUnknown},
		{"CANCELLED maybe", slurm.StateUnknown}, {"CANCELLED by", slurm.StateUnknown},
		{"CANCELLED by root", slurm.StateUnknown},
		{"PD,REQUEUED", slurm.StateUnknown}, {"FOO,BAR", slurm.StateUnknown},
		{"COMPLETEDX", slurm.StateUnknown}, {"+", slurm.StateUnknown}, {",", slurm.StateUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := slurm.ParseJobState(tt.in); got != tt.want {
				t.Errorf("ParseJobState(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestJobStateFinal(t *testing.T) {
	final := map[slurm.JobState]bool{
		slurm.StateCompleted: true, slurm.StateFailed: true, slurm.StateCancelled: true,
		slurm.StateTimeout: true, slurm.StateNodeFail: true, slurm.StateOutOfMemory: true,
		slurm.StatePreempted: true, slurm.StateBootFail: true, slurm.StateDeadline: true,
		slurm.StateRejected: true,
	}
	states := slurm.JobStates()
	if len(states) != 17 {
		t.Fatalf("JobStates() has %d states, ARCHITECTURE.md lists 17", len(states))
	}
	for _, s := range states {
		if got := s.IsFinal(); got != final[s] {
			t.Errorf("%s.IsFinal() = %v, want %v", s, got, final[s])
		}
		if !s.Valid() {
			t.Errorf("%s.Valid() = false", s)
		}
	}
	if slurm.JobState("DONE").Valid() || slurm.JobState("DONE").IsFinal() {
		t.Error("a state outside the set is valid or final")
	}
	if slurm.StateUnknown.IsFinal() {
		t.Error("UNKNOWN is final")
	}
}

// TestRecordedStatesKnown: every state the real Slurm printed in the fixtures maps
// onto a state other than UNKNOWN.
func TestRecordedStatesKnown(t *testing.T) {
	for _, site := range []string{"ca-hydro", "de-hpc"} {
		m := fxLoad(t, site)
		for name := range m.Commands {
			if !strings.HasPrefix(name, "squeue") && !strings.HasPrefix(name, "sacct") {
				continue
			}
			r := fxOpen(t, site, name, "out")
			var states []string
			if strings.HasPrefix(name, "squeue") {
				jobs, err := slurm.ParseSqueue(r)
				if err != nil {
					t.Fatalf("%s/%s: %v", site, name, err)
				}
				for _, j := range jobs {
					states = append(states, j.SlurmState)
				}
			} else {
				rows, err := slurm.ParseSacct(r)
				if err != nil {
					t.Fatalf("%s/%s: %v", site, name, err)
				}
				for _, j := range rows {
					states = append(states, j.SlurmState)
				}
			}
			for _, s := range states {
				if slurm.ParseJobState(s) == slurm.StateUnknown {
					t.Errorf("%s/%s: Slurm printed %q, mapped to UNKNOWN", site, name, s)
				}
			}
		}
	}
}

func TestParseExitCode(t *testing.T) {
	tests := []struct {
		in           string
		code, signal int
		ok           bool
	}{
		{"0:0", 0, 0, true}, {"3:0", 3, 0, true}, {"0:9", 0, 9, true}, {"0:125", 0, 125, true},
		{"255:0", 255, 0, true}, {"1", 1, 0, true}, {" 2:15 ", 2, 15, true},
		{"", 0, 0, false}, {"a:b", 0, 0, false}, {"1:", 0, 0, false}, {":1", 0, 0, false},
		{"256:0", 0, 0, false}, {"-1:0", 0, 0, false}, {"1:2:3", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			code, sig, err := slurm.ParseExitCode(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseExitCode(%q) error %v, want ok=%v", tt.in, err, tt.ok)
			}
			if code != tt.code || sig != tt.signal {
				t.Errorf("ParseExitCode(%q) = %d, %d; want %d, %d", tt.in, code, sig, tt.code, tt.signal)
			}
		})
	}
}
