package accounting

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"time"
)

// CoreHour is one core-hour in core-seconds, the ledger's unit.
const CoreHour int64 = 3600

// RateUnit is the rate of one core-second charged per CPU-second: rates are
// integer thousandths, so 1000 is 1.0 and 2500 is 2.5 (a GPU partition may
// charge several core-hours per core-hour).
const RateUnit int64 = 1000

// HoldAmount is the hold placed for a job, in core-seconds: nodes x CPUs per
// node x time limit (in seconds) x rate / 1000.
//
// Rounding: a time limit with a fraction of a second counts as the next whole
// second, and the product is rounded up to a whole core-second (never down),
// exactly as ChargeAmount rounds, so that a job that uses all its CPUs for
// its whole time limit is charged exactly its hold. The arithmetic is exact
// (integers); an amount that does not fit in an int64 is an ErrInvalid.
//
// It is the pure function behind Ledger.PlaceHold; the gateway may call it to
// show a user the price of a job before submitting it.
func HoldAmount(nodes, cpusPerNode int64, timeLimit time.Duration, rate int64) (int64, error) {
	if nodes < 1 || cpusPerNode < 1 {
		return 0, invalidf("hold: nodes (%d) and CPUs per node (%d) must be at least 1", nodes, cpusPerNode)
	}
	if timeLimit <= 0 {
		return 0, invalidf("hold: time limit %v must be positive (an infinite time limit cannot be held)", timeLimit)
	}
	secs := int64(timeLimit / time.Second)
	if timeLimit%time.Second != 0 {
		secs++
	}
	cpus, ok := mul(nodes, cpusPerNode)
	if !ok {
		return 0, invalidf("hold: %d nodes x %d CPUs overflows", nodes, cpusPerNode)
	}
	cpuSecs, ok := mul(cpus, secs)
	if !ok {
		return 0, invalidf("hold: %d CPUs x %d s overflows", cpus, secs)
	}
	return ChargeAmount(cpuSecs, rate)
}

// ChargeAmount is what cpuSeconds of CPU time (Slurm's CPUTimeRAW) cost at
// rate (thousandths), in core-seconds, rounded up to a whole core-second.
func ChargeAmount(cpuSeconds, rate int64) (int64, error) {
	if cpuSeconds < 0 {
		return 0, invalidf("charge: CPU seconds %d is negative", cpuSeconds)
	}
	if rate < 0 {
		return 0, invalidf("charge: rate %d is negative", rate)
	}
	hi, lo := bits.Mul64(uint64(cpuSeconds), uint64(rate))
	if hi != 0 {
		return 0, invalidf("charge: %d CPU-seconds x rate %d overflows", cpuSeconds, rate)
	}
	q, r := lo/uint64(RateUnit), lo%uint64(RateUnit)
	if r != 0 {
		q++
	}
	if q > math.MaxInt64 {
		return 0, invalidf("charge: %d CPU-seconds x rate %d overflows", cpuSeconds, rate)
	}
	return int64(q), nil
}

func mul(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// hours converts core-seconds to core-hours for display; the ledger itself
// never computes with floats.
func hours(coreSeconds int64) float64 { return float64(coreSeconds) / float64(CoreHour) }

// FormatRate writes a rate in thousandths as a decimal ("2.5", "1", "0.125").
func FormatRate(thousandths int64) string {
	s := strconv.FormatInt(thousandths/RateUnit, 10)
	if f := thousandths % RateUnit; f != 0 {
		frac := fmt.Sprintf("%03d", f)
		for frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
		s += "." + frac
	}
	return s
}

// Overdraft is an allocation's overdraft policy: how many core-seconds below
// zero holds may take its balance. NoOverdraft refuses any hold the balance
// does not cover; UnlimitedOverdraft refuses none.
type Overdraft int64

const (
	NoOverdraft        Overdraft = 0
	UnlimitedOverdraft Overdraft = -1
)

func (o Overdraft) String() string {
	switch {
	case o == UnlimitedOverdraft:
		return "unlimited"
	case o == NoOverdraft:
		return "none"
	default:
		return strconv.FormatInt(int64(o), 10) + " core-seconds"
	}
}

// MaxCoreSeconds bounds one entry's amount, and what an allocation's grants
// and adjustments add up to: 2^52 core-seconds, 1.25e12 core-hours, far
// beyond any machine's year yet far enough below int64's range that no sum
// the caches and reports keep can overflow.
const MaxCoreSeconds = 1 << 52

// allows says whether a hold of amount may be placed when available
// core-seconds are left. A hold of zero always fits.
func (o Overdraft) allows(available, amount int64) bool {
	if amount == 0 || o == UnlimitedOverdraft {
		return true
	}
	if amount <= available {
		return true
	}
	// amount - available <= o, where amount - available may not fit.
	short := uint64(amount) - uint64(available) // amount > available: no wrap in uint64 for int64 inputs
	return o > 0 && short <= uint64(o)
}

// Month is a calendar month in UTC, written "2026-03"; its value is
// year*100 + month (202603). A job's usage belongs to the month it ended.
type Month int32

// MonthOf is the UTC month of t.
func MonthOf(t time.Time) Month {
	t = t.UTC()
	return Month(t.Year()*100 + int(t.Month()))
}

// ParseMonth reads "2026-03".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return 0, invalidf("month %q: want YYYY-MM", s)
	}
	return MonthOf(t), nil
}

// Start is the first instant of the month (UTC).
func (m Month) Start() time.Time {
	return time.Date(int(m)/100, time.Month(int(m)%100), 1, 0, 0, 0, 0, time.UTC)
}

// Next is the following month.
func (m Month) Next() Month { return MonthOf(m.Start().AddDate(0, 1, 0)) }

func (m Month) valid() bool {
	return m >= 100001 && m <= 999912 && m%100 >= 1 && m%100 <= 12
}

func (m Month) String() string {
	if m == 0 {
		return ""
	}
	return fmt.Sprintf("%04d-%02d", int(m)/100, int(m)%100)
}

// MarshalText writes "2026-03".
func (m Month) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads "2026-03".
func (m *Month) UnmarshalText(b []byte) error {
	v, err := ParseMonth(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
