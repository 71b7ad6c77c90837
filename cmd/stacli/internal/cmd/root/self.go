package root

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
)

// Shells completion supports.
var Shells = []string{"bash", "zsh", "fish"}

// CompletionOptions are the inputs of `stacli completion`.
type CompletionOptions struct {
	IO    *iostreams.IOStreams
	Shell string
	Root  *cobra.Command
}

// NewCmdCompletion returns `stacli completion`.
func NewCmdCompletion(f *cmdutil.Factory, runF func(context.Context, *CompletionOptions) error) *cobra.Command {
	opts := &CompletionOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print the script that makes a shell complete stacli's commands, flags and
values. Load it in the current shell, or install it for every session:

  bash:  source <(stacli completion bash)
         stacli completion bash > ~/.local/share/bash-completion/completions/stacli
  zsh:   stacli completion zsh > "${fpath[1]}/_stacli"
  fish:  stacli completion fish > ~/.config/fish/completions/stacli.fish`,
		Example: `  source <(stacli completion bash)
  stacli completion zsh > ~/.zsh/completions/_stacli`,
		ValidArgs: Shells,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ExactArgs(1, "a shell: bash, zsh or fish")(cmd, args); err != nil {
				return err
			}
			return cmdutil.OneOf("shell", args[0], Shells)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Shell = args[0]
			opts.Root = cmd.Root()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return completionRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func completionRun(_ context.Context, opts *CompletionOptions) error {
	out := opts.IO.Out
	switch opts.Shell {
	case "bash":
		return opts.Root.GenBashCompletionV2(out, true)
	case "zsh":
		return opts.Root.GenZshCompletion(out)
	case "fish":
		return opts.Root.GenFishCompletion(out, true)
	}
	return cmdutil.FlagErrorf("unknown shell %q", opts.Shell)
}

// VersionOptions are the inputs of `stacli version`.
type VersionOptions struct {
	IO      *iostreams.IOStreams
	Version string
	JSON    bool
}

// VersionInfo is the JSON form of `stacli version`.
type VersionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// NewCmdVersion returns `stacli version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IOStreams, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print stacli's version",
		Long:  `Print stacli's version and the Go version and platform it was built for. Nothing is contacted.`,
		Example: `  stacli version
  stacli version --json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.WantJSON(opts.JSON)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return versionRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func versionRun(_ context.Context, opts *VersionOptions) error {
	v := VersionInfo{Version: opts.Version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, v)
	}
	_, err := fmt.Fprintf(opts.IO.Out, "stacli %s (%s %s/%s)\n", v.Version, v.Go, v.OS, v.Arch)
	return err
}

// GenManOptions are the inputs of `stacli gen-man`.
type GenManOptions struct {
	IO      *iostreams.IOStreams
	Dir     string
	Root    *cobra.Command
	Version string
}

// NewCmdGenMan returns the hidden `stacli gen-man DIR`, which writes a man
// page per command (for packagers).
func NewCmdGenMan(f *cmdutil.Factory, runF func(context.Context, *GenManOptions) error) *cobra.Command {
	opts := &GenManOptions{IO: f.IOStreams, Version: f.Version}
	cmd := &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write man pages of every command into DIR",
		Long:   `Write a man page (section 1) for every command into DIR, which is created if needed. SOURCE_DATE_EPOCH, when set, dates them.`,
		Hidden: true,
		Example: `  stacli gen-man ./man/man1
  MANPATH=./man man stacli-job-submit`,
		Args: cmdutil.ExactArgs(1, "a DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			opts.Root = cmd.Root()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return genManRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func genManRun(_ context.Context, opts *GenManOptions) error {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return err
	}
	date := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			date = time.Unix(n, 0).UTC()
		}
	}
	h := &doc.GenManHeader{Title: "STACLI", Section: "1", Source: "stacli " + opts.Version, Manual: "STA Gateway", Date: &date}
	if err := doc.GenManTree(opts.Root, h, opts.Dir); err != nil {
		return fmt.Errorf("writing man pages: %w", err)
	}
	if opts.IO.IsStderrTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "Wrote man pages to %s\n", opts.Dir)
	}
	return nil
}
