package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// DefaultLongPoll is how long one request of `logs -f` lets the gateway hold
// it while there is no new output.
const DefaultLongPoll = 30 * time.Second

// LogsOptions are the inputs of `stacli job logs`.
type LogsOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	ID       string
	Follow   bool
	Stderr   bool
	JSON     bool
	LongPoll time.Duration
}

// NewCmdLogs returns `stacli job logs`.
func NewCmdLogs(f *cmdutil.Factory, runF func(context.Context, *LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a job's output",
		Long: `Print what a job has written to its standard output (or, with --stderr, its
standard error) so far. With -f, keep printing as the job writes, until it ends
(the gateway holds each request until there is new output).

--json prints {"job_id", "stream", "data", "next", "eof"}: one object without -f,
one object per line for each chunk with -f.`,
		Example: `  stacli job logs j-42
  stacli logs j-42 -f
  stacli job logs j-42 --stderr | tail`,
		Args: cmdutil.ExactArgs(1, "a job ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return logsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "Keep printing new output until the job ends")
	cmd.Flags().BoolVar(&opts.Stderr, "stderr", false, "Print the job's standard error instead of its standard output")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

// chunk is the JSON form of logs output.
type chunk struct {
	JobID  string `json:"job_id"`
	Stream string `json:"stream"`
	Offset int64  `json:"offset"`
	Data   string `json:"data"`
	Next   int64  `json:"next"`
	EOF    bool   `json:"eof"`
}

func logsRun(ctx context.Context, opts *LogsOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	stream := client.Stdout
	if opts.Stderr {
		stream = client.Stderr
	}
	wait := time.Duration(0)
	if opts.Follow {
		wait = opts.LongPoll
		if wait <= 0 {
			wait = DefaultLongPoll
		}
	}
	all := chunk{JobID: opts.ID, Stream: stream}
	var offset int64
	var idle time.Duration // the pause before asking again after an answer with nothing new
	for {
		o, err := c.Output(ctx, opts.ID, stream, offset, wait)
		if err != nil {
			if opts.Follow && ctx.Err() == nil && (errors.Is(err, client.ErrUnreachable) || api.ErrorCode(err) == api.CodeUnavailable) {
				fmt.Fprintf(opts.IO.ErrOut, "stacli: %v; retrying\n", err)
				if err := sleep(ctx, 5*time.Second); err != nil {
					return nil
				}
				continue
			}
			if errors.Is(err, context.Canceled) {
				return nil // Ctrl-C ends -f: not an error
			}
			return err
		}
		switch {
		case opts.JSON && opts.Follow:
			if o.Data != "" || o.EOF {
				if err := writeLine(opts.IO.Out, chunk{opts.ID, stream, o.Offset, o.Data, o.Next, o.EOF}); err != nil {
					return err
				}
			}
		case opts.JSON:
			all.Data += o.Data
			all.Next, all.EOF = o.Next, o.EOF
		default:
			if _, err := io.WriteString(opts.IO.Out, o.Data); err != nil {
				return err
			}
		}
		progressed := o.Next > offset
		if o.Next > offset {
			offset = o.Next
		}
		if o.EOF || (!opts.Follow && !progressed) {
			break
		}
		// The gateway answers at once when it cannot wait for output (a job
		// not at its site yet): ask again after a pause, 1 s growing to 5 s.
		if progressed {
			idle = 0
		} else {
			idle = min(idle+time.Second, 5*time.Second)
			if err := sleep(ctx, idle); err != nil {
				return nil
			}
		}
	}
	if opts.JSON && !opts.Follow {
		return cmdutil.WriteJSON(opts.IO.Out, all)
	}
	return nil
}

func writeLine(w io.Writer, v any) error {
	// One compact object per line (JSON Lines) while following.
	b, err := jsonCompact(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
