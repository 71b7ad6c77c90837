package slurm

import (
	"errors"
	"strings"
)

// MaxArgLen bounds one argument of a remote command.
const MaxArgLen = 64 << 10

// Quote quotes s as one word for a POSIX shell (and for csh, given no newline):
// single quotes around it, each single quote closed, escaped and reopened. Every
// byte but NUL passes literally.
func Quote(s string) string {
	// A bare word must not start with '=' (zsh expands =cmd) or '~'.
	if s != "" && s[0] != '=' && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

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
