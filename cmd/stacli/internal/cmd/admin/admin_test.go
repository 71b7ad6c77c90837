package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/admin"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdtest"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
)

func TestGrantFlags(t *testing.T) {
	tests := []struct {
		args  []string
		code  int
		check func(*admin.GrantOptions) bool
	}{
		{[]string{"--project", "p", "--site", "s", "--core-hours", "12.5"}, 0, func(o *admin.GrantOptions) bool {
			return o.Grant.CoreHours == 12.5 && o.Grant.Start == nil && o.Grant.End == nil
		}},
		{[]string{"--project", "p", "--site", "s", "--core-hours", "1", "--start", "2026-01-01", "--end", "2026-06-30T12:00:00Z", "--overdraft", "--reason", "pilot"}, 0,
			func(o *admin.GrantOptions) bool {
				return o.Grant.Start.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) && o.Grant.End.Equal(time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)) &&
					o.Grant.Overdraft && o.Grant.Reason == "pilot"
			}},
		{[]string{"--project", "p", "--site", "s"}, 2, nil},
		{[]string{"--project", "p", "--site", "s", "--core-hours", "-1"}, 2, nil},
		{[]string{"--project", "p", "--site", "s", "--core-hours", "1", "--start", "tomorrow"}, 2, nil},
		{[]string{"--project", "p", "--site", "s", "--core-hours", "1", "--start", "2026-02-01", "--end", "2026-01-01"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e := cmdtest.MustEnv(t, "", "", "")
			var got *admin.GrantOptions
			err := e.Exec(t, admin.NewCmdGrant(e.F, func(_ context.Context, o *admin.GrantOptions) error { got = o; return nil }), tt.args...)
			if c := cmdutil.ExitCode(err); c != tt.code {
				t.Fatalf("exit %d (%v), want %d", c, err, tt.code)
			}
			if tt.check != nil && !tt.check(got) {
				t.Errorf("options %+v", got.Grant)
			}
		})
	}
}

func TestProjectCreateFlags(t *testing.T) {
	e := cmdtest.MustEnv(t, "", "", "")
	var got *admin.ProjectCreateOptions
	err := e.Exec(t, admin.NewCmdProjectCreate(e.F, func(_ context.Context, o *admin.ProjectCreateOptions) error { got = o; return nil }),
		"climate", "--member", "alice,bob", "--jurisdiction", "ca,de", "--account", "ca-hydro=a1", "--account", "de-hpc=a2")
	if err != nil {
		t.Fatal(err)
	}
	p := got.Project
	if p.Name != "climate" || strings.Join(p.Members, ",") != "alice,bob" || strings.Join(p.Jurisdictions, ",") != "CA,DE" ||
		p.Accounts["ca-hydro"] != "a1" || p.Accounts["de-hpc"] != "a2" {
		t.Errorf("project %+v", p)
	}
}
