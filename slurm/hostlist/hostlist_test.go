package hostlist

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		expr string
		want string // hosts joined by " "
	}{
		{"", ""},
		{"   ,, ,", ""},
		{"node1", "node1"},
		{"a,b c\td", "a b c d"},
		{"a,,b", "a b"},
		{"node[01-04,07]", "node01 node02 node03 node04 node07"},
		{"n[9-11]", "n9 n10 n11"},
		{"n[09-11]", "n09 n10 n11"},
		{"n[009-011]", "n009 n010 n011"},
		{"n[1-05]", "n1 n2 n3 n4 n5"}, // width of "lo" rules
		{"n[01-5]", "n01 n02 n03 n04 n05"},
		{"n[3]", "n3"},
		{"n[0]", "n0"},
		{"[1-3]", "1 2 3"},
		{"n[1,1,2]", "n1 n1 n2"},
		{"a[1-3],a2", "a1 a2 a3 a2"},
		{"r[1-2]n[1-3]", "r1n1 r1n2 r1n3 r2n1 r2n2 r2n3"},
		{"r[1-2]-n[1-3]", "r1-n1 r1-n2 r1-n3 r2-n1 r2-n2 r2-n3"},
		{"a-[1-2]", "a-1 a-2"},
		// Slurm's order for three groups: the middle one varies slowest.
		{"a[1-2]b[01-02]c[1-2]", "a1b01c1 a1b01c2 a2b01c1 a2b01c2 a1b02c1 a1b02c2 a2b02c1 a2b02c2"},
		{"a[1-2]b[1-2]c[1-2]d[1-2]", "a1b1c1d1 a1b1c1d2 a2b1c1d1 a2b1c1d2 a1b2c1d1 a1b2c1d2 a2b2c1d1 a2b2c1d2 " +
			"a1b1c2d1 a1b1c2d2 a2b1c2d1 a2b1c2d2 a1b2c2d1 a1b2c2d2 a2b2c2d1 a2b2c2d2"},
		{"x[1,3-4]y[7]", "x1y7 x3y7 x4y7"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Expand(tt.expr)
			if err != nil {
				t.Fatalf("Expand(%q): %v", tt.expr, err)
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.expr, g, tt.want)
			}
			n, err := Count(tt.expr)
			if err != nil || n != int64(len(got)) {
				t.Errorf("Count(%q) = %d, %v; want %d", tt.expr, n, err, len(got))
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	tests := []struct {
		expr   string
		offset int
		msg    string // part of the message
	}{
		{"a[1-2", 1, "never closed"},
		{"a[", 1, "never closed"},
		{"a[1-]", 4, "no upper bound"},
		{"a[-1]", 2, "expected a number"},
		{"a[]", 2, "expected a number"},
		{"a[3-1]", 2, "runs backwards"},
		{"a]b", 1, "without a matching"},
		{"a[1[2]]", 3, "unexpected"},
		{"a[1, 2]", 4, "expected a number"},
		{"a[+1]", 2, "expected a number"},
		{"a[1,,2]", 4, "expected a number"},
		{"n[1-3]x", 6, "after the last bracket group"},
		{"gpu[1-2].ib", 8, "after the last bracket group"},
		{"r[1-2]n[1-3]x", 12, "after the last bracket group"},
		{"a[1-65537]", 2, "at most 65536"},
		{"a[1234567890123456789]", 2, "more than 18 digits"},
		{"bad\nname", 3, "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Expand(tt.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Expand(%q) error = %v, want *SyntaxError", tt.expr, err)
			}
			if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Expand(%q) = offset %d %q; want offset %d containing %q", tt.expr, se.Offset, se.Msg, tt.offset, tt.msg)
			}
			if !strings.Contains(err.Error(), "offset") {
				t.Errorf("message %q does not name the offset", err)
			}
		})
	}
}

func TestExpandLimit(t *testing.T) {
	// A product of 65536 x 65536 hosts must be refused without allocating.
	for _, expr := range []string{
		"a[1-65536]b[1-65536]",
		"a[1-65536]b[1-65536]c[1-65536]d[1-65536]e[1-65536]",
		"a[1-65536],b[1-65536],c[1-65536],d[1-65536],e[1-65536],f[1-65536],g[1-65536],h[1-65536],i[1-65536],j[1-65536],k[1-65536],l[1-65536],m[1-65536],n[1-65536],o[1-65536],p[1-65536],q[1-65536]",
	} {
		if _, err := Expand(expr); !errors.Is(err, ErrTooManyHosts) {
			t.Errorf("Expand(%.30q...) error = %v, want ErrTooManyHosts", expr, err)
		}
	}
	if _, err := ExpandMax("n[1-10]", 9); !errors.Is(err, ErrTooManyHosts) {
		t.Errorf("ExpandMax(n[1-10], 9) error = %v, want ErrTooManyHosts", err)
	}
	if got, err := ExpandMax("n[1-10]", 10); err != nil || len(got) != 10 {
		t.Errorf("ExpandMax(n[1-10], 10) = %d hosts, %v", len(got), err)
	}
	if n, err := Count("a[1-65536]b[1-65536]"); err != nil || n != 65536*65536 {
		t.Errorf("Count = %d, %v", n, err)
	}
}

func TestCompress(t *testing.T) {
	tests := []struct {
		hosts string // space separated
		want  string
	}{
		{"", ""},
		{"node1", "node1"},
		{"n3 n1 n2", "n[1-3]"},
		{"n1 n2 n3 n5", "n[1-3,5]"},
		{"b1 a1 a2", "a[1-2],b1"},
		{"x n1 y", "n1,x,y"},
		{"n1 m1 n2", "m1,n[1-2]"},
		{"n9 n10 n11", "n[9-11]"},
		{"n09 n10", "n[09-10]"},
		{"n099 n100 n101", "n[099-101]"},
		{"n0 n00 n1", "n[0-1,00]"},
		{"n01 n1 n2 n001", "n[1-2,01,001]"},
		{"n5 n05 n50", "n[5,05,50]"},
		{"n n1 n2", "n,n[1-2]"},
		{"n1 n1 n2", "n[1-2]"},
		{"rack10n1 rack9n1", "rack9n1,rack10n1"},
		{"a1b1 a1b2 a2b1 a2b2", "a1b[1-2],a2b[1-2]"},
		{"n1x n2x n3x", "n1x,n2x,n3x"},
		{"1 2", "[1-2]"},
		{"n-1 n-2", "n-[1-2]"},
		{"login gpu03 gpu01 gpu02 cpu7", "cpu7,gpu[01-03],login"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := Compress(strings.Fields(tt.hosts))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Compress(%q) = %q, want %q", tt.hosts, got, tt.want)
			}
		})
	}
}

func TestCompressRefusesUnwritableNames(t *testing.T) {
	for _, h := range []string{"", "a,b", "a b", "a[1]", "x]", "a\nb", "a\tb"} {
		if _, err := Compress([]string{"ok1", h}); err == nil {
			t.Errorf("Compress accepted %q", h)
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"a", "b", -1},
		{"rack9", "rack10", -1},
		{"rack10n", "rack9n", 1},
		{"a01", "a1", -1},
		{"a0", "a00", -1},
		{"n", "n-", -1},
		{"", "a", -1},
		{"x2y10", "x2y9", 1},
	}
	for _, tt := range tests {
		if got := NaturalCompare(tt.a, tt.b); got != tt.want {
			t.Errorf("NaturalCompare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := NaturalCompare(tt.b, tt.a); got != -tt.want {
			t.Errorf("NaturalCompare(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

// sortedUnique is the reference for Compress: the distinct hosts in Slurm's
// sorted order.
func sortedUnique(hosts []string) []string {
	h := slices.Clone(hosts)
	Sort(h)
	seen := map[string]bool{}
	out := h[:0]
	for _, x := range h {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// randomHosts draws host names of realistic shapes, mixed padding included.
func randomHosts(r *rand.Rand) []string {
	prefixes := []string{"n", "node", "gpu", "r1n", "r2n", "rack10-", "rack9-", "c", "login", "x.y", ""}
	var hosts []string
	for range 1 + r.IntN(40) {
		p := prefixes[r.IntN(len(prefixes))]
		switch r.IntN(10) {
		case 0:
			if p == "" {
				p = "solo"
			}
			hosts = append(hosts, p) // no number
		default:
			v := r.IntN(130)
			w := 1 + r.IntN(4)
			if r.IntN(3) == 0 {
				w = 1 // unpadded
			}
			hosts = append(hosts, p+string(appendPadded(nil, int64(v), w)))
		}
	}
	return hosts
}

func TestCompressRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		hosts := randomHosts(r)
		expr, err := Compress(hosts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Expand(expr)
		if err != nil {
			t.Fatalf("case %d: Expand(Compress(%q)) = %q: %v", i, hosts, expr, err)
		}
		if want := sortedUnique(hosts); !slices.Equal(got, want) {
			t.Fatalf("case %d: hosts %q\ncompressed %q\nexpanded %q\nwant %q", i, hosts, expr, got, want)
		}
		// Compressing the expansion again is a fixed point.
		again, _ := Compress(got)
		if again != expr {
			t.Fatalf("case %d: Compress not idempotent: %q then %q", i, expr, again)
		}
	}
}

func TestExpandThenCompressRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		expr := randomExpr(r, true)
		hosts, err := Expand(expr)
		if err != nil {
			t.Fatalf("Expand(%q): %v", expr, err)
		}
		c, err := Compress(hosts)
		if err != nil {
			t.Fatalf("Compress(Expand(%q)): %v", expr, err)
		}
		back, err := Expand(c)
		if err != nil {
			t.Fatalf("Expand(%q) (compressed from %q): %v", c, expr, err)
		}
		if want := sortedUnique(hosts); !slices.Equal(back, want) {
			t.Fatalf("%q -> %q -> %q, want %q", expr, c, back, want)
		}
	}
}

// randomExpr draws a valid expression: items of literal text and up to four
// bracket groups of one to three ranges each, with zero padding.
func randomExpr(r *rand.Rand, small bool) string {
	letters := "abnrx-_."
	word := func() string {
		var b strings.Builder
		for range 1 + r.IntN(3) {
			b.WriteByte(letters[r.IntN(len(letters))])
		}
		return b.String()
	}
	num := func(v, w int) string { return string(appendPadded(nil, int64(v), w)) }
	var items []string
	budget := 120
	for range 1 + r.IntN(3) {
		var b strings.Builder
		ngroups := r.IntN(4)
		if r.IntN(8) == 0 {
			ngroups = 4
		}
		if ngroups == 0 {
			b.WriteString(word())
			if r.IntN(2) == 0 {
				b.WriteString(num(r.IntN(200), 1+r.IntN(3)))
			}
			items = append(items, b.String())
			continue
		}
		size := 1
		for g := range ngroups {
			if g == 0 || r.IntN(3) > 0 {
				b.WriteString(word())
			}
			b.WriteByte('[')
			count := 0
			for k := range 1 + r.IntN(3) {
				if k > 0 {
					b.WriteByte(',')
				}
				lo := r.IntN(120)
				span := r.IntN(6)
				if small && ngroups > 2 {
					span = r.IntN(2)
				}
				w := len(num(lo, 1)) + r.IntN(3)
				b.WriteString(num(lo, w))
				if span > 0 || r.IntN(4) == 0 {
					hw := 1 + r.IntN(3)
					b.WriteByte('-')
					b.WriteString(num(lo+span, hw))
				}
				count += span + 1
			}
			b.WriteByte(']')
			size *= count
		}
		if size > budget {
			continue
		}
		budget -= size
		items = append(items, b.String())
	}
	if len(items) == 0 {
		return "solo"
	}
	sep := ","
	if r.IntN(10) == 0 {
		sep = " "
	}
	return strings.Join(items, sep)
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"", "node[01-04,07]", "r[1-2]n[1-3]", "a[1-2]b[01-02]c[1-2]", "a,b c", "n[1-3]x",
		"a[1-", "a]b", "[1-3]", "a[0-65535]", "x[1,3-4]y[7]", "n[9-11],n[09-10]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		hosts, err := ExpandMax(expr, 5000)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) && !errors.Is(err, ErrTooManyHosts) {
				t.Fatalf("Expand(%q): unexpected error type %T: %v", expr, err, err)
			}
			if se != nil && (se.Offset < 0 || se.Offset > len(expr)) {
				t.Fatalf("Expand(%q): offset %d out of range", expr, se.Offset)
			}
			return
		}
		if n, err := Count(expr); err != nil || n != int64(len(hosts)) {
			t.Fatalf("Count(%q) = %d, %v; Expand gave %d", expr, n, err, len(hosts))
		}
		c, err := Compress(hosts)
		if err != nil {
			t.Fatalf("Compress(Expand(%q)): %v", expr, err)
		}
		back, err := Expand(c)
		if err != nil {
			t.Fatalf("Expand(Compress(Expand(%q))) = Expand(%q): %v", expr, c, err)
		}
		if want := sortedUnique(hosts); !slices.Equal(back, want) {
			t.Fatalf("%q: round trip through %q gave %q, want %q", expr, c, back, want)
		}
	})
}

func BenchmarkExpand(b *testing.B) {
	for b.Loop() {
		if _, err := Expand("node[0001-4000],gpu[01-64]n[1-8]"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	hosts, _ := Expand("node[0001-4000],gpu[01-64]n[1-8]")
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	for b.Loop() {
		if _, err := Compress(hosts); err != nil {
			b.Fatal(err)
		}
	}
}
