package slurm_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/slurm"
)

func TestParseTimeLimit(t *testing.T) {
	tests := []struct {
		in   string
		want slurm.TimeLimit
		ok   bool
	}{
		{"30", slurm.TimeLimit{Duration: 30 * time.Minute}, true},
		{"5:00", slurm.TimeLimit{Duration: 5 * time.Minute}, true}, // squeue prints M:SS
		{"1:30", slurm.TimeLimit{Duration: 90 * time.Second}, true},
		{"1:30:00", slurm.TimeLimit{Duration: 90 * time.Minute}, true},
		{"00:10:00", slurm.TimeLimit{Duration: 10 * time.Minute}, true},
		{"2-00:00:00", slurm.TimeLimit{Duration: 48 * time.Hour}, true},
		{"1-0", slurm.TimeLimit{Duration: 24 * time.Hour}, true},
		{"2-12", slurm.TimeLimit{Duration: 60 * time.Hour}, true},
		{"2-12:30", slurm.TimeLimit{Duration: 60*time.Hour + 30*time.Minute}, true},
		{"UNLIMITED", slurm.TimeLimit{Infinite: true}, true},
		{"INFINITE", slurm.TimeLimit{Infinite: true}, true},
		{"NONE", slurm.TimeLimit{}, true},
		{"NOT_SET", slurm.TimeLimit{}, true},
		{"Partition_Limit", slurm.TimeLimit{}, true},
		{"N/A", slurm.TimeLimit{}, true},
		{"", slurm.TimeLimit{}, true},
		{"1:2:3:4", slurm.TimeLimit{}, false},
		{"1-2:3:4:5", slurm.TimeLimit{}, false},
		{"-5", slurm.TimeLimit{}, false},
		{"a", slurm.TimeLimit{}, false},
		{"1:", slurm.TimeLimit{}, false},
		{"1-", slurm.TimeLimit{}, false},
		{"9999999999", slurm.TimeLimit{}, false},
		{"1-2-3", slurm.TimeLimit{}, false},
	}
	for _, tt := range tests {
		got, err := slurm.ParseTimeLimit(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTimeLimit(%q) = %+v, %v; want %+v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	for _, tt := range []struct {
		l    slurm.TimeLimit
		want string
	}{
		{slurm.TimeLimit{}, "NONE"}, {slurm.TimeLimit{Infinite: true}, "UNLIMITED"},
		{slurm.TimeLimit{Duration: 90 * time.Minute}, "01:30:00"},
		{slurm.TimeLimit{Duration: 49*time.Hour + 5*time.Second}, "2-01:00:05"},
	} {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.l, got, tt.want)
		}
		if back, err := slurm.ParseTimeLimit(tt.l.String()); err != nil || back != tt.l {
			t.Errorf("round trip of %+v: %+v, %v", tt.l, back, err)
		}
	}
}

// TestClassifyStderr: messages of Slurm's error table as the commands print them.
func TestClassifyStderr(t *testing.T) {
	tests := []struct {
		stderr    string
		want      error
		transient bool
	}{
		{"", nil, false},
		{"  \n\n", nil, false},
		{"squeue: warning: something harmless\n", nil, false},
		{"slurm_load_jobs error: Invalid job id specified\n", slurm.ErrInvalidJobID, false},
		{"squeue: error: Invalid job id: abc\n", slurm.ErrInvalidJobID, false},
		{"slurm_load_jobs error: Socket timed out on send/recv operation\n", slurm.ErrSlurmUnavailable, true},
		{"slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n", slurm.ErrSlurmUnavailable, true},
		{"slurm_load_jobs error: Zero Bytes were transmitted or received\n", slurm.ErrSlurmUnavailable, true},
		{"slurm_load_partitions: Slurm backup controller in standby mode\n", slurm.ErrSlurmUnavailable, true},
		{"sacct: error: Problem talking to the database: Connection refused\n", slurm.ErrSlurmUnavailable, true},
		{"squeue: error: Munge encode failed: Failed to access \"/run/munge/munge.socket.2\"\n", slurm.ErrSlurmUnavailable, true},
		{"squeue: error: Invalid user: nosuchuser\n", slurm.ErrQueryRefused, false},
		{"sacct: error: Invalid time specification (pos=0): 1795706600\n", slurm.ErrQueryRefused, false},
		{"sacct: error: Slurm accounting storage is disabled\n", slurm.ErrQueryRefused, false},
		{"squeue: unrecognized option '--helpformat'\nTry \"squeue --help\" for more information\n", slurm.ErrQueryRefused, false},
		{"something nobody expected\n", slurm.ErrQueryFailed, true},
		// Several lines: unavailability wins (retry), then an invalid id.
		{"slurm_load_jobs error: Invalid job id specified\nslurm_load_jobs error: Socket timed out\n", slurm.ErrSlurmUnavailable, true},
	}
	for _, tt := range tests {
		err := slurm.ClassifySqueueStderr(tt.stderr)
		if (err == nil) != (tt.want == nil) || !errors.Is(err, tt.want) {
			t.Errorf("%q: %v, want %v", tt.stderr, err, tt.want)
			continue
		}
		var se *slurm.StderrError
		if err != nil && (!errors.As(err, &se) || se.Transient() != tt.transient || se.Command != "squeue" ||
			!strings.Contains(err.Error(), strings.TrimSpace(strings.Split(tt.stderr, "\n")[0]))) {
			t.Errorf("%q: %v (transient %v)", tt.stderr, err, se != nil && se.Transient())
		}
	}
	// Exit status without a message.
	if err := slurm.CheckQuery("squeue", 1, ""); !errors.Is(err, slurm.ErrQueryFailed) {
		t.Errorf("exit 1, no stderr: %v", err)
	}
	if err := slurm.CheckQuery("squeue", 0, "squeue: error: Invalid user: x"); !errors.Is(err, slurm.ErrQueryRefused) {
		t.Errorf("exit 0 with an error: %v", err)
	}
	if err := slurm.CheckQuery("sacct", 0, ""); err != nil {
		t.Errorf("clean: %v", err)
	}
}

func TestNewRecordMark(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		m := slurm.NewRecordMark()
		if seen[m] || len(m) < 16 {
			t.Fatalf("mark %q (seen %v)", m, seen[m])
		}
		seen[m] = true
		if _, err := slurm.SqueueArgs(slurm.SqueueQuery{Mark: m}); err != nil {
			t.Fatalf("mark %q refused: %v", m, err)
		}
	}
}
