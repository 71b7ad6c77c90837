package sbatch

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// isCSpace is C's isspace in the "C" locale, which sbatch's tokenizer uses.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// strtol reads a decimal integer the way C's strtol does: leading
// whitespace, an optional sign, digits. It returns the value, the rest of s
// and whether any digit was read. Values beyond ±2^62 saturate, which is
// enough for every caller to refuse them.
func strtol(s string) (n int64, rest string, ok bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n < 1<<62 {
			n = n*10 + int64(s[i]-'0')
		}
		i++
	}
	if i == start {
		return 0, s, false
	}
	if neg {
		n = -n
	}
	return n, s[i:], true
}

// parsePositive reads a strictly positive count as sbatch's parse_int does
// (the whole value must be a number). sbatch keeps counts in a C int; a
// value above 2^31-1 is refused here rather than wrapped.
func parsePositive(option, arg string) (int, error) {
	n, rest, ok := strtol(arg)
	if !ok || rest != "" || n <= 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("Invalid numeric value %q for --%s.", arg, option)
	}
	return int(n), nil
}

// NodeRange is a node count: -N/--nodes "min[-max]" (scontrol NumNodes).
// Max equals Min for a single count; Max is 0 when "min-0" asked for no
// maximum.
type NodeRange struct {
	Min, Max int
}

// String formats the range as sbatch and scontrol print it: "4" or "2-8".
// ParseNodes reads it back.
func (r NodeRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max)
}

// ParseNodes parses a node count as sbatch's verify_node_count does:
// "N", "min-max", "-max" (min 1), with an optional k or m suffix (×1024,
// ×1024²) on each number.
func ParseNodes(arg string) (NodeRange, error) {
	count := func(s string) (int64, bool) {
		n, rest, ok := strtol(s)
		if !ok {
			return -1, strings.TrimLeft(s, " \t\n\v\f\r") == ""
		}
		if rest != "" && (rest[0] == 'k' || rest[0] == 'K') {
			n *= 1024
			rest = rest[1:]
		}
		if rest != "" && (rest[0] == 'm' || rest[0] == 'M') {
			n *= 1024 * 1024
			rest = rest[1:]
		}
		return n, strings.TrimLeft(rest, " \t\n\v\f\r") == ""
	}
	bad := func() (NodeRange, error) {
		return NodeRange{}, fmt.Errorf("%q is not a valid node count", arg)
	}
	var r NodeRange
	if lo, hi, isRange := strings.Cut(arg, "-"); isRange {
		min, ok := count(lo)
		if !ok {
			return bad()
		}
		if min < 0 {
			min = 1
		}
		max, ok := count(hi)
		if !ok {
			return bad()
		}
		if min > math.MaxInt32 || max > math.MaxInt32 {
			return bad()
		}
		r = NodeRange{Min: int(min), Max: int(max)}
	} else {
		n, ok := count(arg)
		if !ok || n < 0 || n > math.MaxInt32 {
			return bad()
		}
		r = NodeRange{Min: int(n), Max: int(n)}
	}
	if r.Max != 0 && r.Max < r.Min {
		return NodeRange{}, fmt.Errorf("Maximum node count %d is less than minimum node count %d", r.Max, r.Min)
	}
	return r, nil
}

// MiB is an amount of memory in mebibytes, as --mem, --mem-per-cpu and
// --mem-per-gpu carry it (scontrol MinMemoryNode, MinMemoryCPU). Zero is a
// real value: "--mem=0" asks for all the memory of each node.
type MiB uint64

// maxMiB keeps memory sizes far from Slurm's NO_VAL64 and from overflow.
const maxMiB = 1 << 53

// String formats the amount as Slurm prints it: the largest unit that
// divides it exactly ("4G", "1T", "1500"). ParseMiB reads it back.
func (m MiB) String() string {
	v := uint64(m)
	if v == 0 {
		return "0"
	}
	units := "MGTP"
	i := 0
	for i < len(units)-1 && v%1024 == 0 {
		v /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatUint(v, 10)
	}
	return strconv.FormatUint(v, 10) + units[i:i+1]
}

// ParseMiB parses a memory size as sbatch's str_to_mbytes does: a number
// with an optional unit K, M (the default), G or T (either case, optionally
// followed by B); kibibytes round up to whole mebibytes.
func ParseMiB(arg string) (MiB, error) {
	n, rest, ok := strtol(arg)
	bad := func() (MiB, error) { return 0, fmt.Errorf("invalid memory size %q", arg) }
	if !ok || n < 0 {
		return bad()
	}
	mult, div := int64(1), int64(1)
	if rest != "" {
		switch rest[0] {
		case 'k', 'K':
			div = 1024
		case 'm', 'M':
		case 'g', 'G':
			mult = 1024
		case 't', 'T':
			mult = 1024 * 1024
		default:
			return bad()
		}
		rest = rest[1:]
		if rest == "b" || rest == "B" {
			rest = ""
		}
	}
	if rest != "" || n > maxMiB/mult {
		return bad()
	}
	return MiB((n*mult + div - 1) / div), nil
}

// MailType is the set of events --mail-type asks mail for (scontrol
// MailType). Repeated --mail-type options add up, as in sbatch.
type MailType uint16

// Mail events, in the order Slurm prints them.
const (
	MailArrayTasks MailType = 1 << iota
	MailInvalidDepend
	MailBegin
	MailEnd
	MailFail
	MailRequeue
	MailStageOut
	MailTimeLimit50
	MailTimeLimit80
	MailTimeLimit90
	MailTimeLimit
)

// MailAll is what "ALL" stands for.
const MailAll = MailInvalidDepend | MailBegin | MailEnd | MailFail | MailRequeue | MailStageOut

var mailNames = []struct {
	name string
	bit  MailType
}{
	{"ARRAY_TASKS", MailArrayTasks},
	{"INVALID_DEPEND", MailInvalidDepend},
	{"BEGIN", MailBegin},
	{"END", MailEnd},
	{"FAIL", MailFail},
	{"REQUEUE", MailRequeue},
	{"STAGE_OUT", MailStageOut},
	{"TIME_LIMIT_50", MailTimeLimit50},
	{"TIME_LIMIT_80", MailTimeLimit80},
	{"TIME_LIMIT_90", MailTimeLimit90},
	{"TIME_LIMIT", MailTimeLimit},
}

// String lists the events as Slurm does ("BEGIN,END"); "NONE" when empty.
func (m MailType) String() string {
	var names []string
	for _, n := range mailNames {
		if m&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "NONE"
	}
	return strings.Join(names, ",")
}

// ParseMailType parses a --mail-type value as sbatch's parse_mail_type
// does: comma-separated event names in any case, "ALL", "NONE" (which ends
// the list: "NONE,BEGIN" is NONE). Unknown names are ignored as long as one
// name is known; a value with no known name is an error.
func ParseMailType(arg string) (MailType, error) {
	var m MailType
	known := false
	for _, tok := range strings.Split(arg, ",") {
		if tok == "" {
			continue
		}
		if strings.EqualFold(tok, "NONE") {
			return 0, nil
		}
		if strings.EqualFold(tok, "ALL") {
			m |= MailAll
			known = true
			continue
		}
		for _, n := range mailNames {
			if strings.EqualFold(tok, n.name) {
				m |= n.bit
				known = true
			}
		}
	}
	if !known {
		return 0, fmt.Errorf("Invalid --mail-type specification")
	}
	return m, nil
}

// Share is how a job shares its nodes: --exclusive[=user|mcs] or
// -s/--oversubscribe, which set the same thing (the last one wins).
// scontrol shows it as OverSubscribe (NO, USER, MCS, YES).
type Share uint8

// Share values.
const (
	ShareDefault       Share = iota // the partition's default
	ShareExclusive                  // --exclusive
	ShareUser                       // --exclusive=user
	ShareMCS                        // --exclusive=mcs
	ShareOversubscribe              // --oversubscribe
)

// String names the value as sbatch -v does.
func (s Share) String() string {
	switch s {
	case ShareExclusive:
		return "exclusive"
	case ShareUser:
		return "user"
	case ShareMCS:
		return "mcs"
	case ShareOversubscribe:
		return "oversubscribe"
	}
	return ""
}

// OpenMode is --open-mode: how the job opens its output files.
type OpenMode uint8

// OpenMode values.
const (
	OpenDefault OpenMode = iota
	OpenAppend
	OpenTruncate
)

// String names the mode as --open-mode takes it.
func (m OpenMode) String() string {
	switch m {
	case OpenAppend:
		return "append"
	case OpenTruncate:
		return "truncate"
	}
	return ""
}

// Switches is --switches=count[@max-time]: the most leaf switches the job
// may span, and how long it may wait for that (scontrol Switches and
// Wait-for-Switch). Wait is Infinite when no time is given, as in sbatch
// (which reads "@INFINITE" the same way); "@0" is a real zero wait.
type Switches struct {
	Count int
	Wait  time.Duration
}

// String formats the value as sbatch -v prints it: "2" (no wait limit),
// "2@01:00:00". (Args writes the wait always: "2@UNLIMITED".)
func (s Switches) String() string {
	if s.Wait == Infinite {
		return strconv.Itoa(s.Count)
	}
	return strconv.Itoa(s.Count) + "@" + FormatTime(s.Wait)
}

// parseSwitches reads --switches; hasWait says whether a wait was given.
func parseSwitches(arg string) (s Switches, hasWait bool, err error) {
	count, wait, hasWait := strings.Cut(arg, "@")
	n, err := parsePositive("switches", count)
	if err != nil {
		return Switches{}, false, err
	}
	s = Switches{Count: n, Wait: Infinite}
	if hasWait {
		// sbatch accepts an unreadable time here and sends NO_VAL;
		// refuse it instead.
		if s.Wait, err = ParseTime(wait); err != nil {
			return Switches{}, false, err
		}
	}
	return s, hasWait, nil
}

// maxArrayIndex is Slurm's largest possible MaxArraySize minus one.
const maxArrayIndex = 4000000

// ArrayTasks reads a job array specification (--array, as "0-15",
// "1,3,5-11:2", "0-99%10") and returns how many tasks it makes and the
// limit on tasks running at once (0 when none is given). Duplicate indexes
// count once, as in Slurm's bitmap.
func ArrayTasks(spec string) (tasks, maxRunning int, err error) {
	seen, maxRunning, err := arrayBitmap(spec)
	if err != nil {
		return 0, 0, err
	}
	for _, w := range seen {
		tasks += bits.OnesCount64(w)
	}
	return tasks, maxRunning, nil
}

// ArrayIndexes lists the task indexes of an --array specification, ascending
// (the "%N" limit, if any, is not an index and is dropped). The specification
// is checked as ArrayTasks checks it.
func ArrayIndexes(spec string) ([]int, error) {
	seen, _, err := arrayBitmap(spec)
	if err != nil {
		return nil, err
	}
	var out []int
	for i, w := range seen {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			out = append(out, i*64+b)
			w &^= 1 << b
		}
	}
	return out, nil
}

// arrayBitmap reads an --array specification into a bitmap of its indexes.
func arrayBitmap(spec string) (seen []uint64, maxRunning int, err error) {
	bad := func(why string) ([]uint64, int, error) {
		return nil, 0, fmt.Errorf("invalid job array %q: %s", spec, why)
	}
	list, limit, hasLimit := strings.Cut(spec, "%")
	if hasLimit {
		n, err := parsePositive("array", limit)
		if err != nil || !allDigits(limit) {
			return bad("the limit after % must be a positive number")
		}
		maxRunning = n
	}
	num := func(s string) (int, bool) {
		if !allDigits(s) || len(s) > 8 {
			return 0, false
		}
		n, _ := strconv.Atoi(s)
		return n, n <= maxArrayIndex
	}
	type span struct{ lo, hi, step int }
	var spans []span
	top := 0
	for _, item := range strings.Split(list, ",") {
		rng, step, hasStep := strings.Cut(item, ":")
		lo, hi, isRange := strings.Cut(rng, "-")
		a, ok := num(lo)
		if !ok {
			return bad(fmt.Sprintf("%q is not an index between 0 and %d", lo, maxArrayIndex))
		}
		b := a
		if isRange {
			if b, ok = num(hi); !ok {
				return bad(fmt.Sprintf("%q is not an index between 0 and %d", hi, maxArrayIndex))
			}
			if b < a {
				return bad("a range ends before it starts")
			}
		}
		st := 1
		if hasStep {
			if !isRange {
				return bad("a step needs a range")
			}
			if st, ok = num(step); !ok || st == 0 {
				return bad("the step must be a positive number")
			}
		}
		spans = append(spans, span{a, b, st})
		top = max(top, b)
	}
	// Count the union in a bitmap: ranges with step 1 are filled a word
	// at a time; stepped ranges are walked, within a budget, so that a
	// short specification cannot cost much time.
	seen = make([]uint64, top/64+1)
	budget := 4 * (maxArrayIndex + 1)
	for _, s := range spans {
		if s.step == 1 {
			fillBits(seen, s.lo, s.hi)
			continue
		}
		if budget -= (s.hi-s.lo)/s.step + 1; budget < 0 {
			return bad("too many stepped ranges")
		}
		for i := s.lo; i <= s.hi; i += s.step {
			seen[i/64] |= 1 << (i % 64)
		}
	}
	return seen, maxRunning, nil
}

// fillBits sets bits lo..hi (inclusive) of b.
func fillBits(b []uint64, lo, hi int) {
	for lo <= hi {
		if lo%64 == 0 && hi-lo >= 63 {
			b[lo/64] = ^uint64(0)
			lo += 64
			continue
		}
		b[lo/64] |= 1 << (lo % 64)
		lo++
	}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
