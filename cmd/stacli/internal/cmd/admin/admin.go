// Package admin holds `stacli admin`: projects and allocations, for users
// with the admin role (STACLI_CONFIG=<admin config> stacli admin ...).
package admin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// NewCmdAdmin returns `stacli admin` and its nouns.
func NewCmdAdmin(f *cmdutil.Factory) *cobra.Command {
	cmd := cmdutil.NewGroup("admin <command>", "Manage projects and allocations (admins)", `  STACLI_CONFIG=~/.config/stacli/admin.toml stacli admin project list
  stacli admin allocation grant --project climate-ca --site ca-hydro --core-hours 50000`)
	project := cmdutil.NewGroup("project <command>", "Create and list projects", `  stacli admin project create climate-ca --member alice --jurisdiction CA --account ca-hydro=def-climate
  stacli admin project list`)
	project.AddCommand(NewCmdProjectCreate(f, nil), NewCmdProjectList(f, nil))
	alloc := cmdutil.NewGroup("allocation <command>", "Grant allocations of core-hours", `  stacli admin allocation grant --project climate-ca --site ca-hydro --core-hours 50000 --start 2026-01-01 --end 2027-01-01`)
	alloc.AddCommand(NewCmdGrant(f, nil))
	cmd.AddCommand(project, alloc, NewCmdAudit(f, nil))
	return cmd
}

// ProjectCreateOptions are the inputs of `stacli admin project create`.
type ProjectCreateOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	Project api.Project
	JSON    bool
}

// NewCmdProjectCreate returns `stacli admin project create`.
func NewCmdProjectCreate(f *cmdutil.Factory, runF func(context.Context, *ProjectCreateOptions) error) *cobra.Command {
	opts := &ProjectCreateOptions{IO: f.IOStreams, Client: f.Client}
	var accounts []string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a project",
		Long: `Create a project: its members (users of the gateway), the jurisdictions its
jobs may run in, and its Slurm account at each site (SITE=ACCOUNT).`,
		Example: `  stacli admin project create climate-ca --member alice,bob --jurisdiction CA \
      --account ca-hydro=def-climate --account ca-east=def-climate`,
		Args: cmdutil.ExactArgs(1, "a project NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Project.Name = args[0]
			opts.Project.Accounts = map[string]string{}
			for _, a := range accounts {
				site, acct, ok := strings.Cut(a, "=")
				if !ok || site == "" || acct == "" {
					return cmdutil.FlagErrorf("--account %q: want SITE=ACCOUNT", a)
				}
				opts.Project.Accounts[site] = acct
			}
			for i, j := range opts.Project.Jurisdictions {
				opts.Project.Jurisdictions[i] = strings.ToUpper(strings.TrimSpace(j))
			}
			if opts.Project.Members == nil {
				opts.Project.Members = []string{}
			}
			if opts.Project.Jurisdictions == nil {
				opts.Project.Jurisdictions = []string{}
			}
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return projectCreateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.Project.Members, "member", nil, "Members (repeat, or comma-separated)")
	cmd.Flags().StringSliceVar(&opts.Project.Jurisdictions, "jurisdiction", nil, "Jurisdictions its jobs may run in (CA,DE)")
	cmd.Flags().StringArrayVar(&accounts, "account", nil, "Slurm account at a site: SITE=ACCOUNT (repeat)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func projectCreateRun(ctx context.Context, opts *ProjectCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	p, err := c.CreateProject(ctx, opts.Project)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, p)
	}
	fmt.Fprintf(opts.IO.Out, "Created project %s\n", p.Name)
	return nil
}

// ProjectListOptions are the inputs of `stacli admin project list`.
type ProjectListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool
}

// NewCmdProjectList returns `stacli admin project list`.
func NewCmdProjectList(f *cmdutil.Factory, runF func(context.Context, *ProjectListOptions) error) *cobra.Command {
	opts := &ProjectListOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List projects",
		Long:    `List every project with its members, jurisdictions and Slurm accounts per site.`,
		Example: `  stacli admin project list
  stacli admin project list --json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return projectListRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func projectListRun(ctx context.Context, opts *ProjectListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	ps, err := c.Projects(ctx)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, ps)
	}
	t := cmdutil.NewTable(opts.IO.Out, "NAME", "JURISDICTIONS", "MEMBERS", "ACCOUNTS")
	for _, p := range ps {
		var accts []string
		for s, a := range p.Accounts {
			accts = append(accts, s+"="+a)
		}
		sort.Strings(accts)
		t.Row(p.Name, strings.Join(p.Jurisdictions, ","), strings.Join(p.Members, ","), strings.Join(accts, ","))
	}
	return t.Flush()
}

// GrantOptions are the inputs of `stacli admin allocation grant`.
type GrantOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	Grant api.Grant
	JSON  bool
}

// NewCmdGrant returns `stacli admin allocation grant`.
func NewCmdGrant(f *cmdutil.Factory, runF func(context.Context, *GrantOptions) error) *cobra.Command {
	opts := &GrantOptions{IO: f.IOStreams, Client: f.Client}
	var start, end string
	cmd := &cobra.Command{
		Use:   "grant",
		Short: "Grant core-hours to a project at a site",
		Long: `Grant an allocation of core-hours to a project at a site, for a period (from
--start, default now, to --end, default a year later; dates are UTC). A grant is
never sent twice: if the gateway may have received it and did not answer, check
'stacli balance' before granting again.`,
		Example: `  stacli admin allocation grant --project climate-ca --site ca-hydro --core-hours 50000
  stacli admin allocation grant --project climate-ca --site de-hpc --core-hours 1000 \
      --start 2026-01-01 --end 2026-07-01 --reason "pilot"`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			g := &opts.Grant
			if g.Project == "" || g.Site == "" || !cmd.Flags().Changed("core-hours") {
				return cmdutil.FlagErrorf("grant needs --project, --site and --core-hours")
			}
			if g.CoreHours <= 0 {
				return cmdutil.FlagErrorf("--core-hours %v: want a positive number", g.CoreHours)
			}
			for _, d := range []struct {
				flag, v string
				dst     **time.Time
			}{{"start", start, &g.Start}, {"end", end, &g.End}} {
				if d.v == "" {
					continue
				}
				t, err := parseDate(d.v)
				if err != nil {
					return cmdutil.FlagErrorf("--%s %q: want a date (2026-01-31) or an RFC 3339 time", d.flag, d.v)
				}
				*d.dst = &t
			}
			if g.Start != nil && g.End != nil && !g.End.After(*g.Start) {
				return cmdutil.FlagErrorf("--end %s is not after --start %s", end, start)
			}
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return grantRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Grant.Project, "project", "", "Project (required)")
	fl.StringVar(&opts.Grant.Site, "site", "", "Site (required)")
	fl.Float64Var(&opts.Grant.CoreHours, "core-hours", 0, "Core-hours granted (required)")
	fl.StringVar(&start, "start", "", "Start of the period (default now)")
	fl.StringVar(&end, "end", "", "End of the period (default a year after the start)")
	fl.BoolVar(&opts.Grant.Overdraft, "overdraft", false, "Let jobs run past the allocation (their overrun is booked)")
	fl.StringVar(&opts.Grant.Reason, "reason", "", "Why, for the audit log")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err
}

func grantRun(ctx context.Context, opts *GrantOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	b, err := c.Grant(ctx, opts.Grant)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, b)
	}
	fmt.Fprintf(opts.IO.Out, "Granted %s core-hours to %s at %s (allocation %s, %s to %s); %s remaining\n",
		cmdutil.FormatHours(b.GrantedHours), b.Project, b.Site, b.AllocationID,
		b.Start.UTC().Format("2006-01-02"), b.End.UTC().Format("2006-01-02"), cmdutil.FormatHours(b.RemainingHours))
	return nil
}
