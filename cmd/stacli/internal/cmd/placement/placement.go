// Package placement holds the offline fabric commands: `stacli placement
// plan` (topology-aware node selection and rank order, package mpi) and
// `stacli topology convert` (ibnetdiscover to topology.conf).
package placement

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/mpi"
)

// FromValues are the input formats of a topology (--from).
var FromValues = []string{"topology.conf", "ibnetdiscover"}

// NewCmdPlacement returns `stacli placement` and its verbs.
func NewCmdPlacement(f *cmdutil.Factory) *cobra.Command {
	cmd := cmdutil.NewGroup("placement <command>", "Plan topology-aware node placement (offline)", `  stacli placement plan --topology topology.conf --free 'node[01-16]' --nodes 4 --ntasks-per-node 8`)
	cmd.AddCommand(NewCmdPlan(f, nil))
	return cmd
}

// NewCmdTopology returns `stacli topology` and its verbs.
func NewCmdTopology(f *cmdutil.Factory) *cobra.Command {
	cmd := cmdutil.NewGroup("topology <command>", "Convert fabric descriptions (offline)", `  stacli topology convert --from ibnetdiscover fabric.txt > topology.conf`)
	cmd.AddCommand(NewCmdConvert(f, nil))
	return cmd
}

// PlanOptions are the inputs of `stacli placement plan`.
type PlanOptions struct {
	IO *iostreams.IOStreams

	TopologyPath string // "-" for stdin
	From         string
	Free         string
	Request      mpi.Request
	Format       string
	IBNodes      string
	IBExclude    string
}

// NewCmdPlan returns `stacli placement plan`.
func NewCmdPlan(f *cmdutil.Factory, runF func(context.Context, *PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{IO: f.IOStreams}
	var jsonFlag bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Choose nodes and order ranks to cross the fewest switches",
		Long: `Plan a job on the free nodes of a fabric: the nodes spanning the fewest leaf
switches (then the fewest higher-level switches, then the tightest fit), ordered
leaf by leaf with each node's ranks contiguous, so that ring collectives cross
each switch boundary once. Nothing is contacted: the topology comes from a file
(a Slurm topology.conf, or the output of ibnetdiscover with --from ibnetdiscover).

Formats: hostfile (SLURM_HOSTFILE, one host per task, for srun
--distribution=arbitrary; the default), rankfile (Open MPI), mpich (host:n),
nodelist (a Slurm hostlist for --nodelist), json (the plan with its quality
metrics: nodes in rank order, leaves_spanned, leaves_lower_bound,
ring_leaf_crossings, ...). When stderr is a terminal, a summary of the plan's
quality goes there.`,
		Example: `  stacli placement plan --topology /etc/slurm/topology.conf --free 'node[01-16]' --nodes 4 --ntasks-per-node 8
  stacli placement plan --topology fabric.txt --from ibnetdiscover --free "$(sinfo -h -t idle -o %N)" \
      --nodes 2 --format json | jq .leaves_spanned
  SLURM_HOSTFILE=<(stacli placement plan --topology topology.conf --free 'n[1-8]' --nodes 4) srun --distribution=arbitrary ./app`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if jsonFlag {
				if cmd.Flags().Changed("format") && opts.Format != "json" {
					return cmdutil.FlagErrorf("--json and --format %s: choose one", opts.Format)
				}
				opts.Format = "json"
			}
			if err := ibFlagsNeedIB(opts.From, opts.IBNodes, opts.IBExclude); err != nil {
				return err
			}
			if opts.TopologyPath == "" {
				return cmdutil.FlagErrorf("plan needs --topology FILE")
			}
			if opts.Free == "" {
				return cmdutil.FlagErrorf("plan needs --free HOSTLIST (the free nodes)")
			}
			if opts.Request.Nodes <= 0 && opts.Request.Tasks <= 0 {
				return cmdutil.FlagErrorf("plan needs --nodes N (or --ntasks N)")
			}
			if err := cmdutil.OneOf("from", opts.From, FromValues); err != nil {
				return err
			}
			if err := cmdutil.OneOf("format", opts.Format, mpi.Formats); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return planRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.TopologyPath, "topology", "", "Topology file (- for stdin)")
	fl.StringVar(&opts.From, "from", "topology.conf", "Format of the topology file: topology.conf or ibnetdiscover")
	fl.StringVar(&opts.Free, "free", "", "Free nodes, as a Slurm hostlist (node[01-16,20])")
	fl.IntVarP(&opts.Request.Nodes, "nodes", "N", 0, "Number of nodes")
	fl.IntVarP(&opts.Request.Tasks, "ntasks", "n", 0, "Number of ranks (default nodes x ntasks-per-node)")
	fl.IntVar(&opts.Request.TasksPerNode, "ntasks-per-node", 0, "Ranks per node (default 1)")
	fl.IntVarP(&opts.Request.CPUsPerTask, "cpus-per-task", "c", 0, "Cores per rank (rankfile slots)")
	fl.Float64Var(&opts.Request.Oversubscription, "oversubscription", 0, "Downlink:uplink ratio assumed where the file does not tell (default 1)")
	fl.StringVar(&opts.Format, "format", "hostfile", "Output: hostfile, rankfile, mpich, nodelist or json")
	fl.StringVar(&opts.IBNodes, "ib-nodes", "", "With ibnetdiscover: the compute nodes (a hostlist); other hosts are left out")
	fl.StringVar(&opts.IBExclude, "ib-exclude", "", "With ibnetdiscover: hosts that are not compute nodes (a hostlist)")
	fl.BoolVar(&jsonFlag, "json", false, "Same as --format json")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(mpi.Formats, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("from", cobra.FixedCompletions(FromValues, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// ibFlagsNeedIB refuses --ib-nodes and --ib-exclude for a topology that is
// not ibnetdiscover output, where they would do nothing.
func ibFlagsNeedIB(from, nodes, exclude string) error {
	if from != "ibnetdiscover" && (nodes != "" || exclude != "") {
		return cmdutil.FlagErrorf("--ib-nodes and --ib-exclude are for --from ibnetdiscover, not %s", from)
	}
	return nil
}

// readTopology reads a topology file in the given format.
func readTopology(ios *iostreams.IOStreams, path, from string, ib mpi.IBOptions) (*mpi.Topology, error) {
	var r io.Reader
	if path == "-" {
		r = ios.In
	} else {
		f, err := os.Open(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("cannot read topology %s: %v", path, pe.Err)
			}
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var (
		t   *mpi.Topology
		err error
	)
	if from == "ibnetdiscover" {
		t, err = mpi.ParseIBNetDiscoverOptions(r, ib)
	} else {
		t, err = mpi.ParseTopologyConf(r)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func planRun(_ context.Context, opts *PlanOptions) error {
	t, err := readTopology(opts.IO, opts.TopologyPath, opts.From, mpi.IBOptions{Nodes: opts.IBNodes, Exclude: opts.IBExclude})
	if err != nil {
		return err
	}
	free, err := mpi.FreeNodesFromHostlist(opts.Free)
	if err != nil {
		return cmdutil.FlagErrorf("--free %q: %v", opts.Free, err)
	}
	p, err := mpi.Place(t, free, opts.Request)
	if err != nil {
		if errors.Is(err, mpi.ErrInvalidRequest) {
			return &cmdutil.FlagError{Err: err}
		}
		return err
	}
	if err := p.Write(opts.IO.Out, opts.Format); err != nil {
		return err
	}
	if opts.IO.IsStderrTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "%d nodes, %d tasks on %d leaves (lower bound %d), ring leaf crossings %d; %s\n",
			len(p.Nodes), p.Tasks, p.LeavesSpanned, p.LeavesLowerBound, p.RingLeafCrossings, p.Nodelist)
		if p.Tradeoff != nil {
			fmt.Fprintf(opts.IO.ErrOut, "tradeoff: %s\n", p.Tradeoff.Why)
		}
	}
	return nil
}

// ConvertOptions are the inputs of `stacli topology convert`.
type ConvertOptions struct {
	IO *iostreams.IOStreams

	Path      string
	From      string
	IBNodes   string
	IBExclude string
	JSON      bool
}

// NewCmdConvert returns `stacli topology convert`.
func NewCmdConvert(f *cmdutil.Factory, runF func(context.Context, *ConvertOptions) error) *cobra.Command {
	opts := &ConvertOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "convert FILE",
		Short: "Print a Slurm topology.conf for a fabric",
		Long: `Read a fabric description and print it as a Slurm topology.conf (as admins do
with slurmibtopology.sh): from the output of ibnetdiscover (default report or -p
ports report), or from a topology.conf (normalised). Rails of multi-HCA hosts are
merged into one logical leaf; hosts left out and why are written as comments.
--json prints the switches instead. FILE may be - for standard input.`,
		Example: `  ibnetdiscover > fabric.txt; stacli topology convert --from ibnetdiscover fabric.txt > topology.conf
  stacli topology convert --from ibnetdiscover --ib-exclude 'login[01-02]' fabric.txt
  stacli topology convert --from topology.conf /etc/slurm/topology.conf --json`,
		Args: cmdutil.ExactArgs(1, "a FILE (or - for stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if err := cmdutil.OneOf("from", opts.From, FromValues); err != nil {
				return err
			}
			if err := ibFlagsNeedIB(opts.From, opts.IBNodes, opts.IBExclude); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return convertRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.From, "from", "ibnetdiscover", "Format of FILE: ibnetdiscover or topology.conf")
	fl.StringVar(&opts.IBNodes, "ib-nodes", "", "The compute nodes (a hostlist); other hosts are left out")
	fl.StringVar(&opts.IBExclude, "ib-exclude", "", "Hosts that are not compute nodes (a hostlist)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	_ = cmd.RegisterFlagCompletionFunc("from", cobra.FixedCompletions(FromValues, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func convertRun(_ context.Context, opts *ConvertOptions) error {
	t, err := readTopology(opts.IO, opts.Path, opts.From, mpi.IBOptions{Nodes: opts.IBNodes, Exclude: opts.IBExclude})
	if err != nil {
		return err
	}
	if opts.JSON {
		sw := t.Switches()
		if sw == nil {
			sw = []mpi.Switch{}
		}
		return cmdutil.WriteJSON(opts.IO.Out, sw)
	}
	return t.WriteTopologyConf(opts.IO.Out)
}
