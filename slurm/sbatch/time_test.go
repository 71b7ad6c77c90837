package sbatch

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// Expected values were read from sbatch 22.05.8 itself ("sbatch -v" prints
// the time limit it parsed); TestOracleRecorded re-checks many of them
// against the recording.
func TestParseTime(t *testing.T) {
	const (
		m = time.Minute
		h = time.Hour
		d = 24 * time.Hour
	)
	tests := []struct {
		in   string
		want time.Duration
	}{
		// minutes
		{"30", 30 * m},
		{"0", 0},
		{"007", 7 * m},
		{"90", 90 * m},
		{"1440", d},
		// minutes:seconds, seconds round up
		{"3:00", 3 * m},
		{"0:30", m},
		{"1:30", 2 * m},
		{"0:59", m},
		{"0:60", m},
		{"0:61", 2 * m},
		{"1:60", 2 * m},
		{"0:0", 0},
		// hours:minutes:seconds
		{"1:30:00", 90 * m},
		{"0:0:1", m},
		{"25:00:00", 25 * h},
		{"1:99:99", 2*h + 41*m},
		{"00:00:00", 0},
		// days-hours
		{"1-0", d},
		{"2-12", 2*d + 12*h},
		{"1-", d},
		{"10-", 10 * d},
		{"1-24", 2 * d},
		{"0-0", 0},
		// days-hours:minutes
		{"2-12:30", 2*d + 12*h + 30*m},
		{"1-1:60", d + 2*h},
		// days-hours:minutes:seconds
		{"1-00:00:00", d},
		{"0-0:0:1", m},
		{"1-1:1:61", d + h + 3*m},
		{"00-00:00:00", 0},
		{"365-00:00:00", 365 * d},
		// unlimited
		{"INFINITE", Infinite},
		{"infinite", Infinite},
		{"UNLIMITED", Infinite},
		{"Unlimited", Infinite},
		{"-1", Infinite},
		// the largest limit sbatch computes without overflow
		{strconv.Itoa(maxTimeSeconds / 60), time.Duration(maxTimeSeconds/60) * m},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseTimeErrors(t *testing.T) {
	for _, in := range []string{
		"", "abc", "1.5", "5m", "1h", "+5", " 5", "5 ", "1:2:3:4", "1-2-3", "1::2", "5:", ":5",
		"1:-5", "1-:5", "1--1", "--1", "-", ":", "1-2:", "1:2:", "1-2::3", "x-1", "INF", "NONE",
		// sbatch reads these into nonsense (negative days, 32-bit overflow)
		"-5", "-0", "-01", "99999999", "35791395", "2147483647", "4294967295", "24856-0", "99999999999999999999",
	} {
		if got, err := ParseTime(in); err == nil || !errors.Is(err, ErrInvalidValue) {
			t.Errorf("ParseTime(%q) = %v, %v; want ErrInvalidValue", in, got, err)
		}
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "00:00:00"},
		{30 * time.Minute, "00:30:00"},
		{90*time.Minute + 5*time.Second, "01:30:05"},
		{24 * time.Hour, "1-00:00:00"},
		{60*time.Hour + 30*time.Minute, "2-12:30:00"},
		{400 * 24 * time.Hour, "400-00:00:00"},
		{time.Second + 999*time.Millisecond, "00:00:01"},
		{Infinite, "UNLIMITED"},
		{-time.Minute, "INVALID"},
	}
	for _, tt := range tests {
		if got := FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%v) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestTimeRoundTrip: every limit ParseTime returns is formatted into a
// string ParseTime reads back as the same limit, and formatting is then
// stable.
func TestTimeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(in string) {
		t.Helper()
		d, err := ParseTime(in)
		if err != nil {
			return
		}
		f := FormatTime(d)
		d2, err := ParseTime(f)
		if err != nil || d2 != d {
			t.Fatalf("ParseTime(%q) = %v; FormatTime = %q; ParseTime of that = %v, %v", in, d, f, d2, err)
		}
		if f2 := FormatTime(d2); f2 != f {
			t.Fatalf("FormatTime not stable for %q: %q then %q", in, f, f2)
		}
	}
	for i := 0; i < 20000; i++ {
		n := func() string { return strconv.Itoa(r.IntN([]int{10, 100, 100000}[r.IntN(3)])) }
		switch r.IntN(6) {
		case 0:
			check(n())
		case 1:
			check(n() + ":" + n())
		case 2:
			check(n() + ":" + n() + ":" + n())
		case 3:
			check(n() + "-" + n())
		case 4:
			check(n() + "-" + n() + ":" + n())
		case 5:
			check(n() + "-" + n() + ":" + n() + ":" + n())
		}
	}
	// and from the duration side: whole minutes survive exactly
	for i := 0; i < 20000; i++ {
		d := time.Duration(r.Int64N(maxTimeSeconds/60)) * time.Minute
		if got, err := ParseTime(FormatTime(d)); err != nil || got != d {
			t.Fatalf("ParseTime(FormatTime(%v)) = %v, %v", d, got, err)
		}
	}
	check("UNLIMITED")
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"30", "3:00", "1:30:00", "1-0", "2-12", "2-12:30", "1-00:00:00", "INFINITE", "-1", "1-", "0:0:1", "99999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTime(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("ParseTime(%q): %v is not ErrInvalidValue", s, err)
			}
			return
		}
		if d != Infinite && (d < 0 || d%time.Minute != 0 || d > maxTimeSeconds*time.Second+time.Minute) {
			t.Fatalf("ParseTime(%q) = %v: not a whole number of minutes in range", s, d)
		}
		f := FormatTime(d)
		if d2, err := ParseTime(f); err != nil || d2 != d {
			t.Fatalf("ParseTime(%q) = %v; ParseTime(FormatTime) = ParseTime(%q) = %v, %v", s, d, f, d2, err)
		}
	})
}
