package accounting_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

func TestHoldAmount(t *testing.T) {
	tests := []struct {
		name        string
		nodes, cpus int64
		limit       time.Duration
		rate        int64
		want        int64
		wantErr     error
	}{
		{"one core one hour", 1, 1, time.Hour, 1000, 3600, nil},
		{"whole nodes", 4, 48, 2 * time.Hour, 1000, 4 * 48 * 7200, nil},
		{"gpu rate 2.5", 1, 8, time.Hour, 2500, 8 * 3600 * 5 / 2, nil},
		{"fractional rate rounds up", 1, 1, time.Second, 1001, 2, nil},            // 1.001 -> 2
		{"fractional rate exact", 1, 1, 1000 * time.Second, 1001, 1001, nil},      // 1001.0
		{"fractional rate just above", 1, 1, 1001 * time.Second, 1001, 1003, nil}, // 1002.001 -> 1003
		{"sub-second limit counts a whole second", 1, 2, 1500 * time.Millisecond, 1000, 4, nil},
		{"cheap rate rounds up to one", 1, 1, time.Second, 1, 1, nil},
		{"free partition", 2, 2, time.Hour, 0, 0, nil},
		{"zero nodes", 0, 1, time.Hour, 1000, 0, accounting.ErrInvalid},
		{"zero cpus", 1, 0, time.Hour, 1000, 0, accounting.ErrInvalid},
		{"no time limit", 1, 1, 0, 1000, 0, accounting.ErrInvalid},
		{"negative rate", 1, 1, time.Hour, -1, 0, accounting.ErrInvalid},
		{"overflow", math.MaxInt64 / 2, 4, time.Hour, 1000, 0, accounting.ErrInvalid},
		{"overflow in rate", 1 << 20, 1 << 20, 1 << 20 * time.Second, 1 << 20, 0, accounting.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := accounting.HoldAmount(tt.nodes, tt.cpus, tt.limit, tt.rate)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("HoldAmount(%d, %d, %v, %d) error = %v, want %v", tt.nodes, tt.cpus, tt.limit, tt.rate, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("HoldAmount(%d, %d, %v, %d) = %d, want %d", tt.nodes, tt.cpus, tt.limit, tt.rate, got, tt.want)
			}
		})
	}
}

func TestChargeAmount(t *testing.T) {
	tests := []struct {
		cpu, rate, want int64
		wantErr         error
	}{
		{0, 1000, 0, nil},
		{3600, 1000, 3600, nil},
		{3600, 500, 1800, nil},
		{1, 500, 1, nil},   // 0.5 -> 1
		{3, 333, 1, nil},   // 0.999 -> 1
		{7, 1500, 11, nil}, // 10.5 -> 11
		{-1, 1000, 0, accounting.ErrInvalid},
		{1, -1, 0, accounting.ErrInvalid},
		{math.MaxInt64, 2000, 0, accounting.ErrInvalid},
	}
	for _, tt := range tests {
		got, err := accounting.ChargeAmount(tt.cpu, tt.rate)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("ChargeAmount(%d, %d) = %d, %v; want %d, %v", tt.cpu, tt.rate, got, err, tt.want, tt.wantErr)
		}
	}
}

// A job that uses every CPU it holds for its whole time limit is charged
// exactly its hold, whatever the figures: hold and charge round alike.
func TestFullUsageChargeEqualsHold(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		nodes, cpus := r.Int64N(64)+1, r.Int64N(256)+1
		limit := time.Duration(r.Int64N(7*24*3600)+1) * time.Second
		rate := r.Int64N(5000)
		h, err := accounting.HoldAmount(nodes, cpus, limit, rate)
		if err != nil {
			t.Fatal(err)
		}
		c, err := accounting.ChargeAmount(nodes*cpus*int64(limit/time.Second), rate)
		if err != nil {
			t.Fatal(err)
		}
		if h != c {
			t.Fatalf("nodes %d cpus %d limit %v rate %d: hold %d, full charge %d", nodes, cpus, limit, rate, h, c)
		}
		// Rounding is up and by less than one core-second.
		exact := float64(nodes*cpus*int64(limit/time.Second)) * float64(rate) / 1000
		if float64(h) < exact || float64(h)-exact >= 1 {
			t.Fatalf("hold %d is not the exact %f rounded up", h, exact)
		}
	}
}

func TestMonth(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC), "2026-03"},
		{time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), "2026-04"},
		// 2026-04-01 01:00 in Berlin (UTC+2) is still March in UTC.
		{time.Date(2026, 4, 1, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)), "2026-03"},
		{time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "2026-12"},
	}
	for _, tt := range tests {
		m := accounting.MonthOf(tt.t)
		if m.String() != tt.want {
			t.Errorf("MonthOf(%v) = %s, want %s", tt.t, m, tt.want)
		}
		p, err := accounting.ParseMonth(tt.want)
		if err != nil || p != m {
			t.Errorf("ParseMonth(%q) = %v, %v; want %v", tt.want, p, err, m)
		}
	}
	if got := accounting.Month(202612).Next(); got != 202701 {
		t.Errorf("2026-12 next = %v", got)
	}
	if got := accounting.Month(202603).Start(); !got.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("start = %v", got)
	}
	for _, bad := range []string{"2026-13", "2026", "03-2026", ""} {
		if _, err := accounting.ParseMonth(bad); !errors.Is(err, accounting.ErrInvalid) {
			t.Errorf("ParseMonth(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for rate, want := range map[int64]string{1000: "1", 2500: "2.5", 125: "0.125", 0: "0", 1001: "1.001", 10000: "10"} {
		if got := accounting.FormatRate(rate); got != want {
			t.Errorf("FormatRate(%d) = %q, want %q", rate, got, want)
		}
	}
}
