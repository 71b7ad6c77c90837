package hostlist

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// host is a host name split as Slurm splits it: a prefix and the decimal
// digits that end the name (if any).
type host struct {
	name   string
	prefix string
	num    string // trailing digits, "" when the name has none
	val    int64
}

func splitHost(name string) host {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	h := host{name: name, prefix: name}
	if i == len(name) || len(name)-i > maxDigits {
		return h
	}
	h.prefix, h.num = name[:i], name[i:]
	h.val, _ = strconv.ParseInt(h.num, 10, 64)
	return h
}

// cmpHost orders hosts as Slurm's hostlist_sort does: natural order of the
// prefixes; for one prefix, a name without a number first; then numbers of
// fewer digits first (a zero-padded number never joins a range of another
// width), then by value.
func cmpHost(a, b host) int {
	if c := NaturalCompare(a.prefix, b.prefix); c != 0 {
		return c
	}
	if c := strings.Compare(a.prefix, b.prefix); c != 0 {
		return c // only for prefixes that differ in white space
	}
	switch {
	case a.num == "" && b.num == "":
		return 0
	case a.num == "":
		return -1
	case b.num == "":
		return 1
	}
	if len(a.num) != len(b.num) {
		return len(a.num) - len(b.num)
	}
	switch {
	case a.val < b.val:
		return -1
	case a.val > b.val:
		return 1
	}
	return 0
}

// Sort sorts host names in place in the order of `scontrol show
// hostlistsorted` (see Compress).
func Sort(hosts []string) {
	hs := make([]host, len(hosts))
	for i, h := range hosts {
		hs[i] = splitHost(h)
	}
	slices.SortStableFunc(hs, cmpHost)
	for i := range hs {
		hosts[i] = hs[i].name
	}
}

// Compress returns the shortest Slurm hostlist expression of the distinct
// hosts: sorted as `scontrol show hostlistsorted` sorts them, one bracket
// group per run of a prefix, consecutive numbers of the same zero padding
// joined into ranges ("n[01-03,07],login1"). Duplicates are dropped (Slurm
// would keep them as "n[1,1-2]"). Host names must be non-empty and free of
// separators (",", space, tab), brackets and control characters.
func Compress(hosts []string) (string, error) {
	hs := make([]host, 0, len(hosts))
	for _, h := range hosts {
		if why := validHost(h); why != "" {
			return "", fmt.Errorf("hostlist: cannot compress: %s", why)
		}
		hs = append(hs, splitHost(h))
	}
	slices.SortFunc(hs, cmpHost)
	hs = slices.CompactFunc(hs, func(a, b host) bool { return a.name == b.name })

	var b strings.Builder
	for i := 0; i < len(hs); {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		h := hs[i]
		if h.num == "" {
			b.WriteString(h.name)
			i++
			continue
		}
		// The run of numbered hosts sharing this prefix.
		j := i + 1
		for j < len(hs) && hs[j].num != "" && hs[j].prefix == h.prefix {
			j++
		}
		if j == i+1 {
			b.WriteString(h.name)
			i = j
			continue
		}
		b.WriteString(h.prefix)
		b.WriteByte('[')
		for k := i; k < j; {
			// Join k..m while each next number is the previous plus one
			// printed with the width of the range's first number.
			m := k
			for m+1 < j && hs[m+1].val == hs[m].val+1 && sameWidth(hs[k].num, hs[m+1]) {
				m++
			}
			if k > i {
				b.WriteByte(',')
			}
			b.WriteString(hs[k].num)
			if m > k {
				b.WriteByte('-')
				b.WriteString(hs[m].num)
			}
			k = m + 1
		}
		b.WriteByte(']')
		i = j
	}
	return b.String(), nil
}

// sameWidth reports whether h's number, printed with the zero padding of
// first (the first number of a range), reads as h's own digits.
func sameWidth(first string, h host) bool {
	return string(appendPadded(nil, h.val, len(first))) == h.num
}

// NaturalCompare compares two strings as Slurm's strnatcmp does: runs of
// digits compare by value ("rack9" < "rack10"); a run that starts with a
// zero compares digit by digit, as a fraction would; spaces are skipped.
// It returns -1, 0 or +1.
func NaturalCompare(a, b string) int {
	ai, bi := 0, 0
	for {
		for ai < len(a) && isSpace(a[ai]) {
			ai++
		}
		for bi < len(b) && isSpace(b[bi]) {
			bi++
		}
		ca, cb := at(a, ai), at(b, bi)
		if isDigit(ca) && isDigit(cb) {
			var r int
			if ca == '0' || cb == '0' {
				r = compareLeft(a[ai:], b[bi:])
			} else {
				r = compareRight(a[ai:], b[bi:])
			}
			if r != 0 {
				return r
			}
		}
		if ca == 0 && cb == 0 {
			return 0
		}
		if ca < cb {
			return -1
		}
		if ca > cb {
			return 1
		}
		ai++
		bi++
	}
}

// compareRight compares two right-aligned numbers: the longer run wins;
// equal lengths compare by the first differing digit.
func compareRight(a, b string) int {
	bias := 0
	for i := 0; ; i++ {
		ca, cb := at(a, i), at(b, i)
		da, db := isDigit(ca), isDigit(cb)
		switch {
		case !da && !db:
			return bias
		case !da:
			return -1
		case !db:
			return 1
		case ca < cb && bias == 0:
			bias = -1
		case ca > cb && bias == 0:
			bias = 1
		}
	}
}

// compareLeft compares two left-aligned numbers: the first differing digit
// wins.
func compareLeft(a, b string) int {
	for i := 0; ; i++ {
		ca, cb := at(a, i), at(b, i)
		da, db := isDigit(ca), isDigit(cb)
		switch {
		case !da && !db:
			return 0
		case !da:
			return -1
		case !db:
			return 1
		case ca < cb:
			return -1
		case ca > cb:
			return 1
		}
	}
}

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
