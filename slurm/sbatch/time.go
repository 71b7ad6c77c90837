package sbatch

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Infinite is the time limit ParseTime returns for "INFINITE", "UNLIMITED"
// and "-1". It is not a real duration: compare against it before doing
// arithmetic with a time limit.
const Infinite time.Duration = math.MaxInt64

// maxTimeSeconds bounds every time sbatch can hold without overflow: it
// computes seconds in a C int and rounds up to minutes by adding 59.
const maxTimeSeconds = math.MaxInt32 - 59

// ParseTime parses a Slurm time limit as sbatch's time_str2mins does:
//
//	minutes                    "30"
//	minutes:seconds            "3:00"
//	hours:minutes:seconds      "1:30:00"
//	days-hours                 "1-0", "2-12"
//	days-hours:minutes         "2-12:30"
//	days-hours:minutes:seconds "1-00:00:00"
//	INFINITE, UNLIMITED, -1    Infinite (case-insensitive)
//
// Fields are not range-checked ("1:99:99" is 2h41m, as in Slurm) and seconds
// round up to the next whole minute ("0:30" is one minute), because Slurm
// keeps time limits in minutes. "0" parses to 0; sbatch's --time and
// --time-min read a zero limit as Infinite (Options.Set does the same).
//
// ParseTime is stricter than sbatch in two ways, both about values sbatch
// reads into nonsense: a negative day count ("-5", "-0") and a limit that
// overflows sbatch's 32-bit arithmetic (more than about 68 years) are
// refused instead of wrapping around.
func ParseTime(s string) (time.Duration, error) {
	if s == "-1" || strings.EqualFold(s, "INFINITE") || strings.EqualFold(s, "UNLIMITED") {
		return Infinite, nil
	}
	invalid := func(why string) (time.Duration, error) {
		return 0, &Error{Msg: fmt.Sprintf("invalid time %q: %s", s, why), Err: ErrInvalidValue}
	}
	if !validTimespec(s) {
		return invalid("expected minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes, days-hours:minutes:seconds or UNLIMITED")
	}
	if strings.HasPrefix(s, "-") {
		return invalid("negative time")
	}
	// Read the numbers as sscanf does: each field up to the next
	// separator; a missing field is 0.
	var nums []int64
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == ':' }) {
		var n int64
		for i := 0; i < len(f); i++ {
			n = n*10 + int64(f[i]-'0')
			if n > math.MaxInt32 {
				return invalid("too large")
			}
		}
		nums = append(nums, n)
	}
	field := func(i int) int64 {
		if i < len(nums) {
			return nums[i]
		}
		return 0
	}
	var secs int64
	switch {
	case strings.Contains(s, "-"):
		secs = field(0)*86400 + field(1)*3600 + field(2)*60 + field(3)
	case strings.Count(s, ":") == 2:
		secs = field(0)*3600 + field(1)*60 + field(2)
	default:
		secs = field(0)*60 + field(1)
	}
	if secs > maxTimeSeconds {
		return invalid("too large")
	}
	mins := (secs + 59) / 60
	return time.Duration(mins) * time.Minute, nil
}

// validTimespec is Slurm's _is_valid_timespec: only digits, '-' and ':', at
// most one '-' (before any ':'), at most two ':', and enough numbers for the
// separators used.
func validTimespec(s string) bool {
	digits, dashes, colons := 0, 0, 0
	inDigit := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if !inDigit {
				digits++
				inDigit = true
			}
		case c == '-':
			inDigit = false
			dashes++
			if colons > 0 {
				return false
			}
		case c == ':':
			inDigit = false
			colons++
		default:
			return false
		}
	}
	if digits == 0 || dashes > 1 || colons > 2 {
		return false
	}
	if dashes > 0 {
		return !(colons == 1 && digits < 3 || colons == 2 && digits < 4)
	}
	return !(colons == 1 && digits < 2 || colons == 2 && digits < 3)
}

// FormatTime formats a time limit as Slurm prints it (sbatch -v, scontrol's
// TimeLimit, squeue's %l): "HH:MM:SS" below a day, "D-HH:MM:SS" from a day
// on, "UNLIMITED" for Infinite and "INVALID" for a negative duration.
// Sub-second parts are dropped. ParseTime reads every result back.
func FormatTime(d time.Duration) string {
	if d == Infinite {
		return "UNLIMITED"
	}
	if d < 0 {
		return "INVALID"
	}
	secs := int64(d / time.Second)
	days, secs := secs/86400, secs%86400
	h, m, s := secs/3600, secs%3600/60, secs%60
	if days > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, h, m, s)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
}
