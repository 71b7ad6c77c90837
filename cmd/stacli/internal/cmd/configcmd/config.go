// Package configcmd holds `stacli config show`: the configuration in effect
// and where each value came from (never the token itself).
package configcmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/config"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
)

// NewCmdConfig returns `stacli config` and its verbs.
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := cmdutil.NewGroup("config <command>", "Show stacli's configuration", `  stacli config show`)
	cmd.AddCommand(NewCmdShow(f, nil))
	return cmd
}

// ShowOptions are the inputs of `stacli config show`.
type ShowOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	JSON   bool
}

// NewCmdShow returns `stacli config show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the configuration in effect and where each value came from",
		Long: `Show each setting, its value and where it came from: the default, the config
file, or an environment variable. The token itself is never shown, only whether
one is set.

The config file is the first that exists of: $STACLI_CONFIG,
$XDG_CONFIG_HOME/stacli/config.toml (~/.config/stacli/config.toml),
/etc/stacli/config.toml. STACLI_GATEWAY and STACLI_TOKEN override it.
Keys: gateway, token or token_file, user (the user a service token acts
for; STACLI_USER overrides), project, format (table or json).`,
		Example: `  stacli config show
  STACLI_CONFIG=./admin.toml stacli config show --json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

// shown is the JSON form.
type shown struct {
	File     string         `json:"file"`
	Searched []string       `json:"searched"`
	Values   []config.Value `json:"values"`
}

func showRun(_ context.Context, opts *ShowOptions) error {
	c, err := opts.Config()
	if err != nil {
		return err
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", w)
	}
	searched := c.Searched
	if searched == nil {
		searched = []string{}
	}
	if opts.JSON || c.Format == "json" {
		return cmdutil.WriteJSON(opts.IO.Out, shown{File: c.File, Searched: searched, Values: c.Values()})
	}
	t := cmdutil.NewTable(opts.IO.Out, "KEY", "VALUE", "SOURCE")
	for _, v := range c.Values() {
		src := v.Source
		if src == "" {
			src = "not set"
		}
		t.Row(v.Key, v.Value, src)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if c.File == "" && opts.IO.IsStderrTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "No config file found (looked at %v); see configs/stacli.example.toml.\n", searched)
	}
	return nil
}
