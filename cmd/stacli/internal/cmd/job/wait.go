package job

import (
	"context"
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// WaitOptions are the inputs of `stacli job wait`.
type WaitOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	ID               string
	JSON             bool
	PollMin, PollMax time.Duration
}

// NewCmdWait returns `stacli job wait`.
func NewCmdWait(f *cmdutil.Factory, runF func(context.Context, *WaitOptions) error) *cobra.Command {
	opts := &WaitOptions{IO: f.IOStreams, Client: f.Client, PollMin: f.PollMin}
	cmd := &cobra.Command{
		Use:   "wait ID",
		Short: "Wait for a job to end and exit with its exit code",
		Long: `Follow a job to its end, as sbatch --wait does for the job it submits: progress
on stderr when it is a terminal, the final state on stderr, and the job's exit
code as stacli's own. Ctrl-C stops waiting; the job goes on.`,
		Example: `  stacli job wait j-42
  stacli job wait j-42 --json > result.json; echo "job exited $?"`,
		Args:        cmdutil.ExactArgs(1, "a job ID"),
		Annotations: map[string]string{"wait": "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return waitRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func waitRun(ctx context.Context, opts *WaitOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	j, err := c.Job(ctx, opts.ID)
	if err != nil {
		return err
	}
	j, err = follower{io: opts.IO, client: c, pollMin: opts.PollMin, pollMax: opts.PollMax}.follow(ctx, j)
	if err != nil {
		return interrupted(opts.ID, err)
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, j); err != nil {
			return err
		}
	}
	return endWait(opts.IO, j)
}

func jsonCompact(v any) ([]byte, error) { return json.Marshal(v) }
