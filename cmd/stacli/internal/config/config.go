// Package config loads stacli's configuration: defaults first, then the one
// config file found (TOML, strict: an unknown key is an error naming it),
// then the environment (STACLI_GATEWAY, STACLI_TOKEN). It remembers where
// each value came from, for `stacli config show`.
//
// The file is the first that exists of: $STACLI_CONFIG (which must exist when
// set), $XDG_CONFIG_HOME/stacli/config.toml (~/.config/stacli/config.toml
// when XDG_CONFIG_HOME is unset), /etc/stacli/config.toml.
//
// Keys: gateway (URL, default http://127.0.0.1:8473), token or token_file
// (a file holding the token, relative to the config file's folder), user (the
// user a service token acts for, sent as X-STA-User; STACLI_USER overrides),
// project (the default project), format (table or json).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Defaults and names.
const (
	DefaultGateway = "http://127.0.0.1:8473"
	DefaultFormat  = "table"
	SystemFile     = "/etc/stacli/config.toml"

	EnvConfig  = "STACLI_CONFIG"
	EnvGateway = "STACLI_GATEWAY"
	EnvToken   = "STACLI_TOKEN"
	EnvUser    = "STACLI_USER"
)

// Keys are the keys a config file may hold, in the order `config show`
// prints them.
var Keys = []string{"gateway", "token", "token_file", "user", "project", "format"}

// Formats are the values of format.
var Formats = []string{"table", "json"}

// Config is the configuration in effect.
type Config struct {
	Gateway   string
	Token     string // secret: never print it
	TokenFile string // absolute
	User      string // X-STA-User: the user a service token acts for
	Project   string
	Format    string

	// File is the config file read, "" when none was found.
	File string
	// Searched lists the places looked at, in order.
	Searched []string
	// Warnings are problems worth a hint that do not stop stacli (a token
	// in a file others can read).
	Warnings []string

	sources map[string]string
}

// file is the TOML form.
type file struct {
	Gateway   string `toml:"gateway"`
	Token     string `toml:"token"`
	TokenFile string `toml:"token_file"`
	User      string `toml:"user"`
	Project   string `toml:"project"`
	Format    string `toml:"format"`
}

// Loader finds and reads the configuration. Env looks a variable up (as
// os.LookupEnv); SystemFile is the last place searched.
type Loader struct {
	Env        func(string) (string, bool)
	SystemFile string
}

// Load loads the configuration of this process.
func Load() (*Config, error) {
	return Loader{Env: os.LookupEnv, SystemFile: SystemFile}.Load()
}

// Error is a configuration problem: the file (or variable) and what is wrong.
type Error struct {
	Where string // a file, or "environment variable NAME"
	Key   string // the key at fault, if one
	Msg   string
}

func (e *Error) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("config %s: %s: %s", e.Where, e.Key, e.Msg)
	}
	return fmt.Sprintf("config %s: %s", e.Where, e.Msg)
}

// Load finds the config file, reads it over the defaults and applies the
// environment.
func (l Loader) Load() (*Config, error) {
	c := &Config{Gateway: DefaultGateway, Format: DefaultFormat, sources: map[string]string{
		"gateway": "default", "format": "default",
	}}
	path, err := l.find(c)
	if err != nil {
		return nil, err
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, &Error{Where: path, Msg: readError(err)}
		}
		if err := c.decode(path, data); err != nil {
			return nil, err
		}
		if c.Token != "" {
			if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
				c.Warnings = append(c.Warnings, fmt.Sprintf(
					"%s holds a token and others may read it (mode %v): chmod 600 %s", path, fi.Mode().Perm(), path))
			}
		}
	}
	if v, ok := l.env(EnvGateway); ok && v != "" {
		if err := checkGateway(v); err != nil {
			return nil, &Error{Where: "environment variable " + EnvGateway, Msg: err.Error()}
		}
		c.Gateway = v
		c.sources["gateway"] = "env " + EnvGateway
	}
	if v, ok := l.env(EnvToken); ok && v != "" {
		c.Token, c.TokenFile = strings.TrimSpace(v), ""
		c.sources["token"] = "env " + EnvToken
		delete(c.sources, "token_file")
	}
	if v, ok := l.env(EnvUser); ok && v != "" {
		c.User = v
		c.sources["user"] = "env " + EnvUser
	}
	return c, nil
}

func (l Loader) env(k string) (string, bool) {
	if l.Env == nil {
		return "", false
	}
	return l.Env(k)
}

// find returns the config file to read, "" when there is none.
func (l Loader) find(c *Config) (string, error) {
	if p, ok := l.env(EnvConfig); ok && p != "" {
		c.Searched = []string{p}
		if _, err := os.Stat(p); err != nil {
			return "", &Error{Where: p, Msg: readError(err) + " (named by " + EnvConfig + ")"}
		}
		return p, nil
	}
	var candidates []string
	if x, ok := l.env("XDG_CONFIG_HOME"); ok && x != "" && filepath.IsAbs(x) {
		candidates = append(candidates, filepath.Join(x, "stacli", "config.toml"))
	} else if h, ok := l.env("HOME"); ok && h != "" {
		candidates = append(candidates, filepath.Join(h, ".config", "stacli", "config.toml"))
	}
	if l.SystemFile != "" {
		candidates = append(candidates, l.SystemFile)
	}
	c.Searched = candidates
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", &Error{Where: p, Msg: readError(err)}
		}
	}
	return "", nil
}

func readError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// decode reads a config file's text over c.
func (c *Config) decode(path string, data []byte) error {
	var f file
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &Error{Where: fmt.Sprintf("%s:%d", path, pe.Position.Line), Msg: pe.Message}
		}
		return &Error{Where: path, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return &Error{Where: path, Key: k, Msg: fmt.Sprintf("unknown key (known keys: %s)", strings.Join(Keys, ", "))}
	}
	c.File = path
	src := "file " + path
	if md.IsDefined("gateway") {
		if err := checkGateway(f.Gateway); err != nil {
			return &Error{Where: path, Key: "gateway", Msg: err.Error()}
		}
		c.Gateway, c.sources["gateway"] = f.Gateway, src
	}
	if md.IsDefined("token") && md.IsDefined("token_file") {
		return &Error{Where: path, Key: "token", Msg: "give token or token_file, not both"}
	}
	if md.IsDefined("token") {
		if strings.TrimSpace(f.Token) == "" {
			return &Error{Where: path, Key: "token", Msg: "empty"}
		}
		c.Token, c.sources["token"] = strings.TrimSpace(f.Token), src
	}
	if md.IsDefined("token_file") {
		p := f.TokenFile
		if p == "" {
			return &Error{Where: path, Key: "token_file", Msg: "empty"}
		}
		if rest, ok := strings.CutPrefix(p, "~/"); ok {
			if h, err := os.UserHomeDir(); err == nil {
				p = filepath.Join(h, rest)
			}
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		c.TokenFile, c.sources["token_file"] = p, src
	}
	if md.IsDefined("user") {
		c.User, c.sources["user"] = f.User, src
	}
	if md.IsDefined("project") {
		c.Project, c.sources["project"] = f.Project, src
	}
	if md.IsDefined("format") {
		if !slices.Contains(Formats, f.Format) {
			return &Error{Where: path, Key: "format", Msg: fmt.Sprintf("%q is not one of %s", f.Format, strings.Join(Formats, ", "))}
		}
		c.Format, c.sources["format"] = f.Format, src
	}
	return nil
}

// checkGateway checks a gateway URL.
func checkGateway(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not a gateway URL (want http://HOST:PORT or https://HOST)", v)
	}
	return nil
}

// Source says where the value of key came from: "default", "file PATH",
// "env NAME", or "" when it is not set.
func (c *Config) Source(key string) string { return c.sources[key] }

// AuthToken returns the token to send: Token, else the content of
// TokenFile; "" when neither is set.
func (c *Config) AuthToken() (string, error) {
	if c.Token != "" || c.TokenFile == "" {
		return c.Token, nil
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", &Error{Where: c.sources["token_file"], Key: "token_file", Msg: fmt.Sprintf("%s: %s", c.TokenFile, readError(err))}
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", &Error{Where: c.sources["token_file"], Key: "token_file", Msg: c.TokenFile + " is empty"}
	}
	return t, nil
}

// Value is one setting as `config show` prints it.
type Value struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"` // "" when not set
}

// Values lists the settings in Keys order. The token's value is never
// shown: only whether it is set.
func (c *Config) Values() []Value {
	var vs []Value
	for _, k := range Keys {
		v := Value{Key: k, Source: c.sources[k]}
		switch k {
		case "gateway":
			v.Value = c.Gateway
		case "token":
			if c.Token != "" {
				v.Value = "(set, hidden)"
			}
		case "token_file":
			v.Value = c.TokenFile
		case "user":
			v.Value = c.User
		case "project":
			v.Value = c.Project
		case "format":
			v.Value = c.Format
		}
		vs = append(vs, v)
	}
	return vs
}
