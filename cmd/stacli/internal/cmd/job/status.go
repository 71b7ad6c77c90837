package job

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// StatusOptions are the inputs of `stacli job status`.
type StatusOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	ID   string
	JSON bool
}

// NewCmdStatus returns `stacli job status` (also `stacli status`).
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a job's state, site, nodes, exit code and usage",
		Long: `Show one job as the gateway knows it: its state and Slurm's reason, the site and
Slurm job id, the nodes, the exit code and the core-hours charged (or held while
it runs). Times are UTC.`,
		Example: `  stacli status j-42
  stacli job status j-42 --json | jq -r .state`,
		Args: cmdutil.ExactArgs(1, "a job ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	j, err := c.Job(ctx, opts.ID)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, j)
	}
	return writeJob(opts.IO.Out, j)
}
