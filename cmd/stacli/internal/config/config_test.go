package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/config"
)

// MustWrite writes a file and returns its path.
func MustWrite(tb testing.TB, path, text string, mode os.FileMode) string {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		tb.Fatal(err)
	}
	return path
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestSearchOrder(t *testing.T) {
	dir := t.TempDir()
	explicit := MustWrite(t, filepath.Join(dir, "explicit.toml"), `project = "explicit"`, 0o600)
	xdg := MustWrite(t, filepath.Join(dir, "xdg", "stacli", "config.toml"), `project = "xdg"`, 0o600)
	home := MustWrite(t, filepath.Join(dir, "home", ".config", "stacli", "config.toml"), `project = "home"`, 0o600)
	system := MustWrite(t, filepath.Join(dir, "etc", "config.toml"), `project = "system"`, 0o600)
	tests := []struct {
		name   string
		env    map[string]string
		system string
		want   string // project
		file   string
	}{
		{"STACLI_CONFIG first", map[string]string{"STACLI_CONFIG": explicit, "XDG_CONFIG_HOME": filepath.Join(dir, "xdg"), "HOME": filepath.Join(dir, "home")}, system, "explicit", explicit},
		{"XDG_CONFIG_HOME", map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "xdg"), "HOME": filepath.Join(dir, "home")}, system, "xdg", xdg},
		{"~/.config without XDG", map[string]string{"HOME": filepath.Join(dir, "home")}, system, "home", home},
		{"XDG set but empty folder falls to system", map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "nothing"), "HOME": filepath.Join(dir, "home")}, system, "system", system},
		{"system", map[string]string{"HOME": filepath.Join(dir, "nohome")}, system, "system", system},
		{"none: defaults", map[string]string{"HOME": filepath.Join(dir, "nohome")}, filepath.Join(dir, "nope.toml"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Loader{Env: envOf(tt.env), SystemFile: tt.system}.Load()
			if err != nil {
				t.Fatal(err)
			}
			if c.Project != tt.want || c.File != tt.file {
				t.Errorf("project %q from %q, want %q from %q", c.Project, c.File, tt.want, tt.file)
			}
			if tt.file == "" && (c.Gateway != config.DefaultGateway || c.Source("gateway") != "default" || c.Format != "table") {
				t.Errorf("defaults: %+v", c)
			}
		})
	}
}

func TestMissingExplicitFile(t *testing.T) {
	_, err := config.Loader{Env: envOf(map[string]string{"STACLI_CONFIG": "/nonexistent/stacli.toml"})}.Load()
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/stacli.toml") || !strings.Contains(err.Error(), "STACLI_CONFIG") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	dir := t.TempDir()
	p := MustWrite(t, filepath.Join(dir, "c.toml"), "gateway = \"http://gw:1\"\ntoken_file = \"tok\"\n", 0o600)
	c, err := config.Loader{Env: envOf(map[string]string{
		"STACLI_CONFIG": p, "STACLI_GATEWAY": "https://other:9", "STACLI_TOKEN": "envtok\n",
	})}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway != "https://other:9" || c.Source("gateway") != "env STACLI_GATEWAY" {
		t.Errorf("gateway %q from %q", c.Gateway, c.Source("gateway"))
	}
	tok, err := c.AuthToken()
	if err != nil || tok != "envtok" || c.Source("token") != "env STACLI_TOKEN" || c.TokenFile != "" {
		t.Errorf("token %q %v from %q, file %q", tok, err, c.Source("token"), c.TokenFile)
	}

	_, err = config.Loader{Env: envOf(map[string]string{"STACLI_CONFIG": p, "STACLI_GATEWAY": "gw:1"})}.Load()
	if err == nil || !strings.Contains(err.Error(), "STACLI_GATEWAY") {
		t.Errorf("bad STACLI_GATEWAY: err = %v", err)
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	MustWrite(t, filepath.Join(dir, "tok"), "  s3cret\n", 0o600)
	p := MustWrite(t, filepath.Join(dir, "c.toml"), `token_file = "tok"`, 0o644)
	c, err := config.Loader{Env: envOf(map[string]string{"STACLI_CONFIG": p})}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenFile != filepath.Join(dir, "tok") {
		t.Errorf("token_file %q not resolved against the config's folder", c.TokenFile)
	}
	if tok, err := c.AuthToken(); err != nil || tok != "s3cret" {
		t.Errorf("token %q, %v", tok, err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings for a file without a token: %v", c.Warnings)
	}
	for _, v := range c.Values() {
		if strings.Contains(v.Value, "s3cret") {
			t.Errorf("Values shows the token: %+v", v)
		}
	}

	p2 := MustWrite(t, filepath.Join(dir, "c2.toml"), `token_file = "missing"`, 0o600)
	c, err = config.Loader{Env: envOf(map[string]string{"STACLI_CONFIG": p2})}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AuthToken(); err == nil || !strings.Contains(err.Error(), "token_file") {
		t.Errorf("missing token file: %v", err)
	}
}

func TestInlineTokenHiddenAndWarned(t *testing.T) {
	dir := t.TempDir()
	p := MustWrite(t, filepath.Join(dir, "c.toml"), `token = "hunter2"`, 0o644)
	c, err := config.Loader{Env: envOf(map[string]string{"STACLI_CONFIG": p})}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "chmod 600") {
		t.Errorf("warnings %v", c.Warnings)
	}
	for _, v := range c.Values() {
		if strings.Contains(v.Value, "hunter2") {
			t.Errorf("Values shows the token: %+v", v)
		}
		if v.Key == "token" && (v.Value != "(set, hidden)" || v.Source != "file "+p) {
			t.Errorf("token shown as %+v", v)
		}
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown key", "gatway = \"http://x\"\n", []string{"gatway", "unknown key"}},
		{"unknown table key", "[gateway]\nurl = \"x\"\n", []string{"gateway"}},
		{"bad gateway", `gateway = "127.0.0.1:8473"`, []string{"gateway", "127.0.0.1:8473"}},
		{"bad format", `format = "xml"`, []string{"format", "xml"}},
		{"both tokens", "token = \"a\"\ntoken_file = \"b\"\n", []string{"token", "not both"}},
		{"syntax", "gateway = \n", []string{":1"}},
		{"wrong type", "project = 3\n", []string{"project"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := MustWrite(t, filepath.Join(t.TempDir(), "c.toml"), tt.text, 0o600)
			_, err := config.Loader{Env: envOf(map[string]string{"STACLI_CONFIG": p})}.Load()
			if err == nil {
				t.Fatal("no error")
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("err %T is not a *config.Error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestExampleConfigs decodes every stacli config in configs/ so that the
// examples never go stale.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../../../../configs/stacli*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no configs/stacli*.toml found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := config.Loader{Env: envOf(map[string]string{"STACLI_CONFIG": f})}.Load()
			if err != nil {
				t.Fatal(err)
			}
			if c.Source("gateway") != "file "+f {
				t.Errorf("example sets no gateway: %+v", c.Values())
			}
		})
	}
}
