package sbatch

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxValueLen is the longest option value the gateway passes on, in bytes.
const MaxValueLen = 4096

// CheckValue checks that an option value is safe to pass on: valid UTF-8,
// no control characters (NUL, newlines, tabs, escape, DEL and the C1
// range), at most MaxValueLen bytes.
func CheckValue(v string) error {
	if len(v) > MaxValueLen {
		return fmt.Errorf("value is %d bytes long (at most %d)", len(v), MaxValueLen)
	}
	if !utf8.ValidString(v) {
		return errors.New("value is not valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("value contains the control character %U", r)
		}
	}
	return nil
}

// checkWord refuses values that must be one word: names of partitions,
// accounts, QOS, reservations, mail addresses.
func checkWord(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	if strings.ContainsAny(v, " \u00a0") {
		return errors.New("value contains a space")
	}
	return nil
}

// checkCharset returns a check that v is non-empty and made only of ASCII
// letters, digits and the characters in extra.
func checkCharset(what, extra string) func(string) error {
	return func(v string) error {
		if v == "" {
			return errors.New("empty value")
		}
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0 {
				continue
			}
			return fmt.Errorf("%q is not allowed in %s", c, what)
		}
		return nil
	}
}

var (
	// hostlists: "node[01-04,07],gpu1"; no '/' (sbatch would read a file)
	checkHostlist = checkCharset("a host list", "_.,-[]")
	// TRES and license counts: "gpu:a100:2,nvme:1", "gres/gpu=2", "matlab@db:2"
	checkTres = checkCharset("a resource list", "_.,:=/@|+-")
	// "afterok:12:13,singleton", "afterany:12_3+10?afternotok:9"
	checkDependency = checkCharset("a dependency list", "_:,?+-")
)

// Args returns the sbatch arguments that ask for the options that are set,
// one "--option=value" per option (the long name and "=", so that no value
// can be read as an option), values in canonical form, in a fixed order.
// Every value is checked: CheckValue, plus the form each option needs
// (not empty except --comment, names without spaces, host lists, resource
// lists, array and dependency syntax). Errors are *Error wrapping
// ErrInvalidValue.
//
// Submitting a script with these arguments gives sbatch exactly the options
// Parse read from the script's header, because command-line options
// override the header's (mail types add up, which changes nothing).
func (o Options) Args() ([]string, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var args []string
	for i, f := range fields {
		if o.set&(1<<i) == 0 {
			continue
		}
		if err := o.checkField(i); err != nil {
			return nil, err
		}
		args = append(args, f.args(&o)...)
	}
	return args, nil
}

// checkField checks the value of fields[i] for Args.
func (o *Options) checkField(i int) *Error {
	f := fields[i]
	if f.safe != nil {
		if err := f.safe(o); err != nil {
			return &Error{Option: "--" + f.key, Msg: err.Error(), Err: ErrInvalidValue}
		}
	}
	for _, a := range f.args(o) {
		_, v, _ := strings.Cut(a, "=")
		if err := CheckValue(v); err != nil {
			return &Error{Option: "--" + f.key, Msg: err.Error(), Err: ErrInvalidValue}
		}
	}
	return nil
}

// SubmitArgs is Args preceded by the arguments every submission needs:
// "--ignore-pbs", without which sbatch would also read #PBS and #BSUB lines
// (anywhere in its first hundred lines, overriding #SBATCH) as options.
func (o Options) SubmitArgs() ([]string, error) {
	args, err := o.Args()
	if err != nil {
		return nil, err
	}
	return append([]string{"--ignore-pbs"}, args...), nil
}

// Quote quotes s for a POSIX shell so that the shell reads it back as one
// word, byte for byte: s itself when it is made only of characters no shell
// treats specially, else s between single quotes, with each single quote
// inside written as quote, backslash, quote, quote:
//
//	Quote("it's") == `'it'\''s'`
//	Quote("")     == `''`
//
// A NUL byte cannot be passed to a program at all; keep it out (CheckValue
// does).
func Quote(s string) string {
	if s != "" && plainWord(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteArgs quotes each argument and joins them with spaces.
func QuoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// plainWord: letters, digits and "_-./:,@%+=", but not NAME=... (an
// assignment when first on a command line); no '~' (tilde expansion), no
// '#' (a comment when first).
func plainWord(s string) bool {
	if s[0] == '=' {
		return false // zsh expands =cmd to the path of cmd
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-./:,@%+=", c) >= 0 {
			continue
		}
		return false
	}
	name, _, isAssign := strings.Cut(s, "=")
	return !isAssign || !shellName(name)
}

// shellName reports whether s is a shell variable name.
func shellName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
