// Package cmdutil holds what every stacli command shares: the Factory that
// hands out dependencies, the one table from errors to exit codes, usage
// errors, and the output helpers (aligned tables, JSON).
package cmdutil

import (
	"sync"
	"time"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/config"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// Factory gives commands their dependencies. Config and Client are loaded
// lazily, so that offline commands work with no (or a broken) config file.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Config returns the configuration in effect.
	Config func() (*config.Config, error)
	// Client returns a client of the configured gateway.
	Client func() (*client.Client, error)
	// Version is stacli's version.
	Version string
	// PollMin, when set, is the first interval at which commands that follow
	// a job poll it (default: package job's DefaultPollMin).
	PollMin time.Duration
}

// New returns the factory of a real run: cfg loads the configuration once,
// clientOpts are the client's options (the token and user agent are filled
// in from the configuration and version).
func New(ios *iostreams.IOStreams, version string, cfg func() (*config.Config, error), clientOpts client.Options) *Factory {
	f := &Factory{IOStreams: ios, Version: version}
	f.Config = sync.OnceValues(cfg)
	f.Client = sync.OnceValues(func() (*client.Client, error) {
		c, err := f.Config()
		if err != nil {
			return nil, err
		}
		tok, err := c.AuthToken()
		if err != nil {
			return nil, err
		}
		opts := clientOpts
		opts.Token = tok
		opts.ActAs = c.User
		opts.UserAgent = "stacli/" + version
		return client.New(c.Gateway, opts)
	})
	return f
}
