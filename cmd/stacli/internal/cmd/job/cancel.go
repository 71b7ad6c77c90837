package job

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// CancelOptions are the inputs of `stacli job cancel`.
type CancelOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	IDs  []string
	JSON bool
}

// NewCmdCancel returns `stacli job cancel`.
func NewCmdCancel(f *cmdutil.Factory, runF func(context.Context, *CancelOptions) error) *cobra.Command {
	opts := &CancelOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "cancel ID...",
		Short: "Cancel jobs",
		Long: `Cancel jobs, as scancel does: pending jobs leave the queue, running ones are
signalled. Cancelling a job that has already ended changes nothing. With several
IDs, every one is tried and the exit code is that of the first failure.`,
		Example: `  stacli job cancel j-42
  stacli cancel j-42 j-43 --json`,
		Args: cmdutil.MinimumArgs(1, "one or more job IDs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IDs = args
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return cancelRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func cancelRun(ctx context.Context, opts *CancelOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	jobs := []*api.Job{}
	var first error
	for _, id := range opts.IDs {
		j, err := c.Cancel(ctx, id)
		if err != nil {
			if first == nil {
				first = err
			} else {
				fmt.Fprintf(opts.IO.ErrOut, "stacli: %v\n", err)
			}
			if errors.Is(err, client.ErrUnreachable) || ctx.Err() != nil {
				break
			}
			continue
		}
		jobs = append(jobs, j)
		if !opts.JSON {
			fmt.Fprintf(opts.IO.Out, "%s %s\n", j.ID, j.State)
		}
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, jobs); err != nil {
			return err
		}
	}
	return first
}
