package slurm

import (
	"errors"
	"strings"
)

// MaxArgLen bounds one argument of a remote command.
const MaxArgLen = 64 << 10

// checkArg refuses what no quoting makes safe on every login shell.
func checkArg(a string) error {
	switch {
	case strings.IndexByte(a, 0) >= 0:
		return errors.New("contains a NUL byte")
	case strings.ContainsAny(a, "\n\r"):
		return errors.New("contains a line break")
	case len(a) > MaxArgLen:
		return errors.New("longer than 64 KiB")
	}
	return nil
}
