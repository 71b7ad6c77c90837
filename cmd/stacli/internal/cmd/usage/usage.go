// Package usage holds `stacli usage` (usage reports) and `stacli balance`
// (what is left of allocations).
package usage

import (
	"context"
	"encoding/csv"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// Values of --by and --format.
var (
	ByValues     = []string{"user", "site", "partition", "month"}
	FormatValues = []string{"table", "csv", "json"}
)

// UsageOptions are the inputs of `stacli usage`.
type UsageOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	Project string
	By      string
	Since   string
	Until   string
	Format  string
}

// NewCmdUsage returns `stacli usage`.
func NewCmdUsage(f *cmdutil.Factory, runF func(context.Context, *UsageOptions) error) *cobra.Command {
	opts := &UsageOptions{IO: f.IOStreams, Client: f.Client}
	var jsonFlag bool
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Report core-hours used, per project, user, site, partition or month",
		Long: `Report the core-hours charged to projects (the ones you may see; an admin sees
all), as the gateway's ledger has them: integer core-seconds and core-hours. A
job's usage belongs to the month (UTC) in which it ended, so --since and --until
name months, both included: 2026-01, or a date such as 2026-01-31 standing for
its month.

--format csv prints every column with a header row, for spreadsheets.`,
		Example: `  stacli usage --project climate-ca --by month
  stacli usage --by user --since 2026-01 --until 2026-03 --format csv > q1.csv
  stacli usage --by site --json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if jsonFlag {
				if cmd.Flags().Changed("format") && opts.Format != "json" {
					return cmdutil.FlagErrorf("--json and --format %s disagree", opts.Format)
				}
				opts.Format = "json"
			} else if !cmd.Flags().Changed("format") && f.WantJSON(false) {
				opts.Format = "json"
			}
			if err := cmdutil.OneOf("format", opts.Format, FormatValues); err != nil {
				return err
			}
			if opts.By != "" {
				if err := cmdutil.OneOf("by", opts.By, ByValues); err != nil {
					return err
				}
			}
			for _, d := range []struct{ flag, v string }{{"since", opts.Since}, {"until", opts.Until}} {
				if d.v != "" && !validDate(d.v) {
					return cmdutil.FlagErrorf("--%s %q: want a month (2026-01) or a date (2026-01-31)", d.flag, d.v)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return usageRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Project, "project", "", "Only this project (default: all you may see)")
	fl.StringVar(&opts.By, "by", "", "Break down by user, site, partition or month")
	fl.StringVar(&opts.Since, "since", "", "From this month on (2026-01; included)")
	fl.StringVar(&opts.Until, "until", "", "Up to this month (2026-03; included)")
	fl.StringVar(&opts.Format, "format", "table", "Output: table, csv or json")
	cmdutil.AddJSONFlag(cmd, &jsonFlag)
	_ = cmd.RegisterFlagCompletionFunc("by", cobra.FixedCompletions(ByValues, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(FormatValues, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func validDate(s string) bool {
	for _, layout := range []string{"2006-01-02", "2006-01"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

func usageRun(ctx context.Context, opts *UsageOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	rows, err := c.Usage(ctx, client.UsageFilter{Project: opts.Project, By: opts.By, Since: opts.Since, Until: opts.Until})
	if err != nil {
		return err
	}
	out := opts.IO.Out
	switch opts.Format {
	case "json":
		return cmdutil.WriteJSON(out, rows)
	case "csv":
		w := csv.NewWriter(out)
		_ = w.Write([]string{"project", "user", "site", "partition", "month", "jobs", "core_seconds", "core_hours"})
		for _, r := range rows {
			_ = w.Write([]string{r.Project, r.User, r.Site, r.Partition, r.Month, strconv.FormatInt(r.Jobs, 10),
				strconv.FormatInt(r.CoreSeconds, 10), strconv.FormatFloat(r.CoreHours, 'f', -1, 64)})
		}
		w.Flush()
		return w.Error()
	}
	header := []string{"PROJECT"}
	if opts.By != "" {
		header = append(header, map[string]string{"user": "USER", "site": "SITE", "partition": "PARTITION", "month": "MONTH"}[opts.By])
	}
	header = append(header, "JOBS", "CORE_HOURS", "CORE_SECONDS")
	t := cmdutil.NewTable(out, header...)
	var total api.UsageRow
	for _, r := range rows {
		cells := []string{r.Project}
		if opts.By != "" {
			cells = append(cells, map[string]string{"user": r.User, "site": r.Site, "partition": r.Partition, "month": r.Month}[opts.By])
		}
		cells = append(cells, strconv.FormatInt(r.Jobs, 10), cmdutil.FormatHours(r.CoreHours), strconv.FormatInt(r.CoreSeconds, 10))
		t.Row(cells...)
		total.Jobs += r.Jobs
		total.CoreSeconds += r.CoreSeconds
	}
	if len(rows) > 1 {
		cells := []string{"TOTAL"}
		if opts.By != "" {
			cells = append(cells, "")
		}
		cells = append(cells, strconv.FormatInt(total.Jobs, 10), cmdutil.FormatHours(api.CoreHours(total.CoreSeconds)), strconv.FormatInt(total.CoreSeconds, 10))
		t.Row(cells...)
	}
	return t.Flush()
}
