package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sta-federation/sta-gateway/gateway"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const usage = `usage:
  sta-gateway serve [--config FILE] [--listen ADDR] [--state-dir DIR]
  sta-gateway check-config FILE
  sta-gateway audit verify --config FILE [--head SEQ:MAC]

Exit codes: 0 ok (shutdown by SIGTERM or SIGINT is success), 1 error, 2 usage.
`

// Run runs the command line args and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		m := NewMain(stdout, stderr)
		if err := m.ParseFlags(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			fmt.Fprintf(stderr, "sta-gateway: %v\n", err)
			var ce *configError
			if errors.As(err, &ce) {
				return exitError // the command line was right; the file is not
			}
			return exitUsage
		}
		// What the daemon creates in its state folder (the database, its
		// WAL) is no one else's to read, whatever umask it was started with.
		syscall.Umask(0o027)
		err := m.Run(ctx)
		if cerr := m.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			fmt.Fprintf(stderr, "sta-gateway: %v\n", err)
			return exitError
		}
		return exitOK
	case "check-config":
		if len(args) != 2 {
			fmt.Fprint(stderr, usage)
			return exitUsage
		}
		cfg, err := gateway.LoadConfig(args[1])
		if err != nil {
			fmt.Fprintf(stderr, "sta-gateway: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stdout, "%s: ok (%d sites, %d projects, %d users)\n", args[1], len(cfg.Sites), len(cfg.Projects), len(cfg.Users))
		return exitOK
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "version", "--version":
		fmt.Fprintf(stdout, "sta-gateway %s\n", gateway.Version)
		return exitOK
	}
	fmt.Fprintf(stderr, "sta-gateway: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

// Main is the daemon: ParseFlags, Run until the context ends, Close. End-to-end
// tests use it as the binary does.
type Main struct {
	ConfigPath string
	Config     *gateway.Config
	Logger     *slog.Logger
	stderr     io.Writer

	gw  *gateway.Gateway
	srv *http.Server
	ln  net.Listener
}

// NewMain returns a Main logging JSON to stderr.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{stderr: stderr}
}

// ParseFlags reads the flags of `serve` and the configuration they name.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	config := fs.String("config", "", "configuration file (TOML); none: an empty federation")
	listen := fs.String("listen", "", "address to listen on (overrides the file; default "+gateway.DefaultListen+")")
	stateDir := fs.String("state-dir", "", "state folder (overrides the file; default $STATE_DIRECTORY or ./var)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments (got %q)", fs.Args())
	}
	m.ConfigPath = *config
	if m.ConfigPath != "" {
		cfg, err := gateway.LoadConfig(m.ConfigPath)
		if err != nil {
			return &configError{err}
		}
		m.Config = cfg
	} else {
		cfg := gateway.DefaultConfig()
		m.Config = &cfg
	}
	if *listen != "" {
		m.Config.Listen = *listen
	}
	if *stateDir != "" {
		m.Config.StateDir = *stateDir
	}
	if err := m.Config.Validate(); err != nil {
		return &configError{err}
	}
	return nil
}

// configError is a configuration that cannot be loaded or does not validate:
// exit 1, not 2 (usage).
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// Run opens the gateway, serves the API until ctx ends, then shuts down
// gracefully: stop accepting, finish in-flight submissions, stop the pollers.
func (m *Main) Run(ctx context.Context) error {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError}[m.Config.LogLevel]
	m.Logger = slog.New(slog.NewJSONHandler(m.stderr, &slog.HandlerOptions{Level: level}))
	if err := m.ensureToken(); err != nil {
		return err
	}
	gw, err := gateway.Open(ctx, m.Config, m.Logger)
	if err != nil {
		return err
	}
	m.gw = gw
	if len(m.Config.Sites) == 0 {
		m.Logger.Warn("the federation has no sites yet: add a [[site]] table to a configuration file " +
			"(see configs/sta-gateway.example.toml) and start with --config FILE")
	}
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return err
	}
	m.ln = ln
	m.srv = &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)}
	gw.Start(ctx)
	m.Logger.Info("sta-gateway serving", "listen", ln.Addr().String(), "state_dir", m.Config.StateDir,
		"sites", len(m.Config.Sites), "version", gateway.Version)
	served := make(chan error, 1)
	go func() { served <- m.srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	m.Logger.Info("shutting down: no new jobs; finishing submissions under way")
	gw.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout.Duration)
	defer cancel()
	if err := m.srv.Shutdown(sctx); err != nil {
		m.Logger.Warn("shutdown", "err", err.Error())
	}
	<-served
	return nil
}

// ensureToken reads the API token, creating a random one in the state folder when
// the configuration names none. The token itself is never logged.
func (m *Main) ensureToken() error {
	a := &m.Config.Auth
	if a.Token != "" || a.TokenFile != "" {
		return nil
	}
	if err := os.MkdirAll(m.Config.StateDir, 0o750); err != nil {
		return err
	}
	path := filepath.Join(m.Config.StateDir, "api-token")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		tok := strings.ToLower(rand.Text())
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			return err
		}
		m.Logger.Info("created an API token", "file", path)
	}
	a.TokenFile = path
	return nil
}

// Close stops the gateway (pollers, drivers) and closes its database.
func (m *Main) Close() error {
	if m.ln != nil {
		m.ln.Close()
	}
	if m.gw != nil {
		return m.gw.Close()
	}
	return nil
}

// runAudit is `sta-gateway audit verify`: it walks the audit trail of the state
// folder with the key file and says where it stops chaining; with --head (a head
// the daemon exported earlier: log line or metric), that record must still be
// in the trail, unchanged. Exit 0 when the trail verifies, 1 when it does not.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "the daemon's configuration `FILE` (state_dir, audit.key_file)")
	stateDir := fs.String("state-dir", "", "override state_dir")
	headArg := fs.String("head", "", "an exported head, `SEQ:MAC`, that must still be in the trail")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if *config == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cfg, err := gateway.LoadConfig(*config)
	if err != nil {
		fmt.Fprintf(stderr, "sta-gateway: %v\n", err)
		return exitError
	}
	if *stateDir != "" {
		cfg.StateDir = *stateDir
	}
	var want *gateway.AuditHead
	if *headArg != "" {
		h, err := gateway.ParseAuditHead(*headArg)
		if err != nil {
			fmt.Fprintf(stderr, "sta-gateway: --head: %v\n", err)
			return exitUsage
		}
		want = &h
	}
	head, n, err := gateway.VerifyAuditFile(ctx, cfg, want)
	var ae *gateway.AuditError
	switch {
	case errors.As(err, &ae):
		fmt.Fprintf(stderr, "sta-gateway: audit trail does not verify: %v (verified up to record %d)\n", err, head.Seq)
		return exitError
	case err != nil:
		fmt.Fprintf(stderr, "sta-gateway: cannot verify the audit trail: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "audit trail ok: %d records, head %s\n", n, head)
	return exitOK
}
