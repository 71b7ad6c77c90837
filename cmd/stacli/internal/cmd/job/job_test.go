package job_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/job"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
)

func ip(n int) *int { return &n }

func TestWaitExitCode(t *testing.T) {
	tests := []struct {
		name string
		job  api.Job
		want int
	}{
		{"completed 0", api.Job{State: api.StateCompleted, ExitCode: ip(0), ExitSignal: ip(0)}, 0},
		{"completed without code", api.Job{State: api.StateCompleted}, 0},
		{"failed 3", api.Job{State: api.StateFailed, ExitCode: ip(3), ExitSignal: ip(0)}, 3},
		{"failed 255", api.Job{State: api.StateFailed, ExitCode: ip(255)}, 255},
		{"signal", api.Job{State: api.StateFailed, ExitCode: ip(0), ExitSignal: ip(9)}, 1},
		{"signal with code", api.Job{State: api.StateCancelled, ExitCode: ip(2), ExitSignal: ip(15)}, 1},
		{"rejected, no code", api.Job{State: api.StateRejected}, 1},
		{"cancelled while pending", api.Job{State: api.StateCancelled}, 1},
		{"node fail with 0", api.Job{State: api.StateNodeFail, ExitCode: ip(0), ExitSignal: ip(0)}, 1},
		{"timeout", api.Job{State: api.StateTimeout, ExitCode: ip(0), ExitSignal: ip(15)}, 1},
		{"array highest", api.Job{State: api.StateFailed, ExitCode: ip(1), Array: &api.ArrayTasks{Total: 5, MaxExitCode: ip(4)}}, 4},
		{"array all 0", api.Job{State: api.StateCompleted, Array: &api.ArrayTasks{Total: 5, MaxExitCode: ip(0)}}, 0},
		{"array signalled", api.Job{State: api.StateFailed, Array: &api.ArrayTasks{Total: 5, MaxExitCode: ip(0), Signaled: 1}}, 1},
		{"array signal and 7", api.Job{State: api.StateFailed, Array: &api.ArrayTasks{Total: 5, MaxExitCode: ip(7), Signaled: 2}}, 7},
		{"array no codes", api.Job{State: api.StateCancelled, Array: &api.ArrayTasks{Total: 5}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := job.WaitExitCode(&tt.job); got != tt.want {
				t.Errorf("WaitExitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBuildRequest(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "train.sbatch")
	text := "#!/bin/bash\n#SBATCH --nodes=2\n#SBATCH --time=10\n#SBATCH -J train\nsrun hostname\n"
	if err := os.WriteFile(script, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	base := func() *job.SubmitOptions {
		return &job.SubmitOptions{IO: ios, ScriptPath: script, Project: "p", Site: "auto"}
	}
	changed := func(flags ...string) func(string) bool {
		return func(f string) bool {
			for _, x := range flags {
				if x == f {
					return true
				}
			}
			return false
		}
	}

	o := base()
	req, merged, err := job.BuildRequest(o)
	if err != nil {
		t.Fatal(err)
	}
	if req.Script != text || req.ScriptName != "train.sbatch" || req.Project != "p" || req.Site != "auto" || req.Nodes != 0 || req.Time != "" {
		t.Errorf("without flags the request overrides nothing: %+v", req)
	}
	if merged.Nodes.Min != 2 || merged.JobName != "train" {
		t.Errorf("merged options %+v", merged)
	}

	o = base()
	o.Nodes, o.Time, o.JobName, o.Jurisdictions, o.Placement, o.Array = 4, "1:00:00", "big", []string{"ca", " de"}, "topology", "0-3"
	o.Changed = changed("nodes", "time", "job-name", "array")
	req, merged, err = job.BuildRequest(o)
	if err != nil {
		t.Fatal(err)
	}
	if req.Nodes != 4 || req.Time != "1:00:00" || req.JobName != "big" || req.Array != "0-3" || req.Placement != "topology" ||
		strings.Join(req.Jurisdictions, ",") != "CA,DE" {
		t.Errorf("flags not in the request: %+v", req)
	}
	if merged.Nodes.Min != 4 || merged.JobName != "big" {
		t.Errorf("flags do not override directives: %+v", merged)
	}

	for _, tt := range []struct {
		name  string
		set   func(*job.SubmitOptions)
		usage bool
		msg   string
	}{
		{"no project", func(o *job.SubmitOptions) { o.Project = "" }, true, "no project"},
		{"bad time", func(o *job.SubmitOptions) { o.Time = "x"; o.Changed = changed("time") }, true, "--time"},
		{"infinite time", func(o *job.SubmitOptions) { o.Time = "INFINITE"; o.Changed = changed("time") }, true, "INFINITE"},
		{"bad array", func(o *job.SubmitOptions) { o.Array = "a-b"; o.Changed = changed("array") }, true, "--array"},
		{"zero gpus", func(o *job.SubmitOptions) { o.Changed = changed("gpus") }, true, "--gpus"},
		{"bad jurisdiction", func(o *job.SubmitOptions) { o.Jurisdictions = []string{"C A"} }, true, "--jurisdiction"},
		{"bad placement", func(o *job.SubmitOptions) { o.Placement = "fast" }, true, "--placement"},
		{"bad partition", func(o *job.SubmitOptions) { o.Partition = "a b"; o.Changed = changed("partition") }, true, "--partition"},
		{"missing script", func(o *job.SubmitOptions) { o.ScriptPath = filepath.Join(dir, "nope") }, false, "cannot read script"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.set(o)
			_, _, err := job.BuildRequest(o)
			var fe *cmdutil.FlagError
			if err == nil || errors.As(err, &fe) != tt.usage || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v (usage error: %v), want %q (usage %v)", err, errors.As(err, &fe), tt.msg, tt.usage)
			}
		})
	}
}
