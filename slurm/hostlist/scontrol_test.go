package hostlist

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The tests in this file compare Expand and Compress with the real Slurm:
// `scontrol show hostnames` and `scontrol show hostlistsorted` (the Slurm
// of this machine; Debian 12 ships 22.05). Both are client-side commands,
// but scontrol insists on a configuration source, so the tests write a
// minimal slurm.conf. A machine without scontrol fails these tests: Slurm
// is part of the test environment (see docs and TESTING.md).

// scontrol is a handle on the real scontrol with a throwaway configuration.
type scontrol struct {
	path string
	env  []string
	runs int
}

func mustScontrol(t *testing.T) *scontrol {
	t.Helper()
	path, err := exec.LookPath("scontrol")
	if err != nil {
		t.Fatalf("scontrol not found (%v): install slurm-client (apt-get install -y slurm-client); this test compares with the real Slurm and never skips", err)
	}
	conf := filepath.Join(t.TempDir(), "slurm.conf")
	if err := os.WriteFile(conf, []byte("ClusterName=hostlisttest\nSlurmctldHost=localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"SLURM_CONF=" + conf, "PATH=/usr/bin:/bin"}
	return &scontrol{path: path, env: env}
}

// run runs `scontrol show WHAT ARG` and returns stdout; ok is false when
// scontrol reported an invalid hostlist.
func (s *scontrol) run(t *testing.T, what, arg string) (out string, ok bool) {
	t.Helper()
	s.runs++
	cmd := exec.Command(s.path, "--", "show", what, arg) // "--": an expression may start with "-"
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	all := stdout.String() + stderr.String()
	if strings.Contains(all, "Invalid hostlist") || strings.Contains(all, "error:") {
		return "", false
	}
	if err != nil {
		t.Fatalf("scontrol show %s %.60q: %v\n%s", what, arg, err, all)
	}
	return stdout.String(), true
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestScontrolWorksWithoutController(t *testing.T) {
	s := mustScontrol(t)
	out, ok := s.run(t, "hostnames", "node[01-02]")
	if !ok || out != "node01\nnode02\n" {
		t.Fatalf("scontrol show hostnames node[01-02] = %q, ok %v", out, ok)
	}
}

// compareBatch expands many expressions with one scontrol call: the
// expressions are joined with sentinel hosts between them, and Slurm's
// expansion of a comma-joined list is the concatenation of the items'
// expansions. It returns the expressions whose batch Slurm refused, to be
// checked one by one.
func compareBatch(t *testing.T, s *scontrol, exprs []string) (refused []string) {
	t.Helper()
	var arg strings.Builder
	for i, e := range exprs {
		fmt.Fprintf(&arg, "%s,=sep%d=,", e, i)
	}
	out, ok := s.run(t, "hostnames", arg.String())
	if !ok {
		return exprs
	}
	got := lines(out)
	start := 0
	for i, e := range exprs {
		sep := fmt.Sprintf("=sep%d=", i)
		end := slices.Index(got[start:], sep)
		if end < 0 {
			t.Fatalf("sentinel %s missing from scontrol output", sep)
		}
		slurm := got[start : start+end]
		start += end + 1
		ours, err := Expand(e)
		if err != nil {
			t.Errorf("Expand(%q): %v; Slurm expands it to %d hosts", e, err, len(slurm))
			continue
		}
		if !slices.Equal(ours, slurm) {
			t.Errorf("Expand(%q) = %q\nscontrol show hostnames = %q", e, ours, slurm)
		}
	}
	return nil
}

func TestExpandAgreesWithScontrol(t *testing.T) {
	s := mustScontrol(t)
	r := rand.New(rand.NewPCG(2026, 6))
	var exprs []string
	for range 10000 {
		exprs = append(exprs, randomExpr(r, false))
	}
	var refused []string
	for len(exprs) > 0 {
		n := min(250, len(exprs))
		refused = append(refused, compareBatch(t, s, exprs[:n])...)
		exprs = exprs[n:]
	}
	// A refused batch means Slurm rejected one of its expressions, which
	// Expand accepted: find it.
	for _, e := range refused {
		if _, ok := s.run(t, "hostnames", e); !ok {
			t.Errorf("Slurm refuses %q, Expand accepts it", e)
		} else {
			compareBatch(t, s, []string{e})
		}
	}
	t.Logf("10000 generated expressions compared with %d scontrol runs", s.runs)
}

// mutate damages a valid expression: a character inserted, deleted or
// replaced by one of the hostlist metacharacters.
func mutate(r *rand.Rand, e string) string {
	meta := "[]-,0 9ax"
	b := []byte(e)
	switch i := r.IntN(len(b) + 1); r.IntN(3) {
	case 0:
		b = slices.Insert(b, i, meta[r.IntN(len(meta))])
	case 1:
		if i < len(b) {
			b = slices.Delete(b, i, i+1)
		}
	default:
		if i < len(b) {
			b[i] = meta[r.IntN(len(meta))]
		}
	}
	return string(b)
}

// TestExpandMalformedAgainstScontrol checks damaged expressions: whatever
// Expand accepts, Slurm accepts with the same hosts; what Expand refuses,
// Slurm either refuses too or misreads (for example "a[1-" gives "a]" in
// Slurm); those cases are counted and shown.
func TestExpandMalformedAgainstScontrol(t *testing.T) {
	s := mustScontrol(t)
	r := rand.New(rand.NewPCG(7, 7))
	var accepted []string
	var bothRefuse, slurmLenient int
	var lenient []string
	checked := 0
	for checked < 300 {
		e := mutate(r, randomExpr(r, true))
		if strings.TrimSpace(strings.Trim(e, ",")) == "" {
			continue
		}
		if _, err := Expand(e); err == nil {
			accepted = append(accepted, e)
			continue
		}
		checked++
		if _, ok := s.run(t, "hostnames", e); ok {
			slurmLenient++
			if len(lenient) < 8 {
				lenient = append(lenient, e)
			}
		} else {
			bothRefuse++
		}
	}
	for len(accepted) > 0 {
		n := min(200, len(accepted))
		for _, e := range compareBatch(t, s, accepted[:n]) {
			if _, ok := s.run(t, "hostnames", e); !ok {
				t.Errorf("Slurm refuses %q, Expand accepts it", e)
			} else {
				compareBatch(t, s, []string{e})
			}
		}
		accepted = accepted[n:]
	}
	t.Logf("of %d damaged expressions Expand refused: Slurm refused %d too, accepted %d (its leniency), e.g. %q",
		checked, bothRefuse, slurmLenient, lenient)
}

// randomHostSet draws distinct hosts whose numbers, per prefix, are either
// all unpadded or all padded to one width: the shape of real node names.
// (With mixed padding under one prefix, Slurm's own result depends on the
// order of its input; Compress's does not. TestCompressRoundTrip covers
// those sets.)
func randomHostSet(r *rand.Rand) []string {
	prefixes := []string{"n", "node", "gpu", "r1n", "r2n", "rack10-", "rack9-", "c", "x.y", "cn-", ""}
	width := map[string]int{}
	seen := map[string]bool{}
	var hosts []string
	for range 1 + r.IntN(60) {
		p := prefixes[r.IntN(len(prefixes))]
		var h string
		if r.IntN(12) == 0 {
			h = []string{"login", "mgmt", "storage", "gpu", "n"}[r.IntN(5)]
		} else {
			w, ok := width[p]
			if !ok {
				w = []int{1, 1, 2, 3, 4}[r.IntN(5)]
				width[p] = w
			}
			v := r.IntN(140)
			if w > 1 {
				for len(string(appendPadded(nil, int64(v), 1))) > w {
					v /= 10
				}
			}
			h = p + string(appendPadded(nil, int64(v), w))
		}
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func TestCompressAgreesWithScontrol(t *testing.T) {
	s := mustScontrol(t)
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 200 {
		hosts := randomHostSet(r)
		r.Shuffle(len(hosts), func(a, b int) { hosts[a], hosts[b] = hosts[b], hosts[a] })
		ours, err := Compress(hosts)
		if err != nil {
			t.Fatal(err)
		}
		out, ok := s.run(t, "hostlistsorted", strings.Join(hosts, ","))
		if !ok {
			t.Fatalf("scontrol refused %q", hosts)
		}
		if slurm := strings.TrimSpace(out); ours != slurm {
			t.Errorf("case %d: Compress(%q)\n = %q\nscontrol show hostlistsorted = %q", i, hosts, ours, slurm)
		}
	}
}
