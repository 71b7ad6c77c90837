package sbatch

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	s := mustParse(t, `#!/bin/bash
#SBATCH -J "my job" -p debug -N 2k-4k -n 8 --tasks-per-node=4 -c2 --mem=8G
#SBATCH -t 1:30 --time-min 0:30 -o 'out %j.log' --comment=x --exclusive=USER
#SBATCH --switches=2@1:00:00 --mail-type=begin --mail-type=fail --requeue
#SBATCH --array=1-3%2 --dependency=afterok:1 -w n1 -x n2 --gres=gpu:1
srun true
`)
	got, err := s.Options.SubmitArgs()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--ignore-pbs",
		"--job-name=my job",
		"--partition=debug",
		"--nodes=2048-4096",
		"--ntasks=8",
		"--ntasks-per-node=4",
		"--cpus-per-task=2",
		"--mem=8192",
		"--gres=gpu:1",
		"--time=00:02:00",
		"--time-min=00:01:00",
		"--output=out %j.log",
		"--comment=x",
		"--exclusive=user",
		"--nodelist=n1",
		"--exclude=n2",
		"--switches=2@01:00:00",
		"--array=1-3%2",
		"--dependency=afterok:1",
		"--mail-type=BEGIN,FAIL",
		"--requeue",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SubmitArgs:\n got %q\nwant %q", got, want)
	}
	// sbatch reads the arguments back into the same options
	back, err := ParseArgs(got[1:])
	if err != nil {
		t.Fatal(err)
	}
	if back.Options != s.Options {
		t.Errorf("through the arguments:\n got %+v\nwant %+v", back.Options, s.Options)
	}
	if args, err := (Options{}).Args(); err != nil || len(args) != 0 {
		t.Errorf("no options: %q, %v", args, err)
	}
	for _, header := range []string{"-s", "--exclusive", "--exclusive=mcs", "--no-requeue", "--mail-type=NONE", "--mem=0",
		"-t UNLIMITED", "-N 0", "-N 3-0", "-N -4", "--switches=3@INFINITE", "--switches=3@0", "--open-mode=a"} {
		o := mustParse(t, "#!/bin/sh\n#SBATCH "+header+"\n").Options
		args, err := o.Args()
		if err != nil {
			t.Errorf("%s: %v", header, err)
			continue
		}
		if back, err := ParseArgs(args); err != nil || back.Options != o {
			t.Errorf("%s: Args %q read back as %+v, %v; want %+v", header, args, back.Options, err, o)
		}
	}
}

// hostile are values that must either be refused or reach sbatch byte for
// byte.
var hostile = []string{
	`x'; touch /tmp/marker; '`,
	`$(id)`,
	"`id`",
	`"; id; "`,
	`a\`,
	`\'`,
	`'`,
	`''`,
	`$HOME ${HOME} $((1+1))`,
	`*`,
	`~root`,
	`#comment`,
	`a|b&c;d>e<f`,
	`--uid=0`,
	`-M other`,
	`%x_%j`,
	"ünïcödé ☃ 𝄞",
	"new\nline",
	"carriage\rreturn",
	"nul\x00byte",
	"tab\there",
	"esc\x1b[31m",
	"del\x7f",
	"\u0085next-line",
	"\xff\xfe invalid utf-8",
	strings.Repeat("A", MaxValueLen+1),
	strings.Repeat("x", 1<<20),
}

// TestArgsRefuseOrPassLiterally: every user-settable string option either
// refuses a hostile value or passes it on unchanged as one argument.
func TestArgsRefuseOrPassLiterally(t *testing.T) {
	for _, name := range []string{"job-name", "partition", "account", "qos", "reservation", "gres", "gpus", "gpus-per-node",
		"gpus-per-task", "output", "error", "chdir", "comment", "constraint", "nodelist", "exclude", "licenses",
		"array", "dependency", "mail-user", "export"} {
		for _, v := range hostile {
			var o Options
			if err := o.Set(name, v); err != nil {
				continue // refused by sbatch's own rules
			}
			args, err := o.Args()
			if err != nil {
				if !errors.Is(err, ErrInvalidValue) {
					t.Errorf("--%s=%.40q: %v is not ErrInvalidValue", name, v, err)
				}
				continue
			}
			if len(args) != 1 || args[0] != "--"+name+"="+v {
				t.Errorf("--%s=%.40q passed on as %.80q", name, v, args)
			}
			if CheckValue(v) != nil {
				t.Errorf("--%s=%.40q passed on although CheckValue refuses it", name, v)
			}
		}
	}
}

func TestCheckValue(t *testing.T) {
	for _, v := range []string{"", "plain", "with space", "ünï", `x'; touch /tmp/m; '`, "$(id)", strings.Repeat("a", MaxValueLen)} {
		if err := CheckValue(v); err != nil {
			t.Errorf("CheckValue(%.40q) = %v", v, err)
		}
	}
	for _, v := range []string{"a\x00b", "a\nb", "a\rb", "a\tb", "\x1b", "\x7f", "\u0085", "\xff", strings.Repeat("a", MaxValueLen+1)} {
		if err := CheckValue(v); err == nil {
			t.Errorf("CheckValue(%.40q) accepted", v)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":            "''",
		"plain":       "plain",
		"--nodes=2":   "--nodes=2",
		"FOO=bar":     "'FOO=bar'",
		"_x1=y":       "'_x1=y'",
		"1x=y":        "1x=y",
		"=x":          "'=x'", // zsh would expand a bare =x
		"a b":         "'a b'",
		"it's":        `'it'\''s'`,
		"'":           `''\'''`,
		"~root":       "'~root'",
		"#x":          "'#x'",
		"%x_%j.out":   "%x_%j.out",
		"/a/b-c.d:e,": "/a/b-c.d:e,",
		"$(id)":       "'$(id)'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := QuoteArgs([]string{"sbatch", "--job-name=a b", "--comment=it's", "--nodes=2"}); got != `sbatch '--job-name=a b' '--comment=it'\''s' --nodes=2` {
		t.Errorf("QuoteArgs = %s", got)
	}
}

// shellRun runs a script with /bin/sh and returns what it printed.
func shellRun(t *testing.T, script string, viaStdin bool, dir string) []byte {
	t.Helper()
	var cmd *exec.Cmd
	if viaStdin {
		cmd = exec.Command("/bin/sh", "-s")
		cmd.Stdin = strings.NewReader(script)
	} else {
		cmd = exec.Command("/bin/sh", "-c", script)
	}
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh: %v: %s", err, stderr.String())
	}
	return out
}

// TestQuoteRoundTripsThroughShell: a real /bin/sh reads every quoted string
// back byte for byte, as one word, and runs nothing it contains.
func TestQuoteRoundTripsThroughShell(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	inputs := []string{
		"x'; touch " + marker + "; '",
		"'; touch " + marker + "; echo '",
		"$(touch " + marker + ")",
		"`touch " + marker + "`",
		"\"; touch " + marker + "; \"",
		"\\'; touch " + marker + "; \\'",
		"a\nb\n; touch " + marker,
		"$((1+1)) ${HOME} $HOME * ? [a] ~ ~root {a,b} !x",
		"ünïcödé ☃ 𝄞",
		"-n", "-e", "--", "%s%d%%", "\\", "\\\\", "''", "'\\''", "",
		"FOO=bar", "PATH=/nowhere", "--nodes=2",
	}
	// every byte but NUL, alone and between letters
	for c := 1; c < 256; c++ {
		inputs = append(inputs, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b")
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 300; i++ {
		b := make([]byte, r.IntN(64))
		for j := range b {
			b[j] = byte(1 + r.IntN(255))
		}
		inputs = append(inputs, string(b))
	}
	// all in one shell, each string printed with a terminator after each
	// word: a string that split into words would add a terminator
	var script strings.Builder
	for _, s := range inputs {
		script.WriteString("printf '%s\\001' " + Quote(s) + "\n")
	}
	out := shellRun(t, script.String(), false, dir)
	if want := strings.Join(inputs, "\x01") + "\x01"; string(out) != want {
		t.Fatalf("the shell did not print the inputs back:\n got %q\nwant %q", out, want)
	}
	// and each one separately, through sh -c, as one word
	for _, s := range inputs[:40] {
		if out := shellRun(t, "printf '%s' "+Quote(s)+"; printf '|%s' "+Quote(s)+" x", false, dir); string(out) != s+"|"+s+"|x" {
			t.Errorf("sh -c read %q back as %q", s, out)
		}
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a quoted string ran a command: %v", err)
	}
}

// TestQuoteOneMegabyte: a 1 MiB argument of hostile bytes round-trips
// (fed on stdin, as the persistent executor feeds commands: a single
// argument to sh -c is limited to 128 KiB by Linux).
func TestQuoteOneMegabyte(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 1))
	b := make([]byte, 1<<20)
	pieces := []string{"'", "\\", "$(id)", "`", "\n", "\"", " ", ";", "ü"}
	for i := 0; i < len(b); {
		p := pieces[r.IntN(len(pieces))]
		if r.IntN(3) == 0 {
			p = string([]byte{byte(1 + r.IntN(255))})
		}
		i += copy(b[i:], p)
	}
	s := string(b)
	if out := shellRun(t, "printf '%s' "+Quote(s)+"\n", true, dir); !bytes.Equal(out, b) {
		t.Fatalf("1 MiB did not round-trip: got %d bytes", len(out))
	}
	// the same value is refused as an sbatch option value
	var o Options
	if err := o.Set("comment", s); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Args(); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("a 1 MiB --comment was not refused: %v", err)
	}
}

// TestSubmitArgsThroughShell: the argument vector, quoted and run by a real
// shell, reaches the program as the same vector.
func TestSubmitArgsThroughShell(t *testing.T) {
	dir := t.TempDir()
	o := mustOptions(t, "job-name", "x'; touch "+dir+"/m; '", "comment", "$(touch "+dir+"/m) `touch "+dir+"/m`",
		"output", "out dir/%x_%j.log", "export", "ALL,A=b c", "nodes", "2")
	args, err := o.SubmitArgs()
	if err != nil {
		t.Fatal(err)
	}
	out := shellRun(t, "printf '%s\\000' "+QuoteArgs(args), false, dir)
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !reflect.DeepEqual(got, args) {
		t.Errorf("the shell passed\n%q\nfor\n%q", got, args)
	}
	if _, err := os.Stat(filepath.Join(dir, "m")); err == nil {
		t.Error("the marker exists: a value ran as a command")
	}
}
