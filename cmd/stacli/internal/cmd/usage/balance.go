package usage

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// BalanceOptions are the inputs of `stacli balance`.
type BalanceOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	Project string
	JSON    bool
}

// NewCmdBalance returns `stacli balance`.
func NewCmdBalance(f *cmdutil.Factory, runF func(context.Context, *BalanceOptions) error) *cobra.Command {
	opts := &BalanceOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "balance",
		Short: "Show what is left of allocations",
		Long: `Show each allocation of a project (or of every project you may see): granted,
held by running and pending jobs, charged, and remaining core-hours, with the
period it covers. Remaining = granted - held - charged.`,
		Example: `  stacli balance --project climate-ca
  stacli balance --json | jq '.[] | {project, site, remaining_core_hours}'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return balanceRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "Only this project (default: all you may see)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func balanceRun(ctx context.Context, opts *BalanceOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	bs, err := c.Balance(ctx, opts.Project)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, bs)
	}
	t := cmdutil.NewTable(opts.IO.Out, "PROJECT", "SITE", "ALLOCATION", "START", "END", "GRANTED_H", "HELD_H", "CHARGED_H", "REMAINING_H")
	for _, b := range bs {
		t.Row(b.Project, b.Site, b.AllocationID, day(b.Start), day(b.End), cmdutil.FormatHours(b.GrantedHours),
			cmdutil.FormatHours(hours(b.HeldSeconds)), cmdutil.FormatHours(hours(b.ChargedSeconds)), cmdutil.FormatHours(b.RemainingHours))
	}
	return t.Flush()
}

func hours(s int64) float64 { return float64(s) / 3600 }

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}
