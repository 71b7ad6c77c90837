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
