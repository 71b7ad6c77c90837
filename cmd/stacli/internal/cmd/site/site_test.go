package site_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/site"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdtest"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/fakegateway"
	"github.com/sta-federation/sta-gateway/gateway/api"
)

func TestSiteCommands(t *testing.T) {
	g := fakegateway.New(t)
	tests := []struct {
		name string
		new  func(*cmdtest.Env) error
		code int
		out  []string
	}{
		{"list", func(e *cmdtest.Env) error { return e.Exec(t, site.NewCmdList(e.F, nil)) }, 0, []string{"NAME", "ca-hydro  CA", "de-hpc", "NO"}},
		{"show", func(e *cmdtest.Env) error { return e.Exec(t, site.NewCmdShow(e.F, nil), "ca-hydro") }, 0, []string{"jurisdiction", "cpu, short"}},
		{"show unknown", func(e *cmdtest.Env) error { return e.Exec(t, site.NewCmdShow(e.F, nil), "x") }, 5, nil},
		{"show no name", func(e *cmdtest.Env) error { return e.Exec(t, site.NewCmdShow(e.F, nil)) }, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cmdtest.MustEnv(t, g.URL, fakegateway.AliceToken, "")
			err := tt.new(e)
			if c := cmdutil.ExitCode(err); c != tt.code {
				t.Fatalf("exit %d (%v), want %d", c, err, tt.code)
			}
			for _, s := range tt.out {
				if !strings.Contains(e.Out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, e.Out.String())
				}
			}
		})
	}
	e := cmdtest.MustEnv(t, g.URL, fakegateway.AliceToken, "")
	if err := e.Exec(t, site.NewCmdList(e.F, nil), "--json"); err != nil {
		t.Fatal(err)
	}
	var sites []api.Site
	if err := json.Unmarshal(e.Out.Bytes(), &sites); err != nil || len(sites) != 2 || sites[1].Reachable {
		t.Errorf("site list --json: %v %s", err, e.Out.String())
	}
}
