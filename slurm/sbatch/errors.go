package sbatch

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error this package returns about a script, an
// option or a value is an *Error that wraps one of them; compare with
// errors.Is.
var (
	// ErrNotBatchScript: the script is empty, holds only whitespace, or
	// its first line does not start with "#!" (sbatch refuses all three).
	ErrNotBatchScript = errors.New("not a batch script")
	// ErrNULByte: the script contains a NUL byte, which slurmctld refuses.
	ErrNULByte = errors.New("script contains a NUL byte")
	// ErrDOSLineBreaks: the script contains "\r\n" line breaks.
	ErrDOSLineBreaks = errors.New("script contains DOS line breaks")
	// ErrTooLarge: the script is larger than MaxScriptSize.
	ErrTooLarge = errors.New("script too large")
	// ErrSyntax: a directive sbatch cannot read (an unmatched quote, a word
	// starting with ':', a word that is not an option, an option without
	// its required argument or with an argument it does not take).
	ErrSyntax = errors.New("syntax error")
	// ErrUnknownOption: an option sbatch does not know, or an abbreviation
	// that matches several options.
	ErrUnknownOption = errors.New("unknown option")
	// ErrInvalidValue: a value sbatch (or this package's validation)
	// refuses.
	ErrInvalidValue = errors.New("invalid value")
	// ErrHetJob: a heterogeneous job separator ("hetjob", "packjob").
	ErrHetJob = errors.New("heterogeneous jobs are not supported")
	// ErrForbidden: an option the gateway never passes on: -M/--clusters
	// (and --cluster), --uid, --gid.
	ErrForbidden = errors.New("option forbidden")
	// ErrNotAllowed: an option (or a directive prefix) outside the
	// policy's allowlist.
	ErrNotAllowed = errors.New("option not allowed")
	// ErrUnlimitedTime: an INFINITE or UNLIMITED time limit, which the
	// gateway cannot hold core-hours for.
	ErrUnlimitedTime = errors.New("unlimited time limit")
)

// Error describes what is wrong with a script, an option or a value.
type Error struct {
	// Line is the 1-based line of the script, or 0 when the error is not
	// about one line (the whole script, or a command-line argument).
	Line int
	// Option is the option as written ("-M", "--clus", "hetjob"), if any.
	Option string
	// Msg says what is wrong, in sbatch's words where sbatch has some.
	Msg string
	// Err is one of the package's sentinel errors.
	Err error
}

func (e *Error) Error() string {
	s := "sbatch: "
	if e.Line > 0 {
		s += "line " + strconv.Itoa(e.Line) + ": "
	}
	if e.Option != "" {
		s += e.Option + ": "
	}
	return s + e.Msg
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func errorf(line int, option string, sentinel error, msg string) *Error {
	return &Error{Line: line, Option: option, Msg: msg, Err: sentinel}
}
