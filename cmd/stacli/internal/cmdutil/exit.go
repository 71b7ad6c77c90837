package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// Exit codes of stacli (ARCHITECTURE.md, "stacli exit codes").
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitAuth        = 4
	ExitNotFound    = 5
	ExitUnreachable = 6
)

// exitCodes is THE table from errors to exit codes, first match wins. Its
// Meaning column is what every command's help prints.
var exitCodes = []struct {
	Code    int
	Meaning string
	Match   func(error) bool
}{
	{ExitUsage, "usage: a bad flag, argument or flag value", func(err error) bool {
		var fe *FlagError
		return errors.As(err, &fe)
	}},
	{ExitAuth, "not authenticated (missing or bad token) or not allowed", func(err error) bool {
		c := apiCode(err)
		return c == api.CodeUnauthenticated || c == api.CodeForbidden
	}},
	{ExitNotFound, "not found: no such job, site or project", func(err error) bool {
		return apiCode(err) == api.CodeNotFound
	}},
	{ExitUnreachable, "the gateway cannot be reached", func(err error) bool {
		return errors.Is(err, client.ErrUnreachable)
	}},
	{ExitError, "any other error", func(error) bool { return true }},
}

func apiCode(err error) api.Code {
	var e *api.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ExitCode maps an error to stacli's exit code: 0 for nil, the code an
// *ExitError carries, else the first row of the table that matches.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *SilentExit
	if errors.As(err, &ee) {
		return ee.Code
	}
	for _, row := range exitCodes {
		if row.Match(err) {
			return row.Code
		}
	}
	return ExitError
}

// ExitCodesHelp is the "Exit codes" section of every command's help; wait
// adds what a command that follows a job to its end returns.
func ExitCodesHelp(wait bool) string {
	var b strings.Builder
	b.WriteString("Exit codes:\n  0  success\n")
	rows := map[int]string{}
	for _, r := range exitCodes {
		rows[r.Code] = r.Meaning
	}
	for _, c := range []int{ExitError, ExitUsage, ExitAuth, ExitNotFound, ExitUnreachable} {
		fmt.Fprintf(&b, "  %d  %s\n", c, rows[c])
	}
	if wait {
		b.WriteString("  When following a job to its end (as sbatch --wait): the job's exit code;\n" +
			"  1 if it was killed by a signal, ended without an exit code, or ended in a\n" +
			"  state other than COMPLETED with exit code 0; for an array, the highest\n" +
			"  across its tasks. The final state is printed on stderr.\n")
	}
	return b.String()
}

// FlagError is a usage error: exit code 2.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf returns a *FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// SilentExit ends stacli with Code after the command has said what there was
// to say: Main prints nothing more.
type SilentExit struct {
	Code int
}

func (e *SilentExit) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// MaybeSubmittedError is a submission the gateway did not answer after it may
// have received it: the job may exist. Its exit code is Err's (unreachable).
type MaybeSubmittedError struct {
	Err error
	Key string // the submission's Idempotency-Key
}

func (e *MaybeSubmittedError) Error() string { return e.Err.Error() }
func (e *MaybeSubmittedError) Unwrap() error { return e.Err }

// Hint says what to do next about err, or "" when there is nothing to add.
// cmdPath is the command that failed ("stacli job status").
func Hint(err error, cmdPath, gateway string) string {
	var fe *FlagError
	var ms *MaybeSubmittedError
	switch {
	case errors.As(err, &ms):
		return fmt.Sprintf("The job may have been accepted: run the same command with --idempotency-key %s to get it without submitting it twice.", ms.Key)
	case errors.As(err, &fe):
		return fmt.Sprintf("Run '%s --help' for usage.", cmdPath)
	case errors.Is(err, context.Canceled):
		return ""
	case errors.Is(err, client.ErrUnreachable):
		return fmt.Sprintf("Is the gateway running at %s? Set 'gateway' in the config file or STACLI_GATEWAY; 'stacli config show' shows what is in effect.", gateway)
	}
	switch apiCode(err) {
	case api.CodeUnauthenticated:
		return "Check your token (and, with a service token, the user it acts for): STACLI_TOKEN or token/token_file, STACLI_USER or user in the config file ('stacli config show')."
	case api.CodeForbidden:
		return "Your token is not allowed to do this: ask an admin of the project (or of the gateway) for access."
	case api.CodeNotFound:
		return "Check the name or id: 'stacli job list', 'stacli site list'."
	case api.CodeInsufficient:
		return "The allocation does not cover the job: see 'stacli balance', or ask for a shorter --time or fewer --nodes."
	case api.CodeNoSite:
		return "No site may and can run the job: 'stacli job submit --dry-run' shows why each site was refused."
	case api.CodeConflict:
		return "That idempotency key was used for a different request: use a new key."
	case api.CodeUnavailable:
		return "The gateway or a site is unavailable right now: try again later ('stacli site list' shows the sites)."
	case api.CodeRejected:
		return "The site's Slurm refused the job: check the script's #SBATCH lines against the site's limits."
	}
	return ""
}
