package admin

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// AuditOptions are the inputs of `stacli admin audit`.
type AuditOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	After int64
	Limit int
	JSON  bool
}

// NewCmdAudit returns `stacli admin audit`.
func NewCmdAudit(f *cmdutil.Factory, runF func(context.Context, *AuditOptions) error) *cobra.Command {
	opts := &AuditOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List the gateway's audit trail",
		Long: `List the records of the audit trail, oldest first: every job accepted, rejected,
submitted, cancelled and settled, every project created and allocation granted,
with who did it. Each record's MAC chains it to the one before under a key the
gateway's database does not hold; 'sta-gateway audit verify' checks the chain.`,
		Example: `  stacli admin audit
  stacli admin audit --after 1200 --limit 100 --json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.WantJSON(opts.JSON)
			if opts.After < 0 {
				return cmdutil.FlagErrorf("--after %d: want a sequence number >= 0", opts.After)
			}
			if opts.Limit < 0 || opts.Limit > 5000 {
				return cmdutil.FlagErrorf("--limit %d: want 1 to 5000", opts.Limit)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return auditRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Int64Var(&opts.After, "after", 0, "Only records after this sequence number")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "At most this many records (default 500)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func auditRun(ctx context.Context, opts *AuditOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	recs, err := c.Audit(ctx, opts.After, opts.Limit)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, recs)
	}
	t := cmdutil.NewTable(opts.IO.Out, "SEQ", "AT", "ACTOR", "ACTION", "SUBJECT", "DETAIL", "MAC")
	for _, r := range recs {
		mac := r.MAC
		if len(mac) > 16 {
			mac = mac[:16]
		}
		t.Row(strconv.FormatInt(r.Seq, 10), cmdutil.FormatTime(&r.At), r.Actor, r.Action, r.Subject, string(r.Detail), mac)
	}
	return t.Flush()
}
