package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/config"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

// SubmitOptions are the inputs of `stacli job submit`.
type SubmitOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Client func() (*client.Client, error)

	ScriptPath string // "-" for stdin

	Project       string
	Site          string
	Jurisdictions []string
	Nodes         int
	NTasksPerNode int
	CPUsPerTask   int
	GPUs          int
	Time          string
	Partition     string
	JobName       string
	Class         string
	Array         string
	Placement     string
	PinNodes      bool

	DryRun         bool
	Wait           bool
	JSON           bool
	IdempotencyKey string

	// Changed says which flags were given (they override the script).
	Changed func(flag string) bool

	PollMin, PollMax time.Duration
}

// NewCmdSubmit returns `stacli job submit` (also `stacli submit`).
func NewCmdSubmit(f *cmdutil.Factory, runF func(context.Context, *SubmitOptions) error) *cobra.Command {
	opts := &SubmitOptions{IO: f.IOStreams, Config: f.Config, Client: f.Client, PollMin: f.PollMin}
	cmd := &cobra.Command{
		Use:   "submit SCRIPT",
		Short: "Submit a batch script to the federation",
		Long: `Submit a Slurm batch script. Its #SBATCH directives are read as sbatch reads
them and checked here first (the gateway checks again: its parse is the one that
counts); flags override directives. The gateway chooses the site (--site auto)
among those the project's jurisdictions allow, submits the job there and
answers once the site's Slurm has a job id for it.

The request carries an Idempotency-Key, so a retried request never submits
twice; pass --idempotency-key to make a retry across runs of stacli safe too.

Output: with a terminal, a sentence; otherwise only the job's id (for
JOB=$(stacli submit ...)); --json prints the job. --dry-run prints the routing
decision and submits nothing. --wait follows the job to its end, with progress
on stderr when it is a terminal, and exits with the job's exit code.

SCRIPT may be "-" for standard input.`,
		Example: `  stacli submit train.sbatch --project climate-ca
  stacli job submit train.sbatch --site auto --jurisdiction CA --nodes 2 --time 1:00:00
  stacli submit train.sbatch --dry-run
  stacli submit train.sbatch --wait && echo "job succeeded"
  JOB=$(stacli submit --json train.sbatch | jq -r .id)`,
		Args:        cmdutil.ExactArgs(1, "SCRIPT (a batch script, or - for stdin)"),
		Annotations: map[string]string{"wait": "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ScriptPath = args[0]
			opts.Changed = cmd.Flags().Changed
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return submitRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Project, "project", "", "Project to charge (default: project in the config file)")
	fl.StringVar(&opts.Site, "site", "auto", "Site to run at, or auto to let the gateway choose")
	fl.StringSliceVar(&opts.Jurisdictions, "jurisdiction", nil, "Only run in these jurisdictions (comma-separated, e.g. CA,DE)")
	fl.IntVarP(&opts.Nodes, "nodes", "N", 0, "Number of nodes")
	fl.IntVar(&opts.NTasksPerNode, "ntasks-per-node", 0, "Tasks per node")
	fl.IntVarP(&opts.CPUsPerTask, "cpus-per-task", "c", 0, "CPUs per task")
	fl.IntVarP(&opts.GPUs, "gpus", "G", 0, "GPUs for the job")
	fl.StringVarP(&opts.Time, "time", "t", "", "Time limit, in a Slurm time format (30, 1:00:00, 2-0)")
	fl.StringVarP(&opts.Partition, "partition", "p", "", "Partition at the site")
	fl.StringVarP(&opts.JobName, "job-name", "J", "", "Job name")
	fl.StringVar(&opts.Class, "class", "", "Resource class the sites map to a partition (cpu, short, gpu)")
	fl.StringVarP(&opts.Array, "array", "a", "", "Job array indexes (0-15, 1-100%10)")
	fl.StringVar(&opts.Placement, "placement", "", "Node placement: none or topology (topology-aware, for MPI and training)")
	fl.BoolVar(&opts.PinNodes, "pin-nodes", false, "With --placement topology: pin the planned nodes (--nodelist) rather than let Slurm pick within the leaf count")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "Print the routing decision; submit nothing")
	fl.BoolVar(&opts.Wait, "wait", false, "Follow the job to its end and exit with its exit code (as sbatch --wait)")
	fl.StringVar(&opts.IdempotencyKey, "idempotency-key", "", "Key that makes retries of this submission safe (default: a new random key)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	_ = cmd.RegisterFlagCompletionFunc("placement", cobra.FixedCompletions([]string{"none", "topology"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("site", cobra.FixedCompletions([]string{"auto"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// flagOptions maps submit flags to the sbatch options they override.
var flagOptions = []struct{ flag, option string }{
	{"nodes", "nodes"},
	{"ntasks-per-node", "ntasks-per-node"},
	{"cpus-per-task", "cpus-per-task"},
	{"gpus", "gpus"},
	{"time", "time"},
	{"partition", "partition"},
	{"job-name", "job-name"},
	{"array", "array"},
}

// BuildRequest reads the script and the flags into a request, checking both
// as sbatch and the gateway's default policy would. Problems with flags are
// usage errors; problems with the script are errors naming its lines.
func BuildRequest(opts *SubmitOptions) (*api.SubmitRequest, *sbatch.Options, error) {
	changed := opts.Changed
	if changed == nil {
		changed = func(string) bool { return false }
	}
	req := &api.SubmitRequest{
		Project:   opts.Project,
		Site:      opts.Site,
		Class:     opts.Class,
		Placement: opts.Placement,
		PinNodes:  opts.PinNodes,
		DryRun:    opts.DryRun,
	}
	if req.Project == "" && opts.Config != nil {
		c, err := opts.Config()
		if err != nil {
			return nil, nil, err
		}
		req.Project = c.Project
	}
	if req.Project == "" {
		return nil, nil, cmdutil.FlagErrorf("no project: pass --project, or set project in the config file")
	}
	if opts.Placement != "" {
		if err := cmdutil.OneOf("placement", opts.Placement, []string{"none", "topology"}); err != nil {
			return nil, nil, err
		}
	}
	if opts.PinNodes && opts.Placement != "topology" {
		return nil, nil, cmdutil.FlagErrorf("--pin-nodes needs --placement topology")
	}
	if req.Site == "" {
		req.Site = "auto"
	}
	for _, j := range opts.Jurisdictions {
		j = strings.ToUpper(strings.TrimSpace(j))
		if j == "" || strings.IndexFunc(j, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) >= 0 {
			return nil, nil, cmdutil.FlagErrorf("--jurisdiction %q: want codes such as CA,DE", strings.Join(opts.Jurisdictions, ","))
		}
		req.Jurisdictions = append(req.Jurisdictions, j)
	}

	// Flags, checked as sbatch would check them on its command line.
	var over sbatch.Options
	ints := map[string]int{"nodes": opts.Nodes, "ntasks-per-node": opts.NTasksPerNode, "cpus-per-task": opts.CPUsPerTask, "gpus": opts.GPUs}
	strs := map[string]string{"time": opts.Time, "partition": opts.Partition, "job-name": opts.JobName, "array": opts.Array}
	for _, fo := range flagOptions {
		if !changed(fo.flag) {
			continue
		}
		var v string
		if n, ok := ints[fo.flag]; ok {
			if n <= 0 {
				return nil, nil, cmdutil.FlagErrorf("--%s %d: want a positive number", fo.flag, n)
			}
			v = strconv.Itoa(n)
		} else {
			v = strs[fo.flag]
		}
		if err := over.Set(fo.option, v); err != nil {
			return nil, nil, cmdutil.FlagErrorf("--%s %q: %s", fo.flag, v, sbatchMsg(err))
		}
	}
	if err := sbatch.DefaultPolicy().CheckOptions(over); err != nil {
		return nil, nil, cmdutil.FlagErrorf("%s", sbatchMsg(err))
	}
	if changed("nodes") {
		req.Nodes = opts.Nodes
	}
	if changed("ntasks-per-node") {
		req.NTasksPerNode = opts.NTasksPerNode
	}
	if changed("cpus-per-task") {
		req.CPUsPerTask = opts.CPUsPerTask
	}
	if changed("gpus") {
		req.GPUs = opts.GPUs
	}
	if changed("time") {
		req.Time = opts.Time
	}
	if changed("partition") {
		req.Partition = opts.Partition
	}
	if changed("job-name") {
		req.JobName = opts.JobName
	}
	if changed("array") {
		req.Array = opts.Array
	}

	// The script.
	text, name, err := readScript(opts)
	if err != nil {
		return nil, nil, err
	}
	s, err := sbatch.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s", name, sbatchMsg(err))
	}
	if err := sbatch.DefaultPolicy().Check(s); err != nil {
		return nil, nil, fmt.Errorf("%s is refused:\n%s", name, sbatchMsg(err))
	}
	merged := sbatch.Merge(s.Options, over)
	if err := merged.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: %s", name, sbatchMsg(err))
	}
	req.Script = string(text)
	req.ScriptName = filepath.Base(name)
	if name == "-" {
		req.ScriptName = ""
	}
	return req, &merged, nil
}

func readScript(opts *SubmitOptions) ([]byte, string, error) {
	var r io.Reader
	name := opts.ScriptPath
	if name == "-" {
		r = opts.IO.In
	} else {
		f, err := os.Open(name)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return nil, name, fmt.Errorf("cannot read script %s: %v", name, pe.Err)
			}
			return nil, name, fmt.Errorf("cannot read script: %w", err)
		}
		defer f.Close()
		r = f
	}
	text, err := io.ReadAll(io.LimitReader(r, api.MaxScriptBytes+1))
	if err != nil {
		return nil, name, fmt.Errorf("cannot read script %s: %w", name, err)
	}
	if len(text) > api.MaxScriptBytes {
		return nil, name, fmt.Errorf("script %s is larger than the gateway accepts (%d bytes)", name, api.MaxScriptBytes)
	}
	// The request is JSON, which carries UTF-8 only: other bytes would reach
	// Slurm as U+FFFD, a different script.
	if !utf8.Valid(text) {
		line := 1 + bytes.Count(text[:firstInvalid(text)], []byte("\n"))
		return nil, name, fmt.Errorf("script %s line %d is not UTF-8 (convert it, e.g. iconv -f LATIN1 -t UTF-8)", name, line)
	}
	return text, name, nil
}

// firstInvalid is the offset of the first byte of text that is not valid UTF-8.
func firstInvalid(text []byte) int {
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRune(text[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(text)
}

// sbatchMsg prints sbatch errors without the "sbatch: " prefix of each line.
func sbatchMsg(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "sbatch: ")
	}
	if len(lines) > 1 {
		for i := range lines {
			lines[i] = "  " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

func submitRun(ctx context.Context, opts *SubmitOptions) error {
	req, _, err := BuildRequest(opts)
	if err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	key := opts.IdempotencyKey
	if key == "" {
		key = client.NewIdempotencyKey()
	}
	j, err := c.SubmitWithKey(ctx, key, *req)
	if err != nil {
		// No answer: the gateway may have accepted the job all the same.
		// The same key gets it back, where a new run would submit it again.
		var ue *client.UnreachableError
		var oe *net.OpError
		dialFailed := errors.As(err, &oe) && oe.Op == "dial" // never sent
		if !opts.DryRun && errors.As(err, &ue) && ue.Attempts > 0 && !dialFailed {
			return &cmdutil.MaybeSubmittedError{Err: err, Key: key}
		}
		return err
	}
	out := opts.IO.Out
	if opts.DryRun {
		if opts.JSON {
			return cmdutil.WriteJSON(out, j)
		}
		if j.Decision == nil {
			return fmt.Errorf("the gateway returned no routing decision for the dry run")
		}
		return writeDecision(out, j.Decision)
	}
	if j.State == api.StateRejected {
		if opts.JSON {
			_ = cmdutil.WriteJSON(out, j)
		}
		if j.Site == "" {
			return fmt.Errorf("job %s was rejected: %s\n'stacli job explain %s' shows each site's reasons", j.ID, orDash(j.Reason), j.ID)
		}
		return fmt.Errorf("job %s was rejected by %s: %s", j.ID, j.Site, orDash(j.Reason))
	}
	if !opts.Wait {
		switch {
		case opts.JSON:
			return cmdutil.WriteJSON(out, j)
		case opts.IO.IsStdoutTTY():
			fmt.Fprintf(out, "Submitted job %s to %s as Slurm job %s\n", j.ID, j.Site, j.SiteJobID)
		default:
			fmt.Fprintln(out, j.ID)
		}
		return nil
	}
	if !opts.JSON {
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintf(out, "Submitted job %s to %s as Slurm job %s\n", j.ID, j.Site, j.SiteJobID)
		} else {
			fmt.Fprintln(out, j.ID)
		}
	}
	fj, err := follower{io: opts.IO, client: c, pollMin: opts.PollMin, pollMax: opts.PollMax}.follow(ctx, j)
	if err != nil {
		return interrupted(j.ID, err)
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(out, fj); err != nil {
			return err
		}
	}
	return endWait(opts.IO, fj)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeDecision prints a routing decision for people.
func writeDecision(w io.Writer, d *api.Decision) error {
	if d.Site != "" {
		fmt.Fprintf(w, "Site: %s", d.Site)
		if d.Partition != "" {
			fmt.Fprintf(w, " (partition %s)", d.Partition)
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, "Site: none may and can run this job")
	}
	t := cmdutil.NewTable(w, "CANDIDATE", "ELIGIBLE", "SCORE", "REASONS")
	for _, c := range d.Candidates {
		el := "no"
		if c.Eligible {
			el = "yes"
		}
		t.Row(c.Site, el, strconv.FormatFloat(c.Score, 'f', 2, 64), strings.Join(c.Reasons, "; "))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if p := d.Placement; p != nil {
		pin := "Slurm picks the nodes within that many leaves"
		if p.Pinned {
			pin = "nodes pinned with --nodelist"
		}
		fmt.Fprintf(w, "Placement: --switches=%s, %d leaves (fewest possible %d), planned %s; %s (%s)\n",
			p.Switches, p.Leaves, p.LowerBound, strings.Join(p.Nodes, ","), pin, p.Note)
	}
	return nil
}
