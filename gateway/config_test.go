package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleConfigs decodes every gateway configuration in configs/, so that the
// examples never go stale.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../configs/sta-gateway*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configuration in configs/ (%v)", err)
	}
	for _, f := range files {
		cfg, err := LoadConfig(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(cfg.Sites) == 0 || len(cfg.Projects) == 0 || len(cfg.Users) == 0 {
			t.Errorf("%s: an example should show sites, projects and users", f)
		}
	}
}

// TestConfigErrorsNameKeyValueAndLine: every problem says which key, which value
// and where.
func TestConfigErrorsNameKeyValueAndLine(t *testing.T) {
	base, err := os.ReadFile("../configs/sta-gateway.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, from, to string
		wantKey        string
		wantLine       bool
	}{
		{"unknown key", `log_level = "info"`, "log_level = \"info\"\nlog_lvl = \"x\"", "log_lvl", true},
		{"bad jurisdiction", `jurisdiction = "DE"`, `jurisdiction = "Germany"`, "site[de-hpc].jurisdiction", true},
		{"bad listen", `listen = "127.0.0.1:8473"`, `listen = "localhost"`, "listen", true},
		{"unknown member", `members = ["alice"]`, `members = ["carol"]`, "project[climate-ca].members", true},
		{"bad duration", `poll_interval = "15s"`, `poll_interval = "often"`, "", true},
		{"no known_hosts", "known_hosts = [\"/etc/sta-gateway/known_hosts\"]\nmonitor = \"sta-monitor\"\ncarbon_g_per_kwh = 380",
			"monitor = \"sta-monitor\"\ncarbon_g_per_kwh = 380", "site[de-hpc].known_hosts", false},
		{"bad credential", "kind = \"keys\"\n  key_dir", "kind = \"password\"\n  key_dir", "site[de-hpc].credentials.kind", true},
		{"a login mapped to two users", "name = \"bob\"\n  [user.logins]\n  ca-hydro = \"bob\"", "name = \"bob\"\n  [user.logins]\n  ca-hydro = \"alice\"",
			"user[bob].logins.ca-hydro", true},
		{"poll interval in milliseconds", `poll_interval = "15s"`, `poll_interval = "1ms"`, "site[ca-hydro].poll_interval", false},
		{"no shutdown time", `shutdown_timeout = "30s"`, `shutdown_timeout = "0s"`, "shutdown_timeout", true},
		{"admin no request can name", `admins = ["hpc-admin"]`, `admins = ["HPC-Admin"]`, "auth.admins", true},
		{"a key not in lower case", `log_level = "info"`, `LOG_LEVEL = "info"`, "LOG_LEVEL", true},
		{"allocation without account", `site = "de-hpc"` + "\n  core_hours = 20000", `site = "ca-east"` + "\n  core_hours = 20000", "project[fusion].allocation[0].site", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(string(base), tc.from, tc.to, 1)
			if text == string(base) {
				t.Fatalf("the case does not change the example (looked for %q)", tc.from)
			}
			_, err := ParseConfig(strings.NewReader(text), "test.toml")
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ConfigError", err)
			}
			if tc.wantKey != "" && ce.Key != tc.wantKey {
				t.Errorf("key %q, want %q (%v)", ce.Key, tc.wantKey, err)
			}
			if tc.wantLine && ce.Line == 0 {
				t.Errorf("no line number: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "test.toml") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// TestNoConfigFile: the defaults alone are a valid, empty federation.
func TestNoConfigFile(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != DefaultListen {
		t.Fatalf("listen %q", cfg.Listen)
	}
	t.Setenv("STATE_DIRECTORY", "/var/lib/sta-gateway:/other")
	if got := DefaultConfig().StateDir; got != "/var/lib/sta-gateway" {
		t.Fatalf("state folder from $STATE_DIRECTORY: %q", got)
	}
}

// TestConfigPathsRelativeToTheFile: relative paths in a configuration file
// are relative to its folder, whatever folder the daemon starts in.
func TestConfigPathsRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gw.toml")
	text := "state_dir = \"state\"\n[auth]\ntoken_file = \"secret/token\"\n[audit]\nkey_file = \"/abs/audit.key\"\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != filepath.Join(dir, "state") || cfg.Auth.TokenFile != filepath.Join(dir, "secret/token") || cfg.Audit.KeyFile != "/abs/audit.key" {
		t.Errorf("state_dir %q, token_file %q, key_file %q", cfg.StateDir, cfg.Auth.TokenFile, cfg.Audit.KeyFile)
	}
	// Not set in the file: the default, as it is.
	if err := os.WriteFile(path, []byte("log_level = \"info\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	if cfg, err := LoadConfig(path); err != nil || cfg.StateDir != def.StateDir {
		t.Errorf("default state_dir %q, got %+v %v", def.StateDir, cfg, err)
	}
}

// TestSecretFilesNotReadableByOthers: a token file others may read is refused
// at start, with the command that fixes it.
func TestSecretFilesNotReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("0123456789abcdef0123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readSecret("auth.token_file", tok); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a 0644 token file: %v", err)
	}
	if err := os.Chmod(tok, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := readSecret("auth.token_file", tok); err != nil || string(b) != "0123456789abcdef0123\n" {
		t.Errorf("a 0600 token file: %q %v", b, err)
	}
}
