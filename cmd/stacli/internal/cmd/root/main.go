package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/config"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// version is set at build time:
//
//	go build -ldflags "-X github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/root.version=v1.2.3"
var version string

// Version is stacli's version: the one set at build time, else the module's
// or the VCS revision the binary was built from, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// Main runs stacli with the process's arguments, streams, environment and
// signals, and returns its exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C cancels the command (which says where it stopped); a
	// second one kills the process, even in a read that does not see ctx
	// (a script from a terminal's stdin).
	go func() {
		<-ctx.Done()
		stop()
	}()
	f := cmdutil.New(iostreams.System(), Version(), config.Load, client.Options{})
	return Run(ctx, f, os.Args[1:])
}

// Run executes one command line and returns the exit code: errors are
// printed on stderr with a hint of what to do next, and mapped to a code by
// cmdutil.ExitCode.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return cmdutil.ExitOK
	}
	code := cmdutil.ExitCode(err)
	var silent *cmdutil.SilentExit
	if errors.As(err, &silent) {
		return code
	}
	printError(f, cmd, err)
	return code
}

func printError(f *cmdutil.Factory, cmd *cobra.Command, err error) {
	w := f.IOStreams.ErrOut
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	fmt.Fprintf(w, "stacli: %s\n", msg)
	path := "stacli"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	gateway := config.DefaultGateway
	if f.Config != nil {
		if c, cerr := f.Config(); cerr == nil {
			gateway = c.Gateway
		}
	}
	if h := cmdutil.Hint(err, path, gateway); h != "" {
		fmt.Fprintln(w, h)
	}
}
