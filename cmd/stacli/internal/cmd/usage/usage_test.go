package usage_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/usage"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdtest"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/fakegateway"
	"github.com/sta-federation/sta-gateway/gateway/api"
)

func TestUsageFlags(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		format string
		by     string
	}{
		{nil, 0, "table", ""},
		{[]string{"--json"}, 0, "json", ""},
		{[]string{"--format", "csv", "--by", "month"}, 0, "csv", "month"},
		{[]string{"--json", "--format", "csv"}, 2, "", ""},
		{[]string{"--by", "week"}, 2, "", ""},
		{[]string{"--since", "2026-01"}, 0, "table", ""},
		{[]string{"--until", "2026-13-01"}, 2, "", ""},
		{[]string{"extra"}, 2, "", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e := cmdtest.MustEnv(t, "", "", "")
			var got *usage.UsageOptions
			err := e.Exec(t, usage.NewCmdUsage(e.F, func(_ context.Context, o *usage.UsageOptions) error { got = o; return nil }), tt.args...)
			if c := cmdutil.ExitCode(err); c != tt.code {
				t.Fatalf("exit %d (%v), want %d", c, err, tt.code)
			}
			if tt.code == 0 && (got.Format != tt.format || got.By != tt.by) {
				t.Errorf("options %+v", got)
			}
		})
	}
}

func TestUsageAndBalanceOutputs(t *testing.T) {
	g := fakegateway.New(t)
	e := cmdtest.MustEnv(t, g.URL, fakegateway.AliceToken, "")
	if err := e.Exec(t, usage.NewCmdUsage(e.F, nil), "--by", "site", "--format", "csv"); err != nil {
		t.Fatal(err)
	}
	if want := "project,user,site,partition,month,jobs,core_seconds,core_hours\nclimate-ca,,ca-hydro,,,4,9000,2.5\n"; e.Out.String() != want {
		t.Errorf("csv:\n%q\nwant\n%q", e.Out.String(), want)
	}
	e.Out.Reset()
	if err := e.Exec(t, usage.NewCmdBalance(e.F, nil), "--json"); err != nil {
		t.Fatal(err)
	}
	var bs []api.Balance
	if err := json.Unmarshal(e.Out.Bytes(), &bs); err != nil || len(bs) != 1 || bs[0].RemainingSeconds != 347400 {
		t.Errorf("balance --json: %v %s", err, e.Out.String())
	}
}
