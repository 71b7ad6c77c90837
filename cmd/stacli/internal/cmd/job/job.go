// Package job holds the `stacli job` commands: submit, status, list, cancel,
// logs, wait and explain. Each has an Options struct, a NewCmdX(f, runF)
// constructor and an xRun(ctx, opts) function that does the work through
// the options alone (so tests call it with buffers and a fake gateway).
package job

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

// NewCmdJob returns `stacli job` and its verbs.
func NewCmdJob(f *cmdutil.Factory) *cobra.Command {
	cmd := cmdutil.NewGroup("job <command>", "Submit, follow and manage jobs", `  stacli job submit train.sbatch --project climate-ca
  stacli job list --state RUNNING
  stacli job logs j-42 -f`)
	cmd.Aliases = []string{"jobs"}
	cmd.AddCommand(
		NewCmdSubmit(f, nil),
		NewCmdStatus(f, nil),
		NewCmdList(f, nil),
		NewCmdCancel(f, nil),
		NewCmdLogs(f, nil),
		NewCmdWait(f, nil),
		NewCmdExplain(f, nil),
	)
	return cmd
}

// writeJob prints one job for people, a field per line.
func writeJob(w io.Writer, j *api.Job) error {
	t := cmdutil.NewTable(w, "FIELD", "VALUE")
	t.Row("id", j.ID)
	t.Row("state", string(j.State))
	t.Row("reason", j.Reason)
	t.Row("project", j.Project)
	t.Row("user", j.User)
	site := j.Site
	if j.Cluster != "" && j.Cluster != j.Site {
		site += " (cluster " + j.Cluster + ")"
	}
	if j.Unreachable {
		site += " [unreachable: state may be stale]"
	}
	t.Row("site", site)
	t.Row("site_job_id", j.SiteJobID)
	t.Row("account", j.Account)
	t.Row("partition", j.Partition)
	t.Row("name", j.Name)
	t.Row("nodes", nodeList(j.Nodes))
	t.Row("exit_code", exitText(j))
	t.Row("core_hours", coreHoursText(j))
	if j.Array != nil {
		t.Row("array", arrayText(j.Array))
	}
	if j.HoldProblem != "" {
		t.Row("hold_problem", j.HoldProblem+" (ask your allocation's admin)")
	}
	t.Row("submitted_at", cmdutil.FormatTime(j.SubmittedAt))
	t.Row("started_at", cmdutil.FormatTime(j.StartedAt))
	t.Row("ended_at", cmdutil.FormatTime(j.EndedAt))
	return t.Flush()
}

func nodeList(nodes []string) string {
	if len(nodes) == 0 {
		return ""
	}
	if s, err := hostlist.Compress(nodes); err == nil {
		return s
	}
	return strings.Join(nodes, ",")
}

func exitText(j *api.Job) string {
	var s string
	if j.ExitCode != nil {
		s = strconv.Itoa(*j.ExitCode)
	}
	if j.ExitSignal != nil && *j.ExitSignal != 0 {
		if s == "" {
			s = "-"
		}
		s += fmt.Sprintf(" (signal %d)", *j.ExitSignal)
	}
	return s
}

func coreHoursText(j *api.Job) string {
	s := fmt.Sprintf("%s (%d core-seconds)", cmdutil.FormatHours(j.CoreHours), j.CoreSeconds)
	if j.HoldSeconds > 0 && !j.State.Final() {
		s += fmt.Sprintf(", %s held", cmdutil.FormatHours(api.CoreHours(j.HoldSeconds)))
	}
	return s
}

func arrayText(a *api.ArrayTasks) string {
	states := make([]string, 0, len(a.ByState))
	for s := range a.ByState {
		states = append(states, string(s))
	}
	sort.Strings(states)
	parts := make([]string, 0, len(states))
	for _, s := range states {
		parts = append(parts, fmt.Sprintf("%d %s", a.ByState[api.JobState(s)], s))
	}
	return fmt.Sprintf("%d tasks: %s", a.Total, strings.Join(parts, ", "))
}

// parseState reads a --state value, in any case.
func parseState(s string) (api.JobState, error) {
	st := api.JobState(strings.ToUpper(strings.TrimSpace(s)))
	if !st.Valid() {
		names := make([]string, len(api.States))
		for i, v := range api.States {
			names[i] = string(v)
		}
		return "", cmdutil.FlagErrorf("--state %q: want one of %s", s, strings.Join(names, ", "))
	}
	return st, nil
}

func stateNames() []string {
	names := make([]string, len(api.States))
	for i, v := range api.States {
		names[i] = string(v)
	}
	return names
}
