// Package site holds `stacli site list` and `stacli site show`.
package site

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// NewCmdSite returns `stacli site` and its verbs.
func NewCmdSite(f *cmdutil.Factory) *cobra.Command {
	cmd := cmdutil.NewGroup("site <command>", "Show the federation's sites", `  stacli site list
  stacli site show ca-hydro`)
	cmd.Aliases = []string{"sites"}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdShow(f, nil))
	return cmd
}

// ListOptions are the inputs of `stacli site list`.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool
}

// NewCmdList returns `stacli site list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the sites, their jurisdiction, health and queues",
		Long: `List the sites of the federation as the gateway sees them: jurisdiction,
cluster, whether the gateway reaches them, resource classes, carbon intensity,
cost, and the gateway's live jobs and queue depth there.`,
		Example: `  stacli site list
  stacli site list --json | jq -r '.[] | select(.reachable) | .name'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	sites, err := c.Sites(ctx)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, sites)
	}
	t := cmdutil.NewTable(opts.IO.Out, "NAME", "JURISDICTION", "CLUSTER", "REACHABLE", "CLASSES", "FREE/NODES", "PENDING", "GCO2/KWH", "COST/CORE-H", "LIVE_JOBS")
	for _, s := range sites {
		t.Row(s.Name, s.Jurisdiction, s.Cluster, reachable(&s), strings.Join(s.Classes, ","),
			fmt.Sprintf("%d/%d", s.FreeNodes, s.Nodes), optInt(s.PendingJobs),
			strconv.FormatFloat(s.CarbonGPerKWh, 'f', -1, 64), strconv.FormatFloat(s.CostPerCoreHr, 'f', -1, 64),
			strconv.Itoa(s.LiveJobs))
	}
	return t.Flush()
}

func reachable(s *api.Site) string {
	if s.Reachable {
		return "yes"
	}
	return "NO"
}

// ShowOptions are the inputs of `stacli site show`.
type ShowOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Name   string
	JSON   bool
}

// NewCmdShow returns `stacli site show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one site",
		Long:  `Show one site: its jurisdiction, cluster, health (last poll and last error), classes and queues.`,
		Example: `  stacli site show de-hpc
  stacli site show de-hpc --json`,
		Args: cmdutil.ExactArgs(1, "a site NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	s, err := c.Site(ctx, opts.Name)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, s)
	}
	t := cmdutil.NewTable(opts.IO.Out, "FIELD", "VALUE")
	t.Row("name", s.Name)
	t.Row("jurisdiction", s.Jurisdiction)
	t.Row("cluster", s.Cluster)
	t.Row("reachable", reachable(s))
	t.Row("last_error", s.LastError)
	t.Row("last_poll", cmdutil.FormatTime(s.LastPoll))
	t.Row("classes", strings.Join(s.Classes, ", "))
	t.Row("carbon_g_per_kwh", fmt.Sprint(s.CarbonGPerKWh))
	t.Row("cost_per_core_hour", fmt.Sprint(s.CostPerCoreHr))
	t.Row("live_jobs", strconv.Itoa(s.LiveJobs))
	t.Row("queue_depth", strconv.Itoa(s.QueueDepth))
	t.Row("nodes", strconv.Itoa(s.Nodes))
	t.Row("free_nodes", strconv.Itoa(s.FreeNodes))
	t.Row("pending_jobs", optInt(s.PendingJobs))
	t.Row("view_at", cmdutil.FormatTime(s.ViewAt))
	t.Row("topology", s.Topology)
	for _, p := range s.Partitions {
		t.Row("partition "+p.Name, fmt.Sprintf("%s, %d/%d nodes idle, %d free CPUs, pending %s, running %s, max time %s",
			p.State, p.IdleNodes, p.TotalNodes, p.FreeCPUs, optInt(p.PendingJobs), optInt(p.RunningJobs), orDash(p.MaxTime)))
	}
	return t.Flush()
}

// optInt prints a count the gateway may not know ("-").
func optInt(v *int) string {
	if v == nil {
		return "-"
	}
	return strconv.Itoa(*v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
