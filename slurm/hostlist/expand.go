package hostlist

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const (
	// DefaultMaxHosts is the largest expansion Expand accepts.
	DefaultMaxHosts = 1 << 20

	// MaxRange is the largest number of hosts one range ("lo-hi") may
	// hold; Slurm refuses larger ranges ("Too many hosts in range").
	MaxRange = 64 * 1024

	// maxDigits bounds the digits of one number so that it fits an int64.
	maxDigits = 18
)

// ErrTooManyHosts is returned (wrapped) when an expression expands to more
// hosts than the limit.
var ErrTooManyHosts = errors.New("hostlist: too many hosts")

// SyntaxError reports a malformed hostlist expression.
type SyntaxError struct {
	Expr   string // the whole expression
	Offset int    // byte offset of the problem in Expr
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("hostlist %q: at offset %d: %s", e.Expr, e.Offset, e.Msg)
}

// rng is one range of a bracket group.
type rng struct {
	lo, hi int64
	width  int
}

func (r rng) count() int64 { return r.hi - r.lo + 1 }

// group is one bracket group: its ranges in the order written.
type group struct {
	ranges []rng
	count  int64
}

// item is one comma-separated element: texts[i] precedes groups[i]; the
// item is texts[0] g0 texts[1] g1 ... (no text after the last group).
type item struct {
	texts  []string
	groups []group
}

// Expand returns the hosts of a Slurm hostlist expression, in Slurm's order,
// duplicates kept. It refuses expressions of more than DefaultMaxHosts hosts.
func Expand(expr string) ([]string, error) {
	return ExpandMax(expr, DefaultMaxHosts)
}

// ExpandMax is Expand with a limit on the number of hosts; max <= 0 means
// DefaultMaxHosts. An expression over the limit gives an error wrapping
// ErrTooManyHosts, found before the hosts are built.
func ExpandMax(expr string, max int) ([]string, error) {
	if max <= 0 {
		max = DefaultMaxHosts
	}
	items, total, err := parse(expr, int64(max))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, total)
	var buf []byte
	for _, it := range items {
		if len(it.groups) == 0 {
			out = append(out, it.texts[0])
			continue
		}
		out = expandItem(out, &buf, it)
	}
	return out, nil
}

// Count returns the number of hosts of an expression without building them.
// It applies the same checks as Expand, with no limit but int64 overflow.
func Count(expr string) (int64, error) {
	_, total, err := parse(expr, 1<<62)
	return total, err
}

// expandItem appends the hosts of one item in Slurm's order: the last group
// varies fastest; the groups before it vary, fastest first, from the first
// to the one before last.
func expandItem(out []string, buf *[]byte, it item) []string {
	n := len(it.groups)
	// order[i] is the group that the i-th loop (outermost first) walks.
	order := make([]int, 0, n)
	for g := n - 2; g >= 0; g-- {
		order = append(order, g)
	}
	order = append(order, n-1)
	// idx[g] is the current (range, value) of group g.
	type pos struct {
		r int
		v int64
	}
	idx := make([]pos, n)
	for g := range idx {
		idx[g] = pos{0, it.groups[g].ranges[0].lo}
	}
	for {
		b := (*buf)[:0]
		for g := 0; g < n; g++ {
			b = append(b, it.texts[g]...)
			r := it.groups[g].ranges[idx[g].r]
			b = appendPadded(b, idx[g].v, r.width)
		}
		*buf = b
		out = append(out, string(b))
		// Advance like an odometer, innermost loop first.
		l := n - 1
		for ; l >= 0; l-- {
			g := order[l]
			p := &idx[g]
			rs := it.groups[g].ranges
			if p.v < rs[p.r].hi {
				p.v++
				break
			}
			if p.r+1 < len(rs) {
				p.r++
				p.v = rs[p.r].lo
				break
			}
			*p = pos{0, rs[0].lo}
		}
		if l < 0 {
			return out
		}
	}
}

func appendPadded(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func isSep(c byte) bool { return c == ',' || c == ' ' || c == '\t' }

// parse checks the whole expression and counts its hosts, refusing more than
// max.
func parse(expr string, max int64) ([]item, int64, error) {
	var items []item
	var total int64
	i := 0
	for i < len(expr) {
		if isSep(expr[i]) {
			i++
			continue
		}
		it, next, err := parseItem(expr, i)
		if err != nil {
			return nil, 0, err
		}
		n := int64(1)
		for _, g := range it.groups {
			if n > max/g.count {
				return nil, 0, fmt.Errorf("%w: %q expands to more than %d hosts", ErrTooManyHosts, expr, max)
			}
			n *= g.count
		}
		if total > max-n {
			return nil, 0, fmt.Errorf("%w: %q expands to more than %d hosts", ErrTooManyHosts, expr, max)
		}
		total += n
		items = append(items, it)
		i = next
	}
	return items, total, nil
}

// parseItem parses the item starting at expr[start]; it returns the offset
// just past it.
func parseItem(expr string, start int) (item, int, error) {
	var it item
	i := start
	textStart := i
	for i < len(expr) && !isSep(expr[i]) {
		c := expr[i]
		switch {
		case c == '[':
			it.texts = append(it.texts, expr[textStart:i])
			g, next, err := parseGroup(expr, i)
			if err != nil {
				return item{}, 0, err
			}
			it.groups = append(it.groups, g)
			i = next
			textStart = i
			continue
		case c == ']':
			return item{}, 0, &SyntaxError{expr, i, "']' without a matching '['"}
		case c < 0x20 || c == 0x7f:
			return item{}, 0, &SyntaxError{expr, i, fmt.Sprintf("control character %q in a host name", c)}
		}
		i++
	}
	suffix := expr[textStart:i]
	if len(it.groups) == 0 {
		it.texts = append(it.texts, suffix)
		return it, i, nil
	}
	if suffix != "" {
		return item{}, 0, &SyntaxError{expr, textStart, fmt.Sprintf("text %q after the last bracket group: Slurm does not accept it; write the hosts out or put a range after it", suffix)}
	}
	return it, i, nil
}

// parseGroup parses "[...]" starting at expr[open] == '['.
func parseGroup(expr string, open int) (group, int, error) {
	var g group
	i := open + 1
	for {
		r, next, err := parseRange(expr, i, open)
		if err != nil {
			return group{}, 0, err
		}
		g.ranges = append(g.ranges, r)
		g.count += r.count()
		if g.count > 1<<40 {
			return group{}, 0, &SyntaxError{expr, open, "bracket group holds too many hosts"}
		}
		i = next
		if i >= len(expr) {
			return group{}, 0, &SyntaxError{expr, open, "'[' is never closed"}
		}
		switch expr[i] {
		case ',':
			i++
		case ']':
			return g, i + 1, nil
		default:
			return group{}, 0, &SyntaxError{expr, i, fmt.Sprintf("unexpected %q in a range (want digits, '-', ',' or ']')", expr[i])}
		}
	}
}

// parseRange parses "lo" or "lo-hi" at expr[i].
func parseRange(expr string, i, open int) (rng, int, error) {
	lo, j := digits(expr, i)
	if lo == "" {
		if i >= len(expr) {
			return rng{}, 0, &SyntaxError{expr, open, "'[' is never closed"}
		}
		return rng{}, 0, &SyntaxError{expr, i, "expected a number in the range"}
	}
	if len(lo) > maxDigits {
		return rng{}, 0, &SyntaxError{expr, i, fmt.Sprintf("number %s has more than %d digits", lo, maxDigits)}
	}
	r := rng{width: len(lo)}
	r.lo, _ = strconv.ParseInt(lo, 10, 64)
	r.hi = r.lo
	if j < len(expr) && expr[j] == '-' {
		hi, k := digits(expr, j+1)
		if hi == "" {
			return rng{}, 0, &SyntaxError{expr, j + 1, fmt.Sprintf("range %s- has no upper bound", lo)}
		}
		if len(hi) > maxDigits {
			return rng{}, 0, &SyntaxError{expr, j + 1, fmt.Sprintf("number %s has more than %d digits", hi, maxDigits)}
		}
		r.hi, _ = strconv.ParseInt(hi, 10, 64)
		if r.hi < r.lo {
			return rng{}, 0, &SyntaxError{expr, i, fmt.Sprintf("range %s-%s runs backwards", lo, hi)}
		}
		if r.count() > MaxRange {
			return rng{}, 0, &SyntaxError{expr, i, fmt.Sprintf("range %s-%s holds %d hosts; Slurm allows at most %d in one range", lo, hi, r.count(), MaxRange)}
		}
		j = k
	}
	return r, j, nil
}

func digits(s string, i int) (string, int) {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	return s[i:j], j
}

// validHost reports why a host name cannot be written in a hostlist, or "".
func validHost(h string) string {
	if h == "" {
		return "empty host name"
	}
	if strings.ContainsAny(h, ",[] \t") {
		return fmt.Sprintf("host name %q contains a separator or a bracket", h)
	}
	for i := 0; i < len(h); i++ {
		if h[i] < 0x20 || h[i] == 0x7f {
			return fmt.Sprintf("host name %q contains a control character", h)
		}
	}
	return ""
}
