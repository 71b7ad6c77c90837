// Package cmdtest helps test stacli's commands: a Factory whose streams are
// buffers and whose configuration is a real config file in a temporary
// folder (pointing at a fake gateway, or anywhere), and a way to execute one
// command. Only tests import it.
package cmdtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/config"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// Env is a test's stacli: its factory and streams.
type Env struct {
	F            *cmdutil.Factory
	IO           *iostreams.IOStreams
	In, Out, Err *bytes.Buffer
	ConfigFile   string
}

// MustEnv returns an Env whose config file names the gateway, token and
// project (empty ones are left out). Retries are fast.
func MustEnv(tb testing.TB, gateway, token, project string) *Env {
	tb.Helper()
	dir := tb.TempDir()
	text := ""
	if gateway != "" {
		text += fmt.Sprintf("gateway = %q\n", gateway)
	}
	if token != "" {
		text += fmt.Sprintf("token = %q\n", token)
	}
	if project != "" {
		text += fmt.Sprintf("project = %q\n", project)
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	env := map[string]string{config.EnvConfig: path}
	load := func() (*config.Config, error) {
		return config.Loader{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}.Load()
	}
	ios, in, out, errOut := iostreams.Test()
	f := cmdutil.New(ios, "test", load, client.Options{RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	return &Env{F: f, IO: ios, In: in, Out: out, Err: errOut, ConfigFile: path}
}

// Exec runs a command with arguments, its output going to the Env's
// buffers, and returns its error.
func (e *Env) Exec(tb testing.TB, cmd *cobra.Command, args ...string) error {
	tb.Helper()
	cmd.SetArgs(args)
	cmd.SetIn(e.In)
	cmd.SetOut(e.Out)
	cmd.SetErr(e.Err)
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	_, err := cmd.ExecuteContextC(tb.Context())
	return err
}
