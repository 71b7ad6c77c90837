package sbatch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// refusal is one expected policy error.
type refusal struct {
	line int
	err  error
	msg  string
}

func checkRefusals(t *testing.T, err error, want []refusal) {
	t.Helper()
	got := unjoin(err)
	if err == nil {
		got = nil
	}
	if len(got) != len(want) {
		t.Fatalf("got %d refusals, want %d: %v", len(got), len(want), err)
	}
	for i, w := range want {
		var e *Error
		if !errors.As(got[i], &e) {
			t.Fatalf("refusal %v is not an *Error", got[i])
		}
		if e.Line != w.line || !errors.Is(e, w.err) || !strings.Contains(e.Error(), w.msg) {
			t.Errorf("refusal %d: %v (line %d); want line %d, %v, %q", i, e, e.Line, w.line, w.err, w.msg)
		}
	}
}

func TestPolicyCheckScripts(t *testing.T) {
	tests := []struct {
		file string
		want []refusal
	}{
		{"simple.sh", nil},
		{"gpu_training.sh", nil},
		{"everything.sh", nil},
		{"clusters.sh", []refusal{{2, ErrForbidden, "line 2: -M: the gateway chooses the cluster"}}},
		{"uid_gid.sh", []refusal{{2, ErrForbidden, "--uid"}, {2, ErrForbidden, "--gid"}}},
		{"hetjob.sh", []refusal{{3, ErrHetJob, "heterogeneous jobs are not supported"}}},
		{"packjob.sh", []refusal{{3, ErrHetJob, "packjob"}}},
		{"hetjob_midline.sh", []refusal{{2, ErrHetJob, "drops this word and the rest of its line"}}},
		{"hetjob_in_value.sh", nil},
		{"pbs.sh", []refusal{{3, ErrNotAllowed, "#PBS"}, {4, ErrNotAllowed, "#PBS"}}},
		{"slurm_prefix.sh", []refusal{{2, ErrNotAllowed, "write #SBATCH instead"}}},
		{"other_options.sh", []refusal{
			{2, ErrNotAllowed, "--hold is not accepted"}, {2, ErrNotAllowed, "--begin"},
			{2, ErrNotAllowed, "--priority"}, {2, ErrNotAllowed, "--signal"}, {2, ErrNotAllowed, "-k: sbatch option --no-kill"},
		}},
		{"unlimited.sh", []refusal{{2, ErrUnlimitedTime, "line 2: --time: an INFINITE"}}},
		{"time_zero.sh", []refusal{{2, ErrUnlimitedTime, "INFINITE"}}},
		{"empty_values.sh", []refusal{{2, ErrInvalidValue, "--job-name"}}},
	}
	p := DefaultPolicy()
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata/scripts", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			checkRefusals(t, p.Check(mustParse(t, string(b))), tt.want)
		})
	}
}

func TestPolicyCheckShapes(t *testing.T) {
	p := DefaultPolicy()
	for _, tt := range []struct {
		header string
		want   []refusal
	}{
		{"#SBATCH --clusters=x", []refusal{{2, ErrForbidden, "--clusters"}}},
		{"#SBATCH --cluster=x", []refusal{{2, ErrForbidden, "--cluster"}}},
		{"#SBATCH --clusters x -N 2", []refusal{{2, ErrForbidden, "--clusters"}}},
		{"#SBATCH --uid 0", []refusal{{2, ErrForbidden, "--uid"}}},
		{"#SBATCH -N 2\n#SBATCH --wrap=true", []refusal{{3, ErrNotAllowed, "--wrap"}}},
		{"#SBATCH --export-file=/etc/passwd", []refusal{{2, ErrNotAllowed, "--export-file"}}},
		{"#SBATCH -J 'a\tb'", []refusal{{2, ErrInvalidValue, "control character"}}},
		{"#SBATCH -p 'a b'", []refusal{{2, ErrInvalidValue, "--partition: value contains a space"}}},
		{"#SBATCH -w node/1", []refusal{{2, ErrInvalidValue, "--nodelist"}}},
		{"#SBATCH --array=x", []refusal{{2, ErrInvalidValue, "invalid job array"}}},
		{"#SBATCH --dependency='afterok:1;id'", []refusal{{2, ErrInvalidValue, "--dependency"}}},
		{"#SBATCH --time-min=UNLIMITED -t 10", []refusal{{2, ErrUnlimitedTime, "--time-min"}}},
		{"#SBATCH -t 5\n#SBATCH -t -1", []refusal{{3, ErrUnlimitedTime, "--time"}}},
		{"#SBATCH -t -1\n#SBATCH -t 5", nil}, // the last one counts
		{"#SBATCH -N 2\n#SBATCH hetjob\n#SBATCH --uid=0", []refusal{{3, ErrHetJob, "new job component"}, {4, ErrForbidden, "--uid"}}},
		{"#SBATCH -N 2 -c 4 --mem-per-cpu=2G -t 1-0", nil},
	} {
		s := mustParse(t, "#!/bin/sh\n"+tt.header+"\nsrun true\n")
		t.Run(tt.header, func(t *testing.T) { checkRefusals(t, p.Check(s), tt.want) })
	}
}

func TestPolicyAllowlist(t *testing.T) {
	p := &Policy{Allowed: map[string]bool{"nodes": true, "time": true}}
	s := mustParse(t, "#!/bin/sh\n#SBATCH -N 2 -t 10\n#SBATCH -A other\n#SBATCH --oversubscribe\n")
	checkRefusals(t, p.Check(s), []refusal{{3, ErrNotAllowed, "--account"}, {4, ErrNotAllowed, "--oversubscribe"}})

	checkRefusals(t, p.CheckOptions(mustOptions(t, "nodes", "2", "qos", "high")), []refusal{{0, ErrNotAllowed, "--qos"}})
	checkRefusals(t, DefaultPolicy().CheckOptions(mustOptions(t, "time", "UNLIMITED")), []refusal{{0, ErrUnlimitedTime, "--time"}})
	checkRefusals(t, DefaultPolicy().CheckOptions(mustOptions(t, "comment", "a\nb")), []refusal{{0, ErrInvalidValue, "--comment"}})
	checkRefusals(t, DefaultPolicy().CheckOptions(mustOptions(t, "nodes", "2", "time", "10")), nil)

	for _, n := range OptionNames() {
		if !DefaultPolicy().Allowed[n] {
			t.Errorf("DefaultPolicy does not allow %s", n)
		}
		if _, ok := ScontrolField[n]; !ok && n != "open-mode" && n != "export" {
			t.Errorf("no scontrol field for %s", n)
		}
	}
}
