package cmdutil_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

func TestExitCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("get job j-1: %w", err) }
	tests := []struct {
		name string
		err  error
		code int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 1},
		{"flag", cmdutil.FlagErrorf("--x: bad"), 2},
		{"wrapped flag", fmt.Errorf("ctx: %w", &cmdutil.FlagError{Err: errors.New("x")}), 2},
		{"unauthenticated", wrap(api.Errorf(api.CodeUnauthenticated, "no")), 4},
		{"forbidden", wrap(api.Errorf(api.CodeForbidden, "no")), 4},
		{"not found", wrap(api.Errorf(api.CodeNotFound, "no")), 5},
		{"unreachable", wrap(&client.UnreachableError{URL: "http://x", Attempts: 5, Err: errors.New("refused")}), 6},
		{"invalid", wrap(api.Errorf(api.CodeInvalid, "no")), 1},
		{"no site", wrap(api.Errorf(api.CodeNoSite, "no")), 1},
		{"gateway's 503", wrap(api.Errorf(api.CodeUnavailable, "no")), 1},
		{"internal", wrap(api.Errorf(api.CodeInternal, "no")), 1},
		{"cancelled", context.Canceled, 1},
		{"job exit code", &cmdutil.SilentExit{Code: 42}, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cmdutil.ExitCode(tt.err); got != tt.code {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.code)
			}
		})
	}
}

func TestExitCodesHelpListsTheTable(t *testing.T) {
	h := cmdutil.ExitCodesHelp(false)
	for _, c := range []string{"0  success", "1  ", "2  usage", "4  not authenticated", "5  not found", "6  the gateway cannot be reached"} {
		if !strings.Contains(h, c) {
			t.Errorf("help lacks %q:\n%s", c, h)
		}
	}
	if strings.Contains(h, "sbatch --wait") || !strings.Contains(cmdutil.ExitCodesHelp(true), "sbatch --wait") {
		t.Error("the --wait paragraph is wrong")
	}
}

func TestHints(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{cmdutil.FlagErrorf("x"), "Run 'stacli job list --help' for usage."},
		{&client.UnreachableError{URL: "u"}, "Is the gateway running at http://gw:1?"},
		{&cmdutil.MaybeSubmittedError{Err: &client.UnreachableError{URL: "u", Attempts: 1}, Key: "k1"}, "--idempotency-key k1"},
		{api.Errorf(api.CodeUnauthenticated, "x"), "STACLI_TOKEN"},
		{api.Errorf(api.CodeInsufficient, "x"), "stacli balance"},
		{api.Errorf(api.CodeNoSite, "x"), "--dry-run"},
		{errors.New("x"), ""},
	}
	// A submission that may have been accepted exits as unreachable (6).
	if c := cmdutil.ExitCode(&cmdutil.MaybeSubmittedError{Err: &client.UnreachableError{URL: "u"}}); c != cmdutil.ExitCode(&client.UnreachableError{URL: "u"}) {
		t.Errorf("a submission that may have been accepted exits %d", c)
	}
	for _, tt := range tests {
		h := cmdutil.Hint(tt.err, "stacli job list", "http://gw:1")
		if (tt.want == "" && h != "") || !strings.Contains(h, tt.want) {
			t.Errorf("Hint(%v) = %q, want %q", tt.err, h, tt.want)
		}
	}
}
