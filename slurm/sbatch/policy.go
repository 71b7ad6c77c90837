package sbatch

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Policy is what the gateway accepts in a script or a request.
type Policy struct {
	// Allowed are the options a script or request may carry, by their
	// name in the model (OptionNames: "nodes", "exclusive" for
	// --exclusive and --oversubscribe, "requeue" for --requeue and
	// --no-requeue). Options outside the model are never allowed.
	Allowed map[string]bool
}

// DefaultPolicy allows every option of the model (OptionNames).
func DefaultPolicy() *Policy {
	p := &Policy{Allowed: map[string]bool{}}
	for _, n := range OptionNames() {
		p.Allowed[n] = true
	}
	return p
}

// Check returns the reasons the policy refuses a parsed script, or nil: one
// *Error per refused line or directive, joined with errors.Join and ordered
// by line. It refuses heterogeneous job separators (ErrHetJob), #PBS, #BSUB
// and #SLURM lines (ErrNotAllowed: sbatch 22.05 reads them as options, but
// only #SBATCH means the same on every Slurm version), -M/--clusters,
// --uid and --gid (ErrForbidden), options outside the allowlist
// (ErrNotAllowed), values that are unsafe to pass on (ErrInvalidValue, see
// Options.Args) and INFINITE time limits (ErrUnlimitedTime).
func (p *Policy) Check(s *Script) error {
	var errs []*Error
	for _, sep := range s.Separators {
		msg := "heterogeneous jobs are not supported; sbatch starts a new job component here"
		if !sep.Split {
			msg = "sbatch silently drops this word and the rest of its line (a heterogeneous job separator)"
		}
		errs = append(errs, errorf(sep.Line, sep.Word, ErrHetJob, msg))
	}
	for _, f := range s.Foreign {
		errs = append(errs, errorf(f.Line, f.Prefix, ErrNotAllowed,
			fmt.Sprintf("sbatch would read this %s line as options; write #SBATCH directives instead", f.Prefix)))
	}
	legacy := map[int]bool{}
	refused := map[string]bool{} // options already refused
	for _, d := range s.Directives {
		if d.Prefix == "#SLURM" && !legacy[d.Line] {
			legacy[d.Line] = true
			errs = append(errs, errorf(d.Line, "#SLURM", ErrNotAllowed, "write #SBATCH instead of the old #SLURM prefix"))
		}
		if err := p.checkDirective(d); err != nil {
			errs = append(errs, err)
			if i, ok := lookupField(d.Name); ok {
				refused[fields[i].key] = true
			}
		}
	}
	// Then the values that count (the last of each option), naming
	// the line they came from.
	errs = append(errs, p.checkValues(s.Options, refused, func(key string) int { return lastLine(s.Directives, key) })...)
	return joinErrors(errs)
}

// CheckOptions is Check for options that came from a request rather than a
// script (flags set with Options.Set): every option set must be allowed and
// its value safe; an INFINITE time limit is refused.
func (p *Policy) CheckOptions(o Options) error {
	var errs []*Error
	for _, n := range o.Names() {
		if !p.Allowed[n] {
			errs = append(errs, errorf(0, "--"+n, ErrNotAllowed, fmt.Sprintf("sbatch option --%s is not accepted by the gateway", n)))
		}
	}
	refused := map[string]bool{}
	for _, e := range errs {
		refused[strings.TrimPrefix(e.Option, "--")] = true
	}
	errs = append(errs, p.checkValues(o, refused, func(string) int { return 0 })...)
	if err := o.Validate(); err != nil {
		errs = append(errs, err.(*Error))
	}
	return joinErrors(errs)
}

func (p *Policy) checkDirective(d Directive) *Error {
	i, ok := lookupField(d.Name)
	if !ok {
		return optionError(d.Line, d.Flag, d.Name)
	}
	if key := fields[i].key; !p.Allowed[key] {
		return errorf(d.Line, d.Flag, ErrNotAllowed, fmt.Sprintf("sbatch option --%s is not accepted by the gateway", d.Name))
	}
	if d.HasValue {
		if err := CheckValue(d.Value); err != nil {
			return errorf(d.Line, d.Flag, ErrInvalidValue, err.Error())
		}
	}
	return nil
}

// checkValues checks the values of the options set (but not those in
// skip): no unlimited time, and what Args checks.
func (p *Policy) checkValues(o Options, skip map[string]bool, line func(key string) int) []*Error {
	var errs []*Error
	for i, f := range fields {
		if o.set&(1<<i) == 0 || skip[f.key] {
			continue
		}
		if f.key == "time" && o.Time == Infinite || f.key == "time-min" && o.TimeMin == Infinite {
			errs = append(errs, errorf(line(f.key), "--"+f.key, ErrUnlimitedTime,
				"an INFINITE/UNLIMITED (or 0) time limit is refused: the gateway holds core-hours for a finite limit"))
			continue
		}
		if err := o.checkField(i); err != nil {
			err.Line = line(f.key)
			errs = append(errs, err)
		}
	}
	return errs
}

// lastLine returns the line of the last directive that set the model
// option called key (the one whose value counts).
func lastLine(dirs []Directive, key string) int {
	line := 0
	for _, d := range dirs {
		if i, ok := lookupField(d.Name); ok && fields[i].key == key && d.Component == 0 {
			line = d.Line
		}
	}
	return line
}

func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
