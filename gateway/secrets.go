package gateway

import (
	"fmt"
	"io"
	"os"
)

// readSecret reads a file that holds a secret (the API token, a user CA's
// private key, the audit key), refusing one that others may read: whoever
// reads it can act as any user, or sign as the gateway.
func readSecret(what, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s %s: mode %v lets others read it; chmod 600 %s", what, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("%s %s: over 1 MiB, not a secret", what, path)
	}
	return b, nil
}
