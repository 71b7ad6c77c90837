package job

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// ListOptions are the inputs of `stacli job list`.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	Project string
	State   string
	Site    string
	User    string
	Limit   int
	JSON    bool
}

// NewCmdList returns `stacli job list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List jobs, newest first",
		Long: `List the jobs you may see (an admin sees all), newest first, like squeue and
sacct together: live and ended jobs alike.`,
		Example: `  stacli job list
  stacli job list --project climate-ca --state RUNNING
  stacli job list --site de-hpc --user alice --json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.State != "" {
				if _, err := parseState(opts.State); err != nil {
					return err
				}
			}
			if opts.Limit < 0 {
				return cmdutil.FlagErrorf("--limit %d: want 0 (the gateway's default) or more", opts.Limit)
			}
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Project, "project", "", "Only jobs of this project")
	fl.StringVar(&opts.State, "state", "", "Only jobs in this state (PENDING, RUNNING, COMPLETED, ...)")
	fl.StringVar(&opts.Site, "site", "", "Only jobs at this site")
	fl.StringVar(&opts.User, "user", "", "Only jobs of this user")
	fl.IntVarP(&opts.Limit, "limit", "L", 0, "At most this many jobs (0: the gateway's default)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(stateNames(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	var st api.JobState
	if opts.State != "" {
		if st, err = parseState(opts.State); err != nil {
			return err
		}
	}
	jobs, err := c.Jobs(ctx, client.JobFilter{Project: opts.Project, State: st, Site: opts.Site, User: opts.User, Limit: opts.Limit})
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, jobs)
	}
	t := cmdutil.NewTable(opts.IO.Out, "ID", "STATE", "SITE", "SLURM_ID", "PROJECT", "USER", "NAME", "NODES", "EXIT", "SUBMITTED", "REASON")
	for i := range jobs {
		j := &jobs[i]
		site := j.Site
		if j.Unreachable {
			site += "(!)"
		}
		t.Row(j.ID, string(j.State), site, j.SiteJobID, j.Project, j.User, j.Name, nodeList(j.Nodes), exitText(j),
			cmdutil.FormatTime(j.SubmittedAt), j.Reason)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(jobs) == 0 && opts.IO.IsStderrTTY() {
		_, _ = opts.IO.ErrOut.Write([]byte("No jobs match.\n"))
	}
	return nil
}
