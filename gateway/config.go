package gateway

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the daemon's configuration (TOML). Defaults first (DefaultConfig), then
// the file is decoded over them; unknown keys are errors.
type Config struct {
	Listen   string `toml:"listen"`
	StateDir string `toml:"state_dir"`
	LogLevel string `toml:"log_level"`
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// PendingRecheck: holds of jobs pending longer than this are re-checked.
	PendingRecheck Duration `toml:"pending_recheck"`

	Auth     AuthConfig      `toml:"auth"`
	Routing  RoutingConfig   `toml:"routing"`
	Audit    AuditConfig     `toml:"audit"`
	Sites    []SiteConfig    `toml:"site"`
	Projects []ProjectConfig `toml:"project"`
	Users    []UserConfig    `toml:"user"`

	stateDirSet bool // the file set state_dir (LoadConfig resolves it against the file's folder)
}

// AuthConfig guards the API. For now a static token (from a file, preferably);
// every request still acts for a principal named in X-STA-User.
type AuthConfig struct {
	Token     string `toml:"token"`
	TokenFile string `toml:"token_file"`
	// Admins may use /v1/admin and act for any user.
	Admins []string `toml:"admins"`
}

// AuditConfig locates the audit trail's HMAC key: a file outside the database
// (default STATE_DIR/audit.key, created on first start; better on another
// volume, readable only by the daemon).
type AuditConfig struct {
	KeyFile string `toml:"key_file"`
}

// RoutingConfig weighs the parts of a site's score (lower is better) among the
// sites that passed every filter. Each part is a quantity in its own unit times
// its weight, in points:
//
//	wait:   expected minutes until the job could start (from the cached site view)
//	carbon: the site's grams of CO2 per kWh
//	cost:   the site's cost per core-hour
//
// The defaults make one minute of waiting worth 10 g CO2/kWh and 0.01 per
// core-hour. Ties go to the site whose name sorts first.
type RoutingConfig struct {
	WaitWeight   float64 `toml:"wait_weight"`
	CarbonWeight float64 `toml:"carbon_weight"`
	CostWeight   float64 `toml:"cost_weight"`
	// SwitchWait is the longest a topology-aware job waits in the queue for its
	// leaf-switch count (sbatch --switches=N@SwitchWait) before Slurm lets it
	// span more leaves. Slurm caps it at its max_switch_wait
	// (SchedulerParameters, 300 s by default): the default is that cap.
	SwitchWait Duration `toml:"switch_wait"`
}

// SiteConfig is one Slurm site of the federation.
type SiteConfig struct {
	Name         string `toml:"name"`
	Jurisdiction string `toml:"jurisdiction"`
	Cluster      string `toml:"cluster"`
	// SSH is the login node, host:port.
	SSH        string     `toml:"ssh"`
	Jumps      []JumpHost `toml:"jump"`
	KnownHosts []string   `toml:"known_hosts"`
	Credential Credential `toml:"credentials"`
	Monitor    string     `toml:"monitor"`  // login that sees every job
	Executor   string     `toml:"executor"` // shell (default) or session
	// ForcedCommand: the site forces a command on the gateway's keys (a wrapper
	// that runs the command line it is given): plain words, one command per
	// session. Detected by itself too, when a persistent shell cannot start.
	ForcedCommand bool                   `toml:"forced_command"`
	Shells        int                    `toml:"shells"`
	MaxSession    int                    `toml:"max_sessions"`
	Classes       map[string]ClassConfig `toml:"classes"`
	// Rates: core-hour multipliers per partition ("*" for any), e.g. gpu = 4.0.
	Rates           map[string]float64 `toml:"rates"`
	CarbonGPerKWh   float64            `toml:"carbon_g_per_kwh"`
	CostPerCoreHour float64            `toml:"cost_per_core_hour"`
	MessageTimeout  Duration           `toml:"message_timeout"`
	SbatchTimeout   Duration           `toml:"sbatch_timeout"`
	CommandTimeout  Duration           `toml:"command_timeout"`
	PollInterval    Duration           `toml:"poll_interval"`
	ClockSkew       Duration           `toml:"clock_skew"`
}

// JumpHost is a ProxyJump hop.
type JumpHost struct {
	SSH   string `toml:"ssh"`
	Login string `toml:"login"`
	Key   string `toml:"key"`
}

// Credential says how the gateway logs in as a user at a site (ARCHITECTURE.md
// "Credentials"): a user CA the site trusts (kind "ca"), automation keys the site
// issued (kind "keys": KeyDir/<login>), or ssh-agent (kind "agent", development).
type Credential struct {
	Kind    string   `toml:"kind"`
	CAKey   string   `toml:"ca_key"`
	CertTTL Duration `toml:"cert_ttl"`
	KeyDir  string   `toml:"key_dir"`
}

// ClassConfig maps a resource class to a partition and QOS.
type ClassConfig struct {
	Partition string `toml:"partition"`
	QOS       string `toml:"qos"`
}

// ProjectConfig is a research project.
type ProjectConfig struct {
	Name          string             `toml:"name"`
	Members       []string           `toml:"members"`
	Jurisdictions []string           `toml:"jurisdictions"`
	Accounts      map[string]string  `toml:"accounts"` // site -> Slurm account
	Allocations   []AllocationConfig `toml:"allocation"`
}

// AllocationConfig is core-hours granted to a project at a site for a period. The
// daemon books it once (idempotently) at start.
type AllocationConfig struct {
	Site      string    `toml:"site"`
	CoreHours float64   `toml:"core_hours"`
	Start     time.Time `toml:"start"`
	End       time.Time `toml:"end"`
	Overdraft bool      `toml:"overdraft"`
}

// UserConfig is a person: their login name at each site.
type UserConfig struct {
	Name   string            `toml:"name"`
	Logins map[string]string `toml:"logins"` // site -> login
}

// Duration is a time.Duration written as "30s", "5m".
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit (30s, 5m, 1h)", b)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// DefaultListen is the daemon's default address.
const DefaultListen = "127.0.0.1:8473"

// DefaultConfig returns the defaults a file is decoded over.
func DefaultConfig() Config {
	state := os.Getenv("STATE_DIRECTORY") // systemd's StateDirectory=
	if i := strings.IndexByte(state, ':'); i >= 0 {
		state = state[:i]
	}
	if state == "" {
		state = "./var"
	}
	return Config{
		Listen:          DefaultListen,
		StateDir:        state,
		LogLevel:        "info",
		ShutdownTimeout: Duration{30 * time.Second},
		PendingRecheck:  Duration{24 * time.Hour},
		Routing: RoutingConfig{WaitWeight: 1, CarbonWeight: 0.1, CostWeight: 100,
			SwitchWait: Duration{5 * time.Minute}},
	}
}

// siteDefaults fills a site's unset fields.
func (s *SiteConfig) setDefaults() {
	if s.Cluster == "" {
		s.Cluster = s.Name
	}
	if s.Executor == "" {
		s.Executor = "shell"
	}
	if s.Shells == 0 && s.Executor == "shell" {
		s.Shells = 4
	}
	if s.MaxSession == 0 {
		s.MaxSession = 10
	}
	if s.Credential.CertTTL.Duration == 0 {
		s.Credential.CertTTL.Duration = 10 * time.Minute
	}
	if s.MessageTimeout.Duration == 0 {
		s.MessageTimeout.Duration = 10 * time.Second
	}
	if s.SbatchTimeout.Duration == 0 {
		s.SbatchTimeout.Duration = 30 * time.Second
	}
	if s.CommandTimeout.Duration == 0 {
		s.CommandTimeout.Duration = 60 * time.Second
	}
	if s.PollInterval.Duration == 0 {
		s.PollInterval.Duration = 15 * time.Second
	}
	if s.ClockSkew.Duration == 0 {
		s.ClockSkew.Duration = 5 * time.Minute
	}
}

// configKeys are the names of the configuration's keys (its toml tags).
var configKeys = func() map[string]bool {
	keys := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag != "" && tag != "-" {
				keys[tag] = true
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(Config{}))
	return keys
}()

// ConfigError is a configuration problem: the key, the value and where.
type ConfigError struct {
	File  string
	Key   string
	Value string
	Msg   string
	Line  int // 0 if unknown
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, " = %q", e.Value)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// LoadConfig reads a config file over the defaults and validates it. Relative
// paths in the file (state_dir, token_file, key_file, known_hosts, ca_key,
// key_dir, a jump host's key) are relative to the file's folder, not to
// wherever the daemon was started.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, err := ParseConfig(f, path)
	if err != nil {
		return nil, err
	}
	cfg.resolvePaths(filepath.Dir(path))
	return cfg, nil
}

// resolvePaths makes the file's relative paths relative to dir; state_dir
// only when the file set it (its default follows $STATE_DIRECTORY or ./var).
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if c.stateDirSet {
		abs(&c.StateDir)
	}
	abs(&c.Auth.TokenFile)
	abs(&c.Audit.KeyFile)
	for i := range c.Sites {
		s := &c.Sites[i]
		for j := range s.KnownHosts {
			abs(&s.KnownHosts[j])
		}
		abs(&s.Credential.CAKey)
		abs(&s.Credential.KeyDir)
		for j := range s.Jumps {
			abs(&s.Jumps[j].Key)
		}
	}
}

// ParseConfig decodes TOML from r (named name in errors) over the defaults.
func ParseConfig(r io.Reader, name string) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ConfigError{File: name, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &ConfigError{File: name, Msg: err.Error()}
	}
	cfg.stateDirSet = md.IsDefined("state_dir")
	// TOML keys are matched without regard to case; ours are lower case, and
	// a key written otherwise (LISTEN beside listen) would be read silently.
	for _, k := range md.Keys() {
		if last := k[len(k)-1]; configKeys[strings.ToLower(last)] && last != strings.ToLower(last) {
			return nil, &ConfigError{File: name, Key: k.String(), Msg: "keys are lower case: write " + strings.ToLower(last),
				Line: locate(data, last, "")}
		}
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, &ConfigError{File: name, Key: keys[0], Msg: "unknown key" + plural(keys),
			Line: locate(data, keys[0], "")}
	}
	for i := range cfg.Sites {
		cfg.Sites[i].setDefaults()
	}
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = name
			ce.Line = locate(data, ce.Key, ce.Value)
		}
		return nil, err
	}
	return &cfg, nil
}

// locate finds the line that sets key (its last part) to value, for error
// messages; 0 when it cannot tell.
func locate(data []byte, key, value string) int {
	leaf := key
	if i := strings.LastIndexByte(leaf, '.'); i >= 0 {
		leaf = leaf[i+1:]
	}
	if i := strings.IndexByte(leaf, '['); i >= 0 {
		leaf = leaf[:i]
	}
	if leaf == "" {
		return 0
	}
	re := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(leaf) + `"?\s*=`)
	table := regexp.MustCompile(`^\s*\[\[?\s*[A-Za-z0-9_.-]*` + regexp.QuoteMeta(leaf) + `\s*\]`)
	for i, line := range strings.Split(string(data), "\n") {
		if (re.MatchString(line) || table.MatchString(line)) && (value == "" || strings.Contains(line, value)) {
			return i + 1
		}
	}
	return 0
}

func plural(keys []string) string {
	if len(keys) == 1 {
		return ""
	}
	return fmt.Sprintf(" (and %d more: %s)", len(keys)-1, strings.Join(keys[1:], ", "))
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
var loginRE = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)
var accountRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
var jurisdictionRE = regexp.MustCompile(`^[A-Z]{2}$`)

// Validate checks the configuration; the first problem is returned.
func (c *Config) Validate() error {
	bad := func(key, value, msg string) error { return &ConfigError{Key: key, Value: value, Msg: msg} }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen", c.Listen, "want host:port")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", c.LogLevel, "want debug, info, warn or error")
	}
	if c.Auth.Token != "" && c.Auth.TokenFile != "" {
		return bad("auth.token", "", "set token or token_file, not both")
	}
	if c.Auth.Token != "" && len(c.Auth.Token) < 16 {
		return bad("auth.token", "", "shorter than 16 characters")
	}
	for _, w := range []struct {
		key string
		v   float64
	}{{"routing.wait_weight", c.Routing.WaitWeight}, {"routing.carbon_weight", c.Routing.CarbonWeight},
		{"routing.cost_weight", c.Routing.CostWeight}} {
		if w.v < 0 || math.IsNaN(w.v) || math.IsInf(w.v, 0) {
			return bad(w.key, strconv.FormatFloat(w.v, 'g', -1, 64), "want a finite number >= 0")
		}
	}
	// A lower bound on durations catches a unit typed wrong ("1ms" for "1m"):
	// below a second a loop polls a site, or re-checks every hold, almost
	// without pause. Zero, where allowed, means the default.
	short := func(key string, d Duration, zeroOK bool) error {
		if d.Duration < time.Second && !(zeroOK && d.Duration == 0) {
			return bad(key, d.String(), "want at least 1s")
		}
		return nil
	}
	if err := cmp.Or(short("shutdown_timeout", c.ShutdownTimeout, false), short("pending_recheck", c.PendingRecheck, false)); err != nil {
		return err
	}
	admins := map[string]bool{}
	for _, a := range c.Auth.Admins {
		if !loginRE.MatchString(a) {
			return bad("auth.admins", a, "not a user name (a request could never name it)")
		}
		if admins[a] {
			return bad("auth.admins", a, "listed twice")
		}
		admins[a] = true
	}
	sites := map[string]*SiteConfig{}
	for i := range c.Sites {
		s := &c.Sites[i]
		k := fmt.Sprintf("site[%d]", i)
		if !nameRE.MatchString(s.Name) {
			return bad(k+".name", s.Name, "want lower-case letters, digits and dashes")
		}
		k = fmt.Sprintf("site[%s]", s.Name)
		if sites[s.Name] != nil {
			return bad(k+".name", s.Name, "a second site of that name")
		}
		sites[s.Name] = s
		if !jurisdictionRE.MatchString(s.Jurisdiction) {
			return bad(k+".jurisdiction", s.Jurisdiction, "want a two-letter country code such as CA or DE")
		}
		if err := cmp.Or(short(k+".poll_interval", s.PollInterval, true), short(k+".sbatch_timeout", s.SbatchTimeout, true),
			short(k+".command_timeout", s.CommandTimeout, true), short(k+".message_timeout", s.MessageTimeout, true)); err != nil {
			return err
		}
		if _, _, err := net.SplitHostPort(s.SSH); err != nil {
			return bad(k+".ssh", s.SSH, "want host:port of the login node")
		}
		if len(s.KnownHosts) == 0 {
			return bad(k+".known_hosts", "", "required: host keys are always verified")
		}
		for _, j := range s.Jumps {
			if _, _, err := net.SplitHostPort(j.SSH); err != nil {
				return bad(k+".jump.ssh", j.SSH, "want host:port")
			}
			if !loginRE.MatchString(j.Login) || j.Key == "" {
				return bad(k+".jump", j.SSH, "needs login and key")
			}
		}
		switch s.Credential.Kind {
		case "ca":
			if s.Credential.CAKey == "" {
				return bad(k+".credentials.ca_key", "", "required for kind = \"ca\"")
			}
			if s.Credential.CertTTL.Duration > time.Hour {
				return bad(k+".credentials.cert_ttl", s.Credential.CertTTL.String(), "certificates are short-lived: at most 1h")
			}
		case "keys":
			if s.Credential.KeyDir == "" {
				return bad(k+".credentials.key_dir", "", "required for kind = \"keys\"")
			}
		case "agent":
		default:
			return bad(k+".credentials.kind", s.Credential.Kind, "want ca, keys or agent")
		}
		if s.Monitor != "" && !loginRE.MatchString(s.Monitor) {
			return bad(k+".monitor", s.Monitor, "not a login name")
		}
		switch s.Executor {
		case "shell", "session":
		default:
			return bad(k+".executor", s.Executor, "want shell or session")
		}
		if s.Executor == "session" {
			s.Shells = 0
		}
		if s.Shells < 0 || s.Shells >= s.MaxSession {
			return bad(k+".shells", fmt.Sprint(s.Shells), fmt.Sprintf("want 0 to %d (below max_sessions)", s.MaxSession-1))
		}
		if len(s.Classes) == 0 {
			return bad(k+".classes", "", "name at least one resource class (cpu = { partition = \"batch\" })")
		}
		for name, cl := range s.Classes {
			if !nameRE.MatchString(name) || cl.Partition == "" {
				return bad(k+".classes."+name, cl.Partition, "a class needs a partition")
			}
		}
		for p, r := range s.Rates {
			if r <= 0 || r > 1000 {
				return bad(k+".rates."+p, fmt.Sprint(r), "want a multiplier above 0")
			}
		}
		if s.CarbonGPerKWh < 0 || s.CostPerCoreHour < 0 {
			return bad(k, "", "carbon and cost are not negative")
		}
	}
	users := map[string]bool{}
	logins := map[string]string{} // site/login -> user
	for i, u := range c.Users {
		k := fmt.Sprintf("user[%d]", i)
		if !loginRE.MatchString(u.Name) {
			return bad(k+".name", u.Name, "not a user name")
		}
		if users[u.Name] {
			return bad(k+".name", u.Name, "a second user of that name")
		}
		users[u.Name] = true
		for site, login := range u.Logins {
			if sites[site] == nil {
				return bad(fmt.Sprintf("user[%s].logins.%s", u.Name, site), login, "no such site")
			}
			if !loginRE.MatchString(login) {
				return bad(fmt.Sprintf("user[%s].logins.%s", u.Name, site), login, "not a login name")
			}
			// One person per account: another user's jobs would run as them.
			if other, ok := logins[site+"/"+login]; ok {
				return bad(fmt.Sprintf("user[%s].logins.%s", u.Name, site), login, "already user "+other+"'s login there")
			}
			logins[site+"/"+login] = u.Name
		}
	}
	projects := map[string]bool{}
	for i, p := range c.Projects {
		k := fmt.Sprintf("project[%d]", i)
		if !nameRE.MatchString(p.Name) {
			return bad(k+".name", p.Name, "want lower-case letters, digits and dashes")
		}
		if projects[p.Name] {
			return bad(k+".name", p.Name, "a second project of that name")
		}
		projects[p.Name] = true
		k = fmt.Sprintf("project[%s]", p.Name)
		for _, m := range p.Members {
			if !users[m] {
				return bad(k+".members", m, "no such user")
			}
		}
		if len(p.Jurisdictions) == 0 {
			return bad(k+".jurisdictions", "", "name where the project's data may go (e.g. [\"CA\"])")
		}
		for _, j := range p.Jurisdictions {
			if !jurisdictionRE.MatchString(j) {
				return bad(k+".jurisdictions", j, "want a two-letter country code")
			}
		}
		for site, acct := range p.Accounts {
			if sites[site] == nil {
				return bad(k+".accounts."+site, acct, "no such site")
			}
			if !accountRE.MatchString(acct) {
				return bad(k+".accounts."+site, acct, "not a Slurm account name")
			}
		}
		for j, a := range p.Allocations {
			ak := fmt.Sprintf("%s.allocation[%d]", k, j)
			if sites[a.Site] == nil {
				return bad(ak+".site", a.Site, "no such site")
			}
			if p.Accounts[a.Site] == "" {
				return bad(ak+".site", a.Site, "the project has no Slurm account there (accounts."+a.Site+")")
			}
			if a.CoreHours <= 0 {
				return bad(ak+".core_hours", fmt.Sprint(a.CoreHours), "want more than 0")
			}
			if !a.End.IsZero() && !a.End.After(a.Start) {
				return bad(ak+".end", a.End.String(), "before start")
			}
		}
	}
	return nil
}

// Site returns the named site's config, or nil.
func (c *Config) Site(name string) *SiteConfig {
	for i := range c.Sites {
		if c.Sites[i].Name == name {
			return &c.Sites[i]
		}
	}
	return nil
}

// Project returns the named project's config, or nil.
func (c *Config) Project(name string) *ProjectConfig {
	for i := range c.Projects {
		if c.Projects[i].Name == name {
			return &c.Projects[i]
		}
	}
	return nil
}

// User returns the named user's config, or nil.
func (c *Config) User(name string) *UserConfig {
	for i := range c.Users {
		if c.Users[i].Name == name {
			return &c.Users[i]
		}
	}
	return nil
}

// ClassNames returns a site's resource classes, sorted.
func (s *SiteConfig) ClassNames() []string {
	var out []string
	for k := range s.Classes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
