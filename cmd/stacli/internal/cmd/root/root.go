// Package root assembles stacli: the root command with every noun and verb,
// Main (what cmd/stacli's main calls) and Run, which executes a command line
// and maps its error to an exit code through the one table of package
// cmdutil. It also holds the commands about stacli itself: completion,
// version and the hidden gen-man.
package root

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/admin"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/configcmd"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/job"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/placement"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/site"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/usage"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
)

// NewCmdRoot returns the whole command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stacli <command> [flags]",
		Short: "Run Slurm jobs on the federation's supercomputers",
		Long: `stacli talks to an STA Gateway: submit a Slurm batch script once and the
gateway runs it at a site your project's jurisdictions allow, follows it to the
end and charges its core-hours to your allocation.

Commands are nouns then verbs (stacli job submit); the common verbs are also at
the top level (stacli submit). Every command takes --json for stable JSON on
stdout; errors and progress go to stderr.

Configuration: $STACLI_CONFIG, else ~/.config/stacli/config.toml, else
/etc/stacli/config.toml; STACLI_GATEWAY and STACLI_TOKEN override
('stacli config show').`,
		Example: `  stacli submit train.sbatch --project climate-ca --wait
  stacli job list --state RUNNING
  stacli site list
  stacli balance --project climate-ca`,
		Args:          cmdutil.UnknownSubcommand,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })

	cmd.AddGroup(
		&cobra.Group{ID: "common", Title: "Common commands:"},
		&cobra.Group{ID: "nouns", Title: "Commands by subject:"},
		&cobra.Group{ID: "stacli", Title: "About stacli:"},
	)
	common := []*cobra.Command{
		job.NewCmdSubmit(f, nil),
		job.NewCmdStatus(f, nil),
		job.NewCmdCancel(f, nil),
		job.NewCmdLogs(f, nil),
		job.NewCmdWait(f, nil),
		usage.NewCmdUsage(f, nil),
		usage.NewCmdBalance(f, nil),
	}
	nouns := []*cobra.Command{
		job.NewCmdJob(f),
		site.NewCmdSite(f),
		admin.NewCmdAdmin(f),
		placement.NewCmdPlacement(f),
		placement.NewCmdTopology(f),
	}
	self := []*cobra.Command{
		configcmd.NewCmdConfig(f),
		NewCmdCompletion(f, nil),
		NewCmdVersion(f, nil),
	}
	for _, g := range []struct {
		id   string
		cmds []*cobra.Command
	}{{"common", common}, {"nouns", nouns}, {"stacli", self}} {
		for _, c := range g.cmds {
			c.GroupID = g.id
			cmd.AddCommand(c)
		}
	}
	cmd.AddCommand(NewCmdGenMan(f, nil))
	cmd.SetHelpCommandGroupID("stacli")
	cmd.InitDefaultHelpCmd()
	for _, c := range cmd.Commands() {
		if c.Name() == "help" {
			c.Example = "  stacli help job submit"
		}
	}
	decorate(cmd, strings.TrimRight(cmd.UsageTemplate(), "\n"))
	return cmd
}

// decorate gives every command of the tree the exit codes section in its
// help (with the --wait codes for commands that follow a job) and the
// shared settings.
func decorate(c *cobra.Command, base string) {
	wait := c.Annotations["wait"] == "true"
	c.SetUsageTemplate(base + "\n\n" + cmdutil.ExitCodesHelp(wait))
	c.DisableAutoGenTag = true
	c.Flags().SortFlags = false
	for _, sub := range c.Commands() {
		decorate(sub, base)
	}
}
