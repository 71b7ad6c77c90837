package job

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// ExplainOptions are the inputs of `stacli job explain`.
type ExplainOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	ID   string
	JSON bool
}

// NewCmdExplain returns `stacli job explain`.
func NewCmdExplain(f *cmdutil.Factory, runF func(context.Context, *ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "explain ID",
		Short: "Show why the gateway routed a job where it did",
		Long: `Show the routing decision recorded for a job: every site considered, whether it
was eligible (jurisdiction, resource class, partition limits, allocation, health)
with the reasons, and its score.`,
		Example: `  stacli job explain j-42
  stacli job explain j-42 --json | jq '.candidates[] | select(.eligible|not)'`,
		Args: cmdutil.ExactArgs(1, "a job ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return explainRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func explainRun(ctx context.Context, opts *ExplainOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	d, err := c.Explain(ctx, opts.ID)
	if err != nil {
		return err
	}
	if d.Candidates == nil {
		d.Candidates = []api.SiteCandidate{}
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	return writeDecision(opts.IO.Out, d)
}
