package sbatch

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mustParse parses a script or fails the test.
func mustParse(tb testing.TB, script string) *Script {
	tb.Helper()
	s, err := Parse(strings.NewReader(script))
	if err != nil {
		tb.Fatalf("Parse: %v\n%s", err, script)
	}
	return s
}

// mustOptions builds options from name=value pairs with Set.
func mustOptions(tb testing.TB, kv ...string) Options {
	tb.Helper()
	var o Options
	for i := 0; i < len(kv); i += 2 {
		if err := o.Set(kv[i], kv[i+1]); err != nil {
			tb.Fatalf("Set(%q, %q): %v", kv[i], kv[i+1], err)
		}
	}
	return o
}

// TestParseScripts checks what Parse reads from the sample scripts in
// testdata/scripts (the oracle tests check the same scripts against sbatch
// itself).
func TestParseScripts(t *testing.T) {
	tests := []struct {
		file string
		want Options // built with Set; nil fields unset
	}{
		{"simple.sh", mustOptions(t, "job-name", "hello", "partition", "debug", "account", "climate-ca", "nodes", "1",
			"ntasks", "1", "time", "00:10:00", "output", "hello_%j.out")},
		{"gpu_training.sh", mustOptions(t, "job-name", "resnet50", "partition", "gpu", "gres", "gpu:a100:4", "cpus-per-task", "8",
			"mem", "64G", "time", "2-00:00:00", "mail-type", "BEGIN,END,FAIL", "mail-user", "alice@example.org",
			"output", "logs/%x-%j.out", "error", "logs/%x-%j.err")},
		{"mpi_multinode.sh", mustOptions(t, "nodes", "4", "ntasks-per-node", "32", "exclusive", "", "switches", "1@1:00:00",
			"constraint", "ib&haswell", "time", "12:00:00", "qos", "normal", "requeue", "")},
		{"array_job.sh", mustOptions(t, "array", "0-99%10", "output", "slurm-%A_%a.out", "time", "30", "mem-per-cpu", "2000", "cpus-per-task", "2")},
		{"short_glued.sh", mustOptions(t, "cpus-per-task", "4", "nodes", "2", "ntasks", "8", "time", "60", "partition", "debug", "job-name", "glued")},
		{"short_spaced.sh", mustOptions(t, "nodes", "2", "time", "30", "job-name", "spaced", "output", "out.log", "error", "err.log")},
		{"multi_per_line.sh", mustOptions(t, "nodes", "1", "ntasks", "1", "cpus-per-task", "12", "job-name", "compiler_batch",
			"partition", "standard", "time", "20", "export", "NONE", "array", "0-399")},
		{"comments_and_blanks.sh", mustOptions(t, "time", "23:00:00", "cpus-per-task", "8", "mem", "24G", "partition", "cpu")},
		{"quoted_values.sh", mustOptions(t, "job-name", "my job", "comment", `it's "quoted"`, "output", "logs/out file %j.log",
			"constraint", "a&b", "mail-user", "a@b.c", "export", "ALL,MSG=a#b")},
		{"escapes.sh", mustOptions(t, "job-name", `a"b`, "comment", `x#y\z`, "partition", "debug")},
		{"header_end.sh", mustOptions(t, "time", "10", "job-name", "before")},
		{"decoys.sh", mustOptions(t, "nodes", "2")},
		{"abbreviations.sh", mustOptions(t, "partition", "debug", "job-name", "abbrev", "ntasks-per-node", "4", "cpus-per-task", "2",
			"mem-per-cpu", "1G", "mail-type", "ALL", "exclusive", "", "dependency", "singleton")},
		{"repeated.sh", mustOptions(t, "job-name", "second", "time", "20", "nodes", "3", "oversubscribe", "", "no-requeue", "",
			"mail-type", "BEGIN,TIME_LIMIT_80,ARRAY_TASKS", "ntasks-per-node", "3")},
		{"hetjob.sh", mustOptions(t, "partition", "normal", "ntasks", "1", "cpus-per-task", "1")},
		{"hetjob_midline.sh", mustOptions(t, "nodes", "3", "time", "5")},
		{"value_on_next_line.sh", mustOptions(t, "time", "10", "job-name", "next-line-name")},
		{"empty_word_ends_line.sh", mustOptions(t, "job-name", "name-from-next-line", "cpus-per-task", "2")},
		{"time_days.sh", mustOptions(t, "time", "2-12:30", "time-min", "1-0")},
		{"time_seconds_round_up.sh", mustOptions(t, "time", "1")},
		{"unlimited.sh", mustOptions(t, "time", "UNLIMITED")},
		{"time_zero.sh", mustOptions(t, "time", "INFINITE")},
		{"mem_units.sh", mustOptions(t, "mem", "2")},
		{"tabs_and_vertical.sh", mustOptions(t, "nodes", "3", "cpus-per-task", "2", "time", "10", "job-name", "tabs")},
		{"empty_values.sh", mustOptions(t, "comment", "", "job-name", "")},
		{"tasks_nodes_adjust.sh", mustOptions(t, "nodes", "4-8", "ntasks", "2")},
		{"export_env.sh", mustOptions(t, "export", "ALL,OMP_NUM_THREADS=4", "chdir", "work/run1", "open-mode", "append", "output", "none", "error", "NONE")},
		{"gpus.sh", mustOptions(t, "gpus", "a100:2", "gpus-per-node", "2", "cpus-per-gpu", "4", "mem-per-gpu", "16G", "gpus-per-task", "1")},
		{"nodes_forms.sh", mustOptions(t, "nodes", "1024-2048")},
		{"magic_glued.sh", mustOptions(t, "time", "5", "nodes", "3")},
		{"lone_cr.sh", mustOptions(t, "time", "10", "nodes", "2")},
		{"slurm_prefix.sh", mustOptions(t, "time", "10", "nodes", "2")},
		{"pbs.sh", mustOptions(t, "job-name", "sb")},
		{"clusters.sh", mustOptions(t, "time", "10")},
		{"other_options.sh", Options{}},
		{"everything.sh", mustOptions(t, "job-name", "everything", "partition", "debug", "account", "proj", "qos", "high",
			"reservation", "maint", "nodes", "2-4", "ntasks", "8", "ntasks-per-node", "4", "cpus-per-task", "2",
			"mem", "8G", "gres", "gpu:1,nvme:1", "time", "1:30:00", "time-min", "30", "output", "o_%j", "error", "e_%j",
			"chdir", "/scratch/u", "open-mode", "truncate", "comment", "ran by the gateway", "constraint", "ib",
			"exclusive", "user", "nodelist", "n1", "exclude", "n9", "switches", "1", "licenses", "matlab:1",
			"array", "1-3", "dependency", "afterok:1234", "mail-type", "ALL", "mail-user", "u@x.org", "export", "NONE", "no-requeue", "")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata/scripts", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Options != tt.want {
				t.Errorf("options:\n got %+v %v\nwant %+v %v", s.Options, s.Options.Names(), tt.want, tt.want.Names())
			}
		})
	}
}

// TestParseErrors: what sbatch refuses, Parse refuses, naming the line.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		file, script string // one of them
		err          error
		line         int
		msg          string // part of the message
	}{
		{file: "dos_line_breaks.sh", err: ErrDOSLineBreaks, line: 1, msg: "DOS line breaks"},
		{file: "dos_in_body.sh", err: ErrDOSLineBreaks, line: 4},
		{file: "no_shebang.sh", err: ErrNotBatchScript, line: 1, msg: "does not look like a batch script"},
		{file: "leading_space_shebang.sh", err: ErrNotBatchScript, line: 1},
		{file: "dash_dash.sh", err: ErrSyntax, line: 3, msg: "Invalid directive found in batch script: -c"},
		{file: "empty.sh", err: ErrNotBatchScript, msg: "empty"},
		{file: "whitespace_only.sh", err: ErrNotBatchScript, msg: "only whitespace"},
		{file: "nul_byte.sh", err: ErrNULByte, line: 3},
		{file: "ambiguous_abbrev.sh", err: ErrUnknownOption, line: 3, msg: "ambiguous"},
		{file: "unknown_option.sh", err: ErrUnknownOption, line: 3, msg: "unrecognized option '--gpux=1'"},
		{file: "unmatched_quote.sh", err: ErrSyntax, line: 3, msg: "Unmatched `\"`"},
		{file: "missing_argument.sh", err: ErrSyntax, line: 3, msg: "requires an argument -- 'J'"},
		{file: "stray_word.sh", err: ErrSyntax, line: 2, msg: "Invalid directive found in batch script: foo"},
		{file: "colon_word.sh", err: ErrSyntax, line: 2, msg: "Unexpected `:`"},
		{file: "invalid_time.sh", err: ErrInvalidValue, line: 3, msg: "Invalid --time specification"},
		{file: "mem_conflict.sh", err: ErrInvalidValue, line: 3, msg: "mutually exclusive"},
		{file: "invalid_node_count.sh", err: ErrInvalidValue, line: 2, msg: "Maximum node count 2 is less than minimum node count 4"},
		{file: "optional_argument.sh", err: ErrSyntax, line: 2, msg: "Invalid directive found in batch script: user"},
		{file: "no_argument_given_one.sh", err: ErrSyntax, line: 2, msg: "doesn't allow an argument"},
		{script: "#!/bin/sh\n#SBATCH -N 2\n#SBATCH -y\n", err: ErrUnknownOption, line: 3, msg: "invalid option -- 'y'"},
		{script: "#!/bin/sh\n#SBATCH --nodes=2\n#SBATCH -c 0\n", err: ErrInvalidValue, line: 3, msg: `Invalid numeric value "0" for --cpus-per-task.`},
		{script: "#!/bin/sh\n#SBATCH -J\n#SBATCH hetjob\n", err: ErrSyntax, line: 2, msg: "requires an argument"},
		{script: "#!/bin/sh\n#SBATCH -J hetjob\n#SBATCH -t 5\n", err: ErrSyntax, line: 3, msg: "Invalid directive found in batch script: 5"},
		{script: "#!/bin/sh\n#SBATCH -N4-2 -y\n", err: ErrInvalidValue, line: 2, msg: "Maximum node count"}, // values are checked as read
		{script: "#!/bin/sh\n#SBATCH -N 2\n#SBATCH hetjob\n#SBATCH --mem=x\n", err: ErrInvalidValue, line: 4},
		{script: "#!/bin/sh\n#SBATCH --mail-type=FOO\n", err: ErrInvalidValue, line: 2},
		{script: "#!/bin/sh\n#SBATCH --exclusive=topo\n", err: ErrInvalidValue, line: 2},
		{script: "#!/bin/sh\n#SBATCH --switches=2@x\n", err: ErrInvalidValue, line: 2},
		{script: "#!/bin/sh\n#SBATCH --=x\n", err: ErrUnknownOption, line: 2},
		{script: "#!/bin/sh\n" + strings.Repeat("#", MaxScriptSize), err: ErrTooLarge},
	}
	for _, tt := range tests {
		name, script := tt.file, tt.script
		if name != "" {
			b, err := os.ReadFile(filepath.Join("testdata/scripts", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			script = string(b)
		} else {
			name = strings.ReplaceAll(script[min(len(script), 10):min(len(script), 40)], "\n", "|")
		}
		t.Run(name, func(t *testing.T) {
			s, err := Parse(strings.NewReader(script))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", s.Options)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v is not %v", err, tt.err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Line != tt.line {
				t.Errorf("error %v: line %d, want %d", err, e.Line, tt.line)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

// TestParseShapes covers directive shapes one at a time.
func TestParseShapes(t *testing.T) {
	tests := []struct {
		name, header string
		want         Options
	}{
		{"long with =", "#SBATCH --nodes=2", mustOptions(t, "nodes", "2")},
		{"long spaced", "#SBATCH --nodes 2", mustOptions(t, "nodes", "2")},
		{"long tab", "#SBATCH --nodes\t2", mustOptions(t, "nodes", "2")},
		{"short glued", "#SBATCH -c42", mustOptions(t, "cpus-per-task", "42")},
		{"short spaced", "#SBATCH -N 2", mustOptions(t, "nodes", "2")},
		{"short cluster", "#SBATCH -Hc4", mustOptions(t, "cpus-per-task", "4")},
		{"short takes rest", "#SBATCH -J-N", mustOptions(t, "job-name", "-N")},
		{"value may look like an option", "#SBATCH -J --time=5", mustOptions(t, "job-name", "--time=5")},
		{"tab after prefix", "#SBATCH\t-N 2", mustOptions(t, "nodes", "2")},
		{"nothing after prefix", "#SBATCH-N2", mustOptions(t, "nodes", "2")},
		{"several on a line", "#SBATCH -N 2 -n 4 --time=5", mustOptions(t, "nodes", "2", "ntasks", "4", "time", "5")},
		{"trailing comment", "#SBATCH -N 2 # -n 4", mustOptions(t, "nodes", "2")},
		{"glued comment", "#SBATCH -N 2#-n 4", mustOptions(t, "nodes", "2")},
		{"hash in quotes", `#SBATCH -J "a#b"`, mustOptions(t, "job-name", "a#b")},
		{"escaped hash", `#SBATCH -J a\#b`, mustOptions(t, "job-name", "a#b")},
		{"double quotes", `#SBATCH -J "a b"`, mustOptions(t, "job-name", "a b")},
		{"single quotes", `#SBATCH -J 'a b'`, mustOptions(t, "job-name", "a b")},
		{"quotes inside a word", `#SBATCH -J a"b c"d`, mustOptions(t, "job-name", "ab cd")},
		{"escaped quote in quotes", `#SBATCH -J "a\"b"`, mustOptions(t, "job-name", `a"b`)},
		{"escaped quote in single quotes", `#SBATCH -J 'a\'b'`, mustOptions(t, "job-name", "a'b")},
		{"other quote inside", `#SBATCH -J "it's"`, mustOptions(t, "job-name", "it's")},
		{"adjacent single quotes", `#SBATCH -J 'it''s'`, mustOptions(t, "job-name", "its")},
		{"backslash cannot escape a space", `#SBATCH -c 2 \ -N 3`, mustOptions(t, "cpus-per-task", "2")},
		{"trailing backslash", `#SBATCH -J a\`, mustOptions(t, "job-name", "a")},
		{"empty quoted word ends the line", `#SBATCH -N 3 "" -c 2`, mustOptions(t, "nodes", "3")},
		{"empty value with =", "#SBATCH --comment=", mustOptions(t, "comment", "")},
		{"abbreviation", "#SBATCH --nod=2 --nodes=3", Options{}}, // --nod is ambiguous: tested as an error below
		{"exact beats prefix", "#SBATCH --cluster-constraint=x", Options{}},
		{"alias", "#SBATCH --tasks-per-node=3", mustOptions(t, "ntasks-per-node", "3")},
		{"last wins", "#SBATCH -t 5 -t 6", mustOptions(t, "time", "6")},
		{"mail types add up", "#SBATCH --mail-type=BEGIN --mail-type=END", mustOptions(t, "mail-type", "BEGIN,END")},
		{"exclusive then oversubscribe", "#SBATCH --exclusive -s", mustOptions(t, "oversubscribe", "")},
		{"optional argument", "#SBATCH --exclusive=user", mustOptions(t, "exclusive", "user")},
		{"-- ends options", "#SBATCH -N 2 --", mustOptions(t, "nodes", "2")},
		{"vertical tab and form feed", "#SBATCH -N\v3\f-c 2", mustOptions(t, "nodes", "3", "cpus-per-task", "2")},
		{"#SLURM prefix", "#SLURM -N 2", mustOptions(t, "nodes", "2")},
		{"hetjob word mid-line drops the rest", "#SBATCH -N 3 hetjob -c 2", mustOptions(t, "nodes", "3")},
		{"hetjob inside a word is nothing", "#SBATCH -J myhetjob", mustOptions(t, "job-name", "myhetjob")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(strings.NewReader("#!/bin/sh\n" + tt.header + "\nsrun true\n"))
			if tt.name == "abbreviation" {
				if !errors.Is(err, ErrUnknownOption) {
					t.Fatalf("--nod: %v, want ambiguous", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Options != tt.want {
				t.Errorf("got %+v %v\nwant %+v %v", s.Options, s.Options.Names(), tt.want, tt.want.Names())
			}
		})
	}
}

func TestParseDirectives(t *testing.T) {
	s := mustParse(t, "#!/bin/bash\n# comment\n\n#SBATCH -N 2 --time 10\n#SBATCH --job-name\n#SBATCH \"a b\"\n#SLURM -p x\nsrun true\n#SBATCH -N 5\n")
	want := []Directive{
		{Line: 4, Prefix: "#SBATCH", Flag: "-N", Name: "nodes", Value: "2", HasValue: true},
		{Line: 4, Prefix: "#SBATCH", Flag: "--time", Name: "time", Value: "10", HasValue: true},
		{Line: 5, Prefix: "#SBATCH", Flag: "--job-name", Name: "job-name", Value: "a b", HasValue: true},
		{Line: 7, Prefix: "#SLURM", Flag: "-p", Name: "partition", Value: "x", HasValue: true},
	}
	if !reflect.DeepEqual(s.Directives, want) {
		t.Errorf("directives:\n got %+v\nwant %+v", s.Directives, want)
	}
	if s.HeaderEnd != 8 || s.Shebang != "#!/bin/bash" {
		t.Errorf("HeaderEnd %d, Shebang %q", s.HeaderEnd, s.Shebang)
	}
}

func TestParseSeparatorsAndForeign(t *testing.T) {
	s := mustParse(t, "#!/bin/bash\n#SBATCH -N 1\n#SBATCH hetjob\n#SBATCH -N 2 packjob -c 3\n#PBS -N x\nsrun true\n#BSUB -q y\n")
	wantSep := []Separator{{Line: 3, Word: "hetjob", Split: true}, {Line: 4, Word: "packjob", Split: false}}
	if !reflect.DeepEqual(s.Separators, wantSep) {
		t.Errorf("separators %+v, want %+v", s.Separators, wantSep)
	}
	wantForeign := []Foreign{{Line: 7, Prefix: "#BSUB"}, {Line: 5, Prefix: "#PBS"}}
	if !reflect.DeepEqual(s.Foreign, wantForeign) {
		t.Errorf("foreign %+v, want %+v", s.Foreign, wantForeign)
	}
	if s.Options != mustOptions(t, "nodes", "1") {
		t.Errorf("options of the first component: %+v", s.Options)
	}
	if d := s.Directives[1]; d.Component != 1 || d.Name != "nodes" || d.Value != "2" {
		t.Errorf("second component's directive: %+v", d)
	}
}

func TestParseArgs(t *testing.T) {
	s, err := ParseArgs([]string{"-N", "2", "--time=1:00:00", "-Jname", "--mail-type", "END", "--exclusive"})
	if err != nil {
		t.Fatal(err)
	}
	want := mustOptions(t, "nodes", "2", "time", "60", "job-name", "name", "mail-type", "END", "exclusive", "")
	if s.Options != want {
		t.Errorf("got %+v\nwant %+v", s.Options, want)
	}
	for _, args := range [][]string{{"-N"}, {"script.sh"}, {"-N", "2", ":", "-N", "3"}, {"--bogus"}, {"--nod=2"}, {"-t", "x"}} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("ParseArgs(%q) accepted", args)
		}
	}
}

func TestOptionsSet(t *testing.T) {
	var o Options
	for _, tt := range []struct {
		name, value string
		err         error
	}{
		{"clusters", "x", ErrForbidden},
		{"cluster", "x", ErrForbidden},
		{"uid", "0", ErrForbidden},
		{"gid", "0", ErrForbidden},
		{"hold", "", ErrNotAllowed},
		{"wrap", "true", ErrNotAllowed},
		{"no-such-option", "", ErrUnknownOption},
		{"nod", "2", ErrUnknownOption}, // no abbreviations
		{"nodes", "x", ErrInvalidValue},
		{"time", "forever", ErrInvalidValue},
		{"mem", "1.5G", ErrInvalidValue},
		{"mail-type", "FOO", ErrInvalidValue},
		{"oversubscribe", "yes", ErrSyntax},
		{"requeue", "1", ErrSyntax},
	} {
		if err := o.Set(tt.name, tt.value); !errors.Is(err, tt.err) {
			t.Errorf("Set(%q, %q) = %v, want %v", tt.name, tt.value, err, tt.err)
		}
	}
	if o != (Options{}) {
		t.Errorf("failed Sets changed the options: %+v", o)
	}
	o = mustOptions(t, "nodes", "4", "mail-type", "BEGIN")
	before := o
	if o.Set("nodes", "x") == nil || o.Set("mail-type", "FOO") == nil || o != before {
		t.Errorf("a failed Set changed a set option: %+v", o)
	}
	o = mustOptions(t, "time", "0", "mem", "0", "nodes", "0")
	if o.Time != Infinite || o.Mem != 0 || !o.IsSet("mem") || !o.IsSet("nodes") || o.IsSet("ntasks") {
		t.Errorf("zero values: %+v", o)
	}
	o.Unset("mem")
	if o.IsSet("mem") {
		t.Error("Unset did not unset")
	}
	o = mustOptions(t, "mail-type", "END")
	o.Unset("mail-type")
	if o != (Options{}) {
		t.Errorf("Unset mail-type left %+v", o)
	}
}

func TestMerge(t *testing.T) {
	script := mustParse(t, "#!/bin/sh\n#SBATCH -N 2 -t 10 -J fromscript --mail-type=BEGIN --exclusive -o out\n").Options
	flags := mustOptions(t, "time", "20", "mail-type", "END", "oversubscribe", "", "partition", "gpu")
	got := Merge(script, flags)
	want := mustOptions(t, "nodes", "2", "time", "20", "job-name", "fromscript", "mail-type", "BEGIN,END",
		"oversubscribe", "", "output", "out", "partition", "gpu")
	if got != want {
		t.Errorf("Merge:\n got %+v\nwant %+v", got, want)
	}
	// and it is what sbatch does with the script and the flags as arguments
	args, err := flags.Args()
	if err != nil {
		t.Fatal(err)
	}
	fromArgs, err := ParseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	if Merge(script, fromArgs.Options) != want {
		t.Errorf("flags through Args and ParseArgs differ: %+v", fromArgs.Options)
	}
	if Merge(script, Options{}) != script || Merge(Options{}, flags) != flags {
		t.Error("merging with nothing changed something")
	}
}

func TestEffective(t *testing.T) {
	for _, tt := range []struct{ header, nodes string }{
		{"-N 3 -n 2", "2"},
		{"-N 3-5 -n 2", "2"},
		{"-N 2-8 -n 4", "2-4"},
		{"-N 1-3 -n 2", "1-2"},
		{"-N 3-0 -n 5", "3-0"},
		{"-N 3-0 -n 2", "2"},
		{"-N 0-5 -n 2", "0-2"},
		{"-N 0 -n 2", "0"},
		{"-N 4", "4"},
	} {
		o := mustParse(t, "#!/bin/sh\n#SBATCH "+tt.header+"\n").Options
		if got := o.Effective().Nodes.String(); got != tt.nodes {
			t.Errorf("%s: Effective nodes %s, want %s (as sbatch 22.05)", tt.header, got, tt.nodes)
		}
	}
}

func TestPaths(t *testing.T) {
	for _, tt := range []struct {
		header, out, err, wd string
	}{
		{"", "/home/u/slurm-%j.out", "/home/u/slurm-%j.out", "/home/u"},
		{"-a 1-3", "/home/u/slurm-%A_%a.out", "/home/u/slurm-%A_%a.out", "/home/u"},
		{"-o o_%j.log", "/home/u/o_%j.log", "/home/u/o_%j.log", "/home/u"},
		{"-o o -e /abs/e", "/home/u/o", "/abs/e", "/home/u"},
		{"-D run -o none -e NONE", "/dev/null", "/dev/null", "/home/u/run"},
		{"-D /scratch -o logs/%x.out", "/scratch/logs/%x.out", "/scratch/logs/%x.out", "/scratch"},
		{"-D none", "/home/u/none/slurm-%j.out", "/home/u/none/slurm-%j.out", "/home/u/none"},
		{"--chdir= -o x", "/home/u//x", "/home/u//x", "/home/u/"}, // as sbatch: "" is cwd + "/"
	} {
		o := mustParse(t, "#!/bin/sh\n#SBATCH "+tt.header+"\n").Options
		if got := o.OutputPath("/home/u"); got != tt.out {
			t.Errorf("%q: OutputPath %q, want %q", tt.header, got, tt.out)
		}
		if got := o.ErrorPath("/home/u"); got != tt.err {
			t.Errorf("%q: ErrorPath %q, want %q", tt.header, got, tt.err)
		}
		if got := o.WorkDir("/home/u"); got != tt.wd {
			t.Errorf("%q: WorkDir %q, want %q", tt.header, got, tt.wd)
		}
	}
}

func TestValues(t *testing.T) {
	nodes := map[string]NodeRange{"2": {2, 2}, "2-4": {2, 4}, "-4": {1, 4}, "0": {0, 0}, "2k": {2048, 2048},
		"1m": {1 << 20, 1 << 20}, " 3": {3, 3}, "3 ": {3, 3}, "+3": {3, 3}, "3-0": {3, 0}, "1k-2k": {1024, 2048}}
	for in, want := range nodes {
		if got, err := ParseNodes(in); err != nil || got != want {
			t.Errorf("ParseNodes(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got, err := ParseNodes(want.String()); err != nil || got != want {
			t.Errorf("ParseNodes(%q) does not read back", want.String())
		}
	}
	for _, in := range []string{"", "x", "2-", "4-2", "1,2", "2:4", "3x", "2kk", "-", "99999999999", "3000000m", "2--3"} {
		if _, err := ParseNodes(in); err == nil {
			t.Errorf("ParseNodes(%q) accepted", in)
		}
	}
	mem := map[string]MiB{"4G": 4096, "4096": 4096, "4g": 4096, "4GB": 4096, "4Gb": 4096, "1T": 1 << 20, "512K": 1,
		"1025K": 2, "0": 0, "+5": 5, " 5": 5, "-0": 0, "00012": 12, "4MB": 4, "4Kb": 1}
	for in, want := range mem {
		if got, err := ParseMiB(in); err != nil || got != want {
			t.Errorf("ParseMiB(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5", "1.5G", "4X", "4B", "4b", "4GB5", "4MiB", "k", "G", "5 ", "0x10", "99999999999999999999", "8796093022208T"} {
		if _, err := ParseMiB(in); err == nil {
			t.Errorf("ParseMiB(%q) accepted", in)
		}
	}
	for m, want := range map[MiB]string{0: "0", 5: "5", 1500: "1500", 4096: "4G", 1 << 20: "1T", 1 << 30: "1P", 1536: "1536"} {
		if got := m.String(); got != want {
			t.Errorf("MiB(%d).String() = %q, want %q", m, got, want)
		}
	}
	mail := map[string]string{"BEGIN": "BEGIN", "begin,end": "BEGIN,END", "ALL": "INVALID_DEPEND,BEGIN,END,FAIL,REQUEUE,STAGE_OUT",
		"NONE": "NONE", "NONE,BEGIN": "NONE", "BEGIN,NONE,END": "NONE", "BEGIN,FOO": "BEGIN", "begin,,end": "BEGIN,END",
		"TIME_LIMIT_80,ARRAY_TASKS": "ARRAY_TASKS,TIME_LIMIT_80"}
	for in, want := range mail {
		if got, err := ParseMailType(in); err != nil || got.String() != want {
			t.Errorf("ParseMailType(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", ",", "FOO", " BEGIN"} {
		if _, err := ParseMailType(in); err == nil {
			t.Errorf("ParseMailType(%q) accepted", in)
		}
	}
	arrays := map[string][2]int{"0-9": {10, 0}, "1,3,5-7:2%4": {4, 4}, "0-15%2": {16, 2}, "7": {1, 0}, "1,1,1-2": {2, 0},
		"0-4000000": {4000001, 0}, "0-10:5": {3, 0}}
	for in, want := range arrays {
		if n, m, err := ArrayTasks(in); err != nil || n != want[0] || m != want[1] {
			t.Errorf("ArrayTasks(%q) = %d, %d, %v; want %v", in, n, m, err, want)
		}
	}
	for _, in := range []string{"", "x", "1-", "5-1", "1:2", "0-9%", "0-9%0", "0-9:0", "0-4000001", "1,,2", "-1", "1-2-3"} {
		if _, _, err := ArrayTasks(in); err == nil {
			t.Errorf("ArrayTasks(%q) accepted", in)
		}
	}
	sw := map[string]string{"2": "2", "3@1:00:00": "3@01:00:00", "2@0": "2@00:00:00", "2@INFINITE": "2", "1@1-0": "1@1-00:00:00"}
	for in, want := range sw {
		s, _, err := parseSwitches(in)
		if err != nil || s.String() != want {
			t.Errorf("switches %q = %v, %v; want %s", in, s, err, want)
		}
		if back, _, err := parseSwitches(s.String()); err != nil || back != s {
			t.Errorf("switches %q does not read back", s.String())
		}
	}
	// a later count without a wait keeps the wait (as sbatch 22.05)
	if o := mustParse(t, "#!/bin/sh\n#SBATCH --switches=3@1:00:00 --switches=2\n").Options; o.Switches != (Switches{2, time.Hour}) {
		t.Errorf("--switches=3@1:00:00 --switches=2: %v", o.Switches)
	}
	if o := mustParse(t, "#!/bin/sh\n#SBATCH --switches=3@1:00:00 --switches=2@INFINITE\n").Options; o.Switches != (Switches{2, Infinite}) {
		t.Errorf("--switches=3@1:00:00 --switches=2@INFINITE: %v", o.Switches)
	}
	if _, _, err := parseSwitches("2@"); err == nil {
		t.Error(`switches "2@" accepted (sbatch sends an invalid wait; refused here)`)
	}
}

// FuzzParse: Parse never panics; what it accepts satisfies the invariants
// every caller relies on; and options the policy accepts survive the trip
// through Args and ParseArgs unchanged.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/scripts/*")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{"#!/bin/sh\n#SBATCH -N2 -c4 --time=1-0 --job-name='a b'\n", "#!\n#SBATCH hetjob\n", "#!\n#SBATCH\t-J\n#SBATCH x\n"} {
		f.Add([]byte(s))
	}
	policy := DefaultPolicy()
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(bytes.NewReader(b))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Err == nil || e.Line < 0 || e.Line > bytes.Count(b, []byte("\n"))+1 {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		lines := bytes.Count(b, []byte("\n")) + 1
		for _, d := range s.Directives {
			if d.Line < 2 || d.Line > lines || longIndex[d.Name] == nil || (s.HeaderEnd > 0 && d.Line >= s.HeaderEnd) {
				t.Fatalf("bad directive %+v (HeaderEnd %d)", d, s.HeaderEnd)
			}
		}
		if err := policy.Check(s); err != nil {
			for _, e := range unjoin(err) {
				var pe *Error
				if !errors.As(e, &pe) || pe.Err == nil {
					t.Fatalf("policy error %#v is not an *Error", e)
				}
			}
			return
		}
		args, err := s.Options.Args()
		if err != nil {
			t.Fatalf("Check accepted options Args refuses: %v", err)
		}
		back, err := ParseArgs(args)
		if err != nil {
			t.Fatalf("ParseArgs(Args()) = %v; args %q", err, args)
		}
		if back.Options != s.Options {
			t.Fatalf("options changed through Args:\n%+v\n%+v\nargs %q", s.Options, back.Options, args)
		}
	})
}

// unjoin splits an errors.Join error.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// A short array specification must not cost much time.
func BenchmarkArrayTasksWorstCase(b *testing.B) {
	spec := strings.TrimSuffix(strings.Repeat("0-4000000:2,", 7), ",")
	for b.Loop() {
		ArrayTasks(spec)
	}
}

// sbatch reads a component's lines only after it has set the options of
// the components before: an invalid value there is the first complaint.
func TestParseErrorOrderAcrossComponents(t *testing.T) {
	_, err := Parse(strings.NewReader("#!/bin/sh\n#SBATCH -N x\n#SBATCH hetjob\n#SBATCH -J \"unterminated\n"))
	if !errors.Is(err, ErrInvalidValue) {
		t.Errorf("got %v, want the invalid node count first", err)
	}
	_, err = Parse(strings.NewReader("#!/bin/sh\n#SBATCH -N 2\n#SBATCH -J \"unterminated\n#SBATCH hetjob\n#SBATCH -N x\n"))
	if !errors.Is(err, ErrSyntax) {
		t.Errorf("got %v, want the unmatched quote first", err)
	}
}
