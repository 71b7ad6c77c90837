package placement_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/placement"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdtest"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
)

const topo = "SwitchName=leaf1 Nodes=n[1-4]\nSwitchName=leaf2 Nodes=n[5-8]\nSwitchName=top Switches=leaf[1-2]\n"

func TestPlanFromStdin(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--free", "n[1-8]", "--nodes", "4"}, 0, "n1\nn2\nn3\nn4\n"},
		{[]string{"--free", "n[3-6]", "--nodes", "2", "--format", "nodelist"}, 0, "n[3-4]\n"},
		{[]string{"--free", "n[1-8]", "--nodes", "2", "--ntasks-per-node", "2", "--format", "mpich"}, 0, "n1:2\nn2:2\n"},
		{[]string{"--free", "n[1-8]", "--nodes", "0"}, 2, ""},
		{[]string{"--free", "n[1-8]", "--nodes", "2", "--format", "xml"}, 2, ""},
		{[]string{"--free", "n[1-8]", "--nodes", "2", "--from", "slurm"}, 2, ""},
		{[]string{"--free", "n9", "--nodes", "1"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e := cmdtest.MustEnv(t, "", "", "")
			e.In.WriteString(topo)
			err := e.Exec(t, placement.NewCmdPlan(e.F, nil), append([]string{"--topology", "-"}, tt.args...)...)
			if code := cmdutil.ExitCode(err); code != tt.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.code)
			}
			if e.Out.String() != tt.out {
				t.Errorf("stdout %q, want %q", e.Out.String(), tt.out)
			}
		})
	}
}

func TestPlanJSONAndSummary(t *testing.T) {
	e := cmdtest.MustEnv(t, "", "", "")
	e.In.WriteString(topo)
	e.IO.SetStderrTTY(true)
	if err := e.Exec(t, placement.NewCmdPlan(e.F, nil), "--topology", "-", "--free", "n[2-8]", "--nodes", "4", "--json"); err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(e.Out.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"nodes", "leaves_spanned", "leaves_lower_bound", "ring_leaf_crossings"} {
		if _, ok := p[k]; !ok {
			t.Errorf("plan JSON lacks %q", k)
		}
	}
	if !strings.Contains(e.Err.String(), "on 1 leaves (lower bound 1)") {
		t.Errorf("summary on a terminal: %q", e.Err.String())
	}
}

func TestConvertFlagsReachOptions(t *testing.T) {
	e := cmdtest.MustEnv(t, "", "", "")
	var got *placement.ConvertOptions
	cmd := placement.NewCmdConvert(e.F, func(_ context.Context, o *placement.ConvertOptions) error { got = o; return nil })
	if err := e.Exec(t, cmd, "--from", "ibnetdiscover", "--ib-exclude", "login[1-2]", "--json", "fabric.txt"); err != nil {
		t.Fatal(err)
	}
	if got.Path != "fabric.txt" || got.From != "ibnetdiscover" || got.IBExclude != "login[1-2]" || !got.JSON {
		t.Errorf("options %+v", got)
	}
	err := e.Exec(t, placement.NewCmdConvert(e.F, nil), "--from", "dot", "x")
	if cmdutil.ExitCode(err) != 2 {
		t.Errorf("--from dot: %v", err)
	}
	// Flags that would do nothing are refused, not ignored.
	err = e.Exec(t, placement.NewCmdConvert(e.F, nil), "--from", "topology.conf", "--ib-exclude", "login[1-2]", "x")
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "--from ibnetdiscover") {
		t.Errorf("--ib-exclude with topology.conf: %v", err)
	}
	err = e.Exec(t, placement.NewCmdPlan(e.F, nil), "--topology", "t.conf", "--free", "n1", "--nodes", "1", "--json", "--format", "rankfile")
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "choose one") {
		t.Errorf("--json --format rankfile: %v", err)
	}
}
