package accounting

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them (test with
// errors.Is) and name the operation and the object concerned.
var (
	// ErrInvalid: the request is malformed (a missing field, a negative
	// amount, an end before a start, an amount that overflows).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: no such project, allocation, job or entry.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts what the ledger already holds (the
	// same job or request id with different figures, overlapping allocations).
	ErrConflict = errors.New("conflict")
	// ErrInsufficient: a hold would take the allocation below what its
	// overdraft policy allows. The error is an *InsufficientError.
	ErrInsufficient = errors.New("insufficient allocation")
	// ErrNoAllocation: the project has no allocation at the site covering the
	// time of the request.
	ErrNoAllocation = errors.New("no allocation")
	// ErrNoRate: no charge rate is in force for the site and partition.
	ErrNoRate = errors.New("no charge rate")
	// ErrInconsistent: Verify found a cache that disagrees with the entries.
	ErrInconsistent = errors.New("ledger inconsistent")
	// ErrDatabase: the database is not set up as the ledger requires (journal
	// mode, synchronous, foreign keys, schema version).
	ErrDatabase = errors.New("database not usable by the ledger")
)

// InsufficientError says why a hold was refused and how much is left.
type InsufficientError struct {
	Project      string
	Site         string
	AllocationID int64
	// Requested is the hold, in core-seconds.
	Requested int64
	// Available is what the allocation had left before the hold (granted
	// plus adjustments and refunds, less charges and holds), in core-seconds;
	// negative when overdrawn.
	Available int64
	// Overdraft is the allocation's overdraft limit in core-seconds (0 for
	// none).
	Overdraft int64
}

func (e *InsufficientError) Error() string {
	msg := fmt.Sprintf("insufficient allocation: project %q at site %q (allocation %d) has %d core-seconds (%.2f core-hours) left, the hold needs %d (%.2f core-hours)",
		e.Project, e.Site, e.AllocationID, e.Available, hours(e.Available), e.Requested, hours(e.Requested))
	if e.Overdraft > 0 {
		msg += fmt.Sprintf(", overdraft allowed down to -%d", e.Overdraft)
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrInsufficient) true.
func (e *InsufficientError) Unwrap() error { return ErrInsufficient }

// Shortfall is how many core-seconds the hold lacks.
func (e *InsufficientError) Shortfall() int64 {
	return e.Requested - (e.Available + e.Overdraft)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func conflictf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

func notFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}
