package slurm

import (
	"os/exec"
	"testing"
)

// TestLoginQuoteEveryShell: the words of a session's command line reach the
// program byte for byte whichever login shell reads the line. Each shell this
// machine has is tried (sh at least); fish reads \' and \\ as escapes even in
// single quotes, which plain single-quoting would let a value end early in.
func TestLoginQuoteEveryShell(t *testing.T) {
	words := []string{"", "plain", "it's", `a\`, `a\'b`, `\\`, `--output=; id; #`, `$(id) ` + "`id`" + ` $HOME *`,
		`'`, `''\''`, "tab\there", "caf\xc3\xa9", "\xff\xfe", `a\' ; echo pwned #`}
	shells := 0
	for _, sh := range []string{"sh", "dash", "bash", "zsh", "fish", "tcsh", "csh"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		shells++
		for _, w := range words {
			line := "printf '[%s]' " + loginQuote(w)
			out, err := exec.Command(path, "-c", line).Output()
			if err != nil {
				t.Errorf("%s -c %q: %v", sh, line, err)
				continue
			}
			if string(out) != "["+w+"]" {
				t.Errorf("%s read %q as %q", sh, w, out)
			}
		}
	}
	if shells == 0 {
		t.Fatal("no shell found")
	}
}
