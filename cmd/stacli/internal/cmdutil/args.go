package cmdutil

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// ExactArgs requires n arguments, named in the error ("SCRIPT").
func ExactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			if len(args) < n {
				return FlagErrorf("%s needs %s", cmd.CommandPath(), names)
			}
			return FlagErrorf("%s takes only %s; got %q", cmd.CommandPath(), names, strings.Join(args, " "))
		}
		return nil
	}
}

// MinimumArgs requires at least n arguments, named in the error.
func MinimumArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("%s needs %s", cmd.CommandPath(), names)
		}
		return nil
	}
}

// NoArgs refuses arguments.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("%s takes no arguments; got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// NewGroup returns a command that only groups others (a noun): run alone it
// prints its help; an unknown sub-command is a usage error.
func NewGroup(use, short, example string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    UnknownSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(cmd.OutOrStdout())
			return cmd.Help()
		},
	}
}

// UnknownSubcommand is the Args of a command with sub-commands: any
// argument left is an unknown command, with suggestions.
func UnknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return FlagErrorf("%s", msg)
}

// OneOf checks a flag's value against its allowed values.
func OneOf(flag, value string, allowed []string) error {
	if slices.Contains(allowed, value) {
		return nil
	}
	return FlagErrorf("--%s %q: want one of %s", flag, value, strings.Join(allowed, ", "))
}
