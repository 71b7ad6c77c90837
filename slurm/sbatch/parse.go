package sbatch

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// MaxScriptSize is the largest script Parse reads: slurmctld's default
// max_script_size (4 MiB).
const MaxScriptSize = 4 << 20

// Script is what sbatch reads from a batch script.
type Script struct {
	// Shebang is the first line ("#!/bin/bash").
	Shebang string
	// HeaderEnd is the line of the first command, where sbatch stops
	// reading directives; 0 when the script has no command.
	HeaderEnd int
	// Directives are the options of the header in order, one per option,
	// from every heterogeneous job component.
	Directives []Directive
	// Options are the options of the (first) job, as sbatch reads them.
	Options Options
	// Separators are the "hetjob"/"packjob" words sbatch acts on.
	Separators []Separator
	// Foreign are the #PBS and #BSUB lines sbatch would translate into
	// options (unless run with --ignore-pbs, as SubmitArgs does).
	Foreign []Foreign
}

// Directive is one option sbatch read.
type Directive struct {
	// Line is the script line of the option (1-based); 0 when it came
	// from command-line arguments.
	Line int
	// Prefix is "#SBATCH", or "#SLURM" (an old prefix sbatch 22.05 still
	// reads); "" for command-line arguments.
	Prefix string
	// Flag is the option as written, without its value: "-N", "--nod".
	Flag string
	// Name is the long option it stands for: "nodes".
	Name string
	// Value is its argument, quotes and escapes removed; HasValue says
	// whether it had one.
	Value    string
	HasValue bool
	// Component is the heterogeneous job component (0 unless a separator
	// came before).
	Component int
}

// Separator is a "hetjob" (or the older "packjob") word in a directive
// line, which sbatch never passes on as an option.
type Separator struct {
	Line int
	Word string // as written
	// Split is true when the word starts its line, which makes sbatch
	// start a new job component; elsewhere sbatch silently drops the
	// word and the rest of its line.
	Split bool
}

// Foreign is a directive line of another batch system.
type Foreign struct {
	Line   int
	Prefix string // "#PBS" or "#BSUB"
}

// Parse reads a batch script and its #SBATCH header the way sbatch 22.05
// does (see the package documentation). It fails where sbatch fails, with
// an *Error carrying the line and sbatch's reason. Parse accepts everything
// sbatch accepts, including options the gateway refuses; check the result
// with a Policy.
func Parse(r io.Reader) (*Script, error) {
	buf, err := io.ReadAll(io.LimitReader(r, MaxScriptSize+1))
	if err != nil {
		return nil, fmt.Errorf("sbatch: read script: %w", err)
	}
	if len(buf) > MaxScriptSize {
		return nil, errorf(0, "", ErrTooLarge, fmt.Sprintf("batch script is larger than %d bytes", MaxScriptSize))
	}
	if err := checkScript(buf); err != nil {
		return nil, err
	}
	s := &Script{}
	lines := strings.Split(string(buf), "\n")
	if buf[len(buf)-1] == '\n' {
		lines = lines[:len(lines)-1] // sbatch's next_line: no line after the last '\n'
	}
	s.Shebang = lines[0]

	var comps [][]token
	var scanErr error // a line sbatch cannot split into words
	cur := []token{}
	for i, line := range lines {
		lineno := i + 1
		var rest, prefix string
		switch {
		case strings.HasPrefix(line, "#SBATCH"):
			prefix, rest = "#SBATCH", line[len("#SBATCH"):]
		case strings.HasPrefix(line, "#SLURM"):
			prefix, rest = "#SLURM", line[len("#SLURM"):]
		default:
			if isCommand(line) {
				s.HeaderEnd = lineno
			}
		}
		if s.HeaderEnd != 0 {
			break
		}
		if prefix == "" {
			continue
		}
		toks, sep, err := tokenizeLine(rest, lineno, prefix)
		if err != nil {
			// sbatch meets this line only after it has read the
			// components before it
			scanErr = err
			break
		}
		if sep != nil {
			s.Separators = append(s.Separators, *sep)
			if sep.Split {
				comps = append(comps, cur)
				cur = []token{}
			}
		}
		cur = append(cur, toks...)
	}
	comps = append(comps, cur)
	s.Foreign = foreignLines(lines)

	// sbatch reads each component in turn, setting each option as
	// getopt finds it: the first complaint in that order is the one
	// reported.
	for c, toks := range comps {
		if c == len(comps)-1 && scanErr != nil {
			return nil, scanErr
		}
		dirs, opts, err := readOptions(toks, true, c)
		if err != nil {
			return nil, err
		}
		s.Directives = append(s.Directives, dirs...)
		if c == 0 {
			s.Options = opts
		}
	}
	return s, nil
}

// ParseArgs reads sbatch options given as command-line arguments ("-N",
// "2", "--time=1:00:00"), as sbatch reads the options before the script
// name. Every argument must be an option or an option's value. The result
// has no shebang and its directives have no line.
func ParseArgs(args []string) (*Script, error) {
	toks := make([]token, len(args))
	for i, a := range args {
		if a == ":" {
			return nil, errorf(0, ":", ErrHetJob, "a ':' separates heterogeneous job components, which the gateway does not support")
		}
		toks[i] = token{text: a}
	}
	dirs, opts, err := readOptions(toks, false, 0)
	if err != nil {
		return nil, err
	}
	return &Script{Directives: dirs, Options: opts}, nil
}

// checkScript refuses what sbatch refuses before reading any directive, in
// sbatch's order.
func checkScript(buf []byte) error {
	if len(buf) == 0 {
		return errorf(0, "", ErrNotBatchScript, "Batch script is empty!")
	}
	if len(bytes.TrimLeft(buf, " \t\n\v\f\r")) == 0 {
		return errorf(0, "", ErrNotBatchScript, "Batch script contains only whitespace!")
	}
	if !bytes.HasPrefix(buf, []byte("#!")) {
		return errorf(1, "", ErrNotBatchScript, "This does not look like a batch script.  The first line must start with #! followed by the path to an interpreter. For instance: #!/bin/sh")
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		return errorf(bytes.Count(buf[:i], []byte("\n"))+1, "", ErrNULByte, "The Slurm controller does not allow scripts that contain a NULL character '\\0'.")
	}
	if i := bytes.Index(buf, []byte("\r\n")); i >= 0 {
		return errorf(bytes.Count(buf[:i], []byte("\n"))+1, "", ErrDOSLineBreaks, "Batch script contains DOS line breaks (\\r\\n) instead of expected UNIX line breaks (\\n).")
	}
	return nil
}

// isCommand reports whether a line that is not a directive ends the header:
// its first non-blank character is not '#'.
func isCommand(line string) bool {
	for i := 0; i < len(line); i++ {
		if isCSpace(line[i]) {
			continue
		}
		return line[i] != '#'
	}
	return false
}

// foreignLines finds the lines sbatch's wrapper translation reads: lines
// starting with #BSUB or #PBS, up to the 101st line that does not start
// with '#'.
func foreignLines(lines []string) []Foreign {
	var out []Foreign
	for _, prefix := range []string{"#BSUB", "#PBS"} {
		nonComments := 0
		for i, line := range lines {
			if strings.HasPrefix(line, prefix) {
				out = append(out, Foreign{Line: i + 1, Prefix: prefix})
				continue
			}
			if line == "" || line[0] != '#' {
				nonComments++
				if nonComments > 100 {
					break
				}
			}
		}
	}
	return out
}

// token is one word of the header.
type token struct {
	text   string
	line   int
	prefix string
}

// tokenizeLine splits what follows the directive prefix into words as
// sbatch's get_argument does: words end at unquoted whitespace; single and
// double quotes group (and are removed); a backslash makes the next
// character literal (and is removed), but cannot escape whitespace; an
// unquoted '#' starts a comment; a word that turns out empty (as "" or a
// lone backslash) ends the line. A word starting with ':' is an error. A
// word "hetjob" or "packjob" (any case, followed by whitespace or the end
// of the line) ends the line and, as the first word, starts a new job
// component.
func tokenizeLine(line string, lineno int, prefix string) ([]token, *Separator, error) {
	var toks []token
	p := 0
	for {
		start := p
		for p < len(line) && isCSpace(line[p]) {
			p++
		}
		if p == len(line) {
			return toks, nil, nil
		}
		if w := hetWord(line[p:]); w != "" {
			return toks, &Separator{Line: lineno, Word: w, Split: len(toks) == 0}, nil
		}
		if line[p] == ':' {
			return nil, nil, errorf(lineno, "", ErrSyntax, fmt.Sprintf("Unexpected `:` in [%s]", line[start:]))
		}
		var b strings.Builder
		got := false
		quoted, escaped := false, false
		var q byte
	word:
		for p < len(line) && (quoted || !isCSpace(line[p])) {
			c := line[p]
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
				p++
				continue
			case quoted:
				if c == q {
					quoted = false
					p++
					continue
				}
			case c == '"' || c == '\'':
				quoted, q = true, c
				p++
				continue
			case c == '#':
				break word
			}
			b.WriteByte(c)
			got = true
			p++
		}
		if quoted {
			return nil, nil, errorf(lineno, "", ErrSyntax, fmt.Sprintf("Unmatched `%c` in [%s]", q, line[start:]))
		}
		if !got {
			return toks, nil, nil
		}
		toks = append(toks, token{text: b.String(), line: lineno, prefix: prefix})
	}
}

// hetWord returns the heterogeneous job separator s starts with, if any.
func hetWord(s string) string {
	for _, w := range []string{"hetjob", "packjob"} {
		if len(s) >= len(w) && strings.EqualFold(s[:len(w)], w) &&
			(len(s) == len(w) || isCSpace(s[len(w)])) {
			return s[:len(w)]
		}
	}
	return ""
}

// readOptions reads the options of one job component from its words and
// sets them, in order, as sbatch does.
func readOptions(toks []token, script bool, component int) ([]Directive, Options, error) {
	var o Options
	dirs, err := getopt(toks, script, func(d Directive) error {
		d.Component = component
		return o.setDirective(d)
	})
	if err != nil {
		return nil, Options{}, err
	}
	for i := range dirs {
		dirs[i].Component = component
	}
	if err := o.Validate(); err != nil {
		var line int
		for _, d := range dirs {
			if d.Name == "mem" || d.Name == "mem-per-cpu" || d.Name == "mem-per-gpu" {
				line = d.Line
			}
		}
		err.(*Error).Line = line
		return nil, Options{}, err
	}
	return dirs, o, nil
}

// setDirective sets an option of the model from a directive (and ignores
// options outside the model).
func (o *Options) setDirective(d Directive) error {
	i, ok := lookupField(d.Name)
	if !ok {
		return nil
	}
	c := *o
	if err := fields[i].set(&c, d.Name, d.Value, d.HasValue); err != nil {
		return errorf(d.Line, d.Flag, ErrInvalidValue, err.Error())
	}
	c.set |= 1 << i
	*o = c
	return nil
}

// getopt reads options from words as glibc's getopt_long does with sbatch's
// option table and option string (which starts with '+': the first word
// that is not an option ends the options, and is an error here). Each
// option is passed to yield as soon as it is read; an error from yield
// stops the reading.
func getopt(toks []token, script bool, yield func(Directive) error) ([]Directive, error) {
	var dirs []Directive
	add := func(d Directive) error {
		dirs = append(dirs, d)
		return yield(d)
	}
	stray := func(t token) error {
		if script {
			return errorf(t.line, "", ErrSyntax, fmt.Sprintf("Invalid directive found in batch script: %s", t.text))
		}
		return errorf(0, "", ErrSyntax, fmt.Sprintf("unexpected argument %q (not an option)", t.text))
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.text == "--":
			if i+1 < len(toks) {
				return nil, stray(toks[i+1])
			}
			return dirs, nil
		case len(t.text) < 2 || t.text[0] != '-':
			return nil, stray(t)
		case strings.HasPrefix(t.text, "--"):
			name, value, hasValue := strings.Cut(t.text[2:], "=")
			flag := "--" + name
			def, cands := lookupLong(name)
			if cands != nil {
				return nil, errorf(t.line, flag, ErrUnknownOption, fmt.Sprintf("option '%s' is ambiguous; possibilities: --%s", t.text, strings.Join(cands, " --")))
			}
			if def == nil {
				return nil, errorf(t.line, flag, ErrUnknownOption, fmt.Sprintf("unrecognized option '%s'", t.text))
			}
			switch def.arg {
			case argNone:
				if hasValue {
					return nil, errorf(t.line, flag, ErrSyntax, fmt.Sprintf("option '--%s' doesn't allow an argument", def.name))
				}
			case argRequired:
				if !hasValue {
					if i+1 == len(toks) {
						return nil, errorf(t.line, flag, ErrSyntax, fmt.Sprintf("option '--%s' requires an argument", def.name))
					}
					i++
					value, hasValue = toks[i].text, true
				}
			}
			if err := add(Directive{Line: t.line, Prefix: t.prefix, Flag: flag, Name: def.name, Value: value, HasValue: hasValue}); err != nil {
				return nil, err
			}
		default:
			for j := 1; j < len(t.text); j++ {
				c := t.text[j]
				def := shortIndex[c]
				flag := "-" + string(c)
				if def == nil {
					return nil, errorf(t.line, flag, ErrUnknownOption, fmt.Sprintf("invalid option -- '%c'", c))
				}
				d := Directive{Line: t.line, Prefix: t.prefix, Flag: flag, Name: def.name}
				if def.arg != argNone {
					if rest := t.text[j+1:]; rest != "" {
						d.Value, d.HasValue = rest, true
					} else if def.arg == argRequired {
						if i+1 == len(toks) {
							return nil, errorf(t.line, flag, ErrSyntax, fmt.Sprintf("option requires an argument -- '%c'", c))
						}
						i++
						d.Value, d.HasValue = toks[i].text, true
					}
					if err := add(d); err != nil {
						return nil, err
					}
					break
				}
				if err := add(d); err != nil {
					return nil, err
				}
			}
		}
	}
	return dirs, nil
}
