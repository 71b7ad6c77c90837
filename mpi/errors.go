package mpi

import (
	"errors"
	"fmt"
	"strings"
)

// ParseError reports malformed input with its line number.
type ParseError struct {
	Format string // "topology.conf" or "ibnetdiscover"
	Line   int    // 1-based; 0 when the problem is not on one line
	Msg    string
	Err    error // the underlying error, if any (a *hostlist.SyntaxError, ...)
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Format, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Format, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Errors returned (wrapped) by Plan; test them with errors.Is.
var (
	// ErrInvalidRequest: the request is inconsistent (zero nodes, more
	// tasks than nodes can hold, parallel sizes that do not divide, ...).
	ErrInvalidRequest = errors.New("invalid placement request")
	// ErrUnknownNode: a free node is not on any leaf of the topology. The
	// error is an *UnknownNodesError.
	ErrUnknownNode = errors.New("node not in the topology")
	// ErrDuplicateNode: a node is listed twice among the free nodes.
	ErrDuplicateNode = errors.New("node listed twice")
	// ErrNotEnoughNodes: no island has enough eligible free nodes. The
	// error is an *InsufficientError.
	ErrNotEnoughNodes = errors.New("not enough free nodes")
)

// UnknownNodesError lists free nodes that the topology does not have.
type UnknownNodesError struct {
	Nodes []string
}

func (e *UnknownNodesError) Error() string {
	const show = 10
	list := e.Nodes
	more := ""
	if len(list) > show {
		list, more = list[:show], fmt.Sprintf(" and %d more", len(e.Nodes)-show)
	}
	return fmt.Sprintf("%v: %s%s", ErrUnknownNode, strings.Join(list, ","), more)
}

func (e *UnknownNodesError) Unwrap() error { return ErrUnknownNode }

// InsufficientError says how far the free nodes are from the request.
type InsufficientError struct {
	Requested     int // nodes requested
	Free          int // free nodes given
	Eligible      int // free nodes with enough free cores and GPUs
	LargestIsland int // eligible free nodes in the best island
	Islands       int
}

func (e *InsufficientError) Error() string {
	msg := fmt.Sprintf("%v: %d nodes requested, %d free", ErrNotEnoughNodes, e.Requested, e.Free)
	if e.Eligible != e.Free {
		msg += fmt.Sprintf(", %d of them with enough free cores and GPUs", e.Eligible)
	}
	if e.Islands > 1 && e.Eligible >= e.Requested {
		msg += fmt.Sprintf("; but a job never spans islands and the largest of the %d islands has %d", e.Islands, e.LargestIsland)
	}
	return msg
}

func (e *InsufficientError) Unwrap() error { return ErrNotEnoughNodes }

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, a...))
}
