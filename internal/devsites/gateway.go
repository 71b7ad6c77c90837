package devsites

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// GatewayConfig is a sta-gateway configuration for the dev sites: every site with
// its jurisdiction's user CA as credentials and the monitor login, users alice and
// bob, and projects with allocations:
//
//	climate-ca  CA only, acct-a, alice            1000 core-hours at each CA site
//	fusion      CA and DE, acct-b, alice and bob   500 core-hours at each site
//	tiny        CA only, acct-a, alice            0.01 core-hours at each CA site
//
// Rates: 1.0 everywhere but de-hpc, whose partitions charge 1.5. The API token is
// token; pollInterval paces the pollers.
func (e *Env) GatewayConfig(stateDir, listen, token, pollInterval string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen = %q\nstate_dir = %q\nlog_level = \"debug\"\nshutdown_timeout = \"60s\"\n\n", listen, stateDir)
	fmt.Fprintf(&b, "[auth]\ntoken = %q\nadmins = [\"admin\"]\n\n", token)
	for _, s := range e.Sites {
		fmt.Fprintf(&b, "[[site]]\nname = %q\njurisdiction = %q\ncluster = %q\nssh = %q\nknown_hosts = [%q]\n",
			s.Name, s.Jurisdiction, s.Cluster, s.Addr, e.KnownHosts)
		fmt.Fprintf(&b, "monitor = %q\nmessage_timeout = \"5s\"\nsbatch_timeout = \"10s\"\npoll_interval = %q\nclock_skew = \"1m\"\n",
			s.Monitor, pollInterval)
		carbon, cost := 30.0, 0.02
		if s.Jurisdiction == "DE" {
			carbon, cost = 380, 0.01 // dirtier but cheaper: weights decide
		}
		fmt.Fprintf(&b, "carbon_g_per_kwh = %v\ncost_per_core_hour = %v\n", carbon, cost)
		fmt.Fprintf(&b, "[site.credentials]\nkind = \"ca\"\nca_key = %q\ncert_ttl = \"5m\"\n", s.UserCA)
		fmt.Fprintf(&b, "[site.classes]\ncpu = { partition = \"batch\" }\nshort = { partition = \"short\" }\n")
		if s.Jurisdiction == "DE" {
			fmt.Fprintf(&b, "[site.rates]\n\"*\" = 1.5\n")
		}
		b.WriteString("\n")
	}
	for _, u := range e.Users {
		fmt.Fprintf(&b, "[[user]]\nname = %q\n[user.logins]\n", u)
		for _, s := range e.Sites {
			fmt.Fprintf(&b, "%q = %q\n", s.Name, u)
		}
		b.WriteString("\n")
	}
	project := func(name string, jur []string, acct string, members []string, hours float64) {
		fmt.Fprintf(&b, "[[project]]\nname = %q\nmembers = [%s]\njurisdictions = [%s]\n", name, quoteList(members), quoteList(jur))
		fmt.Fprintf(&b, "[project.accounts]\n")
		var sites []Site
		for _, s := range e.Sites {
			for _, j := range jur {
				if s.Jurisdiction == j {
					sites = append(sites, s)
				}
			}
		}
		for _, s := range sites {
			fmt.Fprintf(&b, "%q = %q\n", s.Name, acct)
		}
		for _, s := range sites {
			fmt.Fprintf(&b, "[[project.allocation]]\nsite = %q\ncore_hours = %v\nstart = 2026-01-01T00:00:00Z\nend = 2036-01-01T00:00:00Z\n", s.Name, hours)
		}
		b.WriteString("\n")
	}
	project("climate-ca", []string{"CA"}, "acct-a", []string{"alice"}, 1000)
	project("fusion", []string{"CA", "DE"}, "acct-b", []string{"alice", "bob"}, 500)
	project("tiny", []string{"CA"}, "acct-a", []string{"alice"}, 0.01)
	return b.String()
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// WriteGatewayConfig writes GatewayConfig into dir/sta-gateway.toml.
func (e *Env) WriteGatewayConfig(tb testing.TB, dir, listen, token, pollInterval string) string {
	tb.Helper()
	path := filepath.Join(dir, "sta-gateway.toml")
	if err := os.WriteFile(path, []byte(e.GatewayConfig(filepath.Join(dir, "state"), listen, token, pollInterval)), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
