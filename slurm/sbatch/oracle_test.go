package sbatch

// The oracle tests compare Parse with the real sbatch 22.05. sbatch prints
// the options it read ("sbatch -v": "defined options") before it contacts
// the controller, so a local sbatch with a controller that is not there
// reads every script exactly as a site would, and no job is submitted.
// Its answers are recorded in testdata/ (go test -run Oracle -update
// re-records them; that needs the sbatch binary, nothing else) and every
// test run compares the parser with the recording.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "re-record testdata/ from the real sbatch (needs the sbatch binary)")

// oracleCWD stands for the directory sbatch ran in, in recordings.
const oracleCWD = "/oracle-cwd"

// sbatchResult is what sbatch made of a script.
type sbatchResult struct {
	OK bool `json:"ok"`
	// Components are the options sbatch printed for each job component,
	// by the name it printed them under.
	Components []map[string]string `json:"components,omitempty"`
	// Error is sbatch's first complaint when it refused the script.
	Error string `json:"error,omitempty"`
}

// oracle runs the real sbatch on scripts, with a slurm.conf whose controller
// port is held by a listener that hangs up at once: sbatch reads and prints
// the options, then fails to submit.
type oracle struct {
	dir string
	ln  net.Listener
}

func newOracle(t *testing.T) *oracle {
	t.Helper()
	if _, err := exec.LookPath("sbatch"); err != nil {
		t.Fatalf("-update needs the sbatch binary (Slurm 22.05): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	dir := t.TempDir()
	port := ln.Addr().(*net.TCPAddr).Port
	conf := fmt.Sprintf(`ClusterName=oracle
SlurmctldHost=localhost
SlurmctldPort=%d
SlurmdPort=%d
AuthType=auth/munge
MessageTimeout=1
StateSaveLocation=%s/state
SlurmdSpoolDir=%s/spool
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
NodeName=n1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=n1 Default=YES MaxTime=INFINITE State=UP
`, port, port, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "slurm.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &oracle{dir: dir, ln: ln}
}

// run returns sbatch's stderr for a script, with its working directory
// written as oracleCWD.
func (o *oracle) run(t *testing.T, script []byte, args ...string) string {
	t.Helper()
	work := filepath.Join(o.dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "job.sh"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// --ignore-pbs as SubmitArgs passes it: #PBS and #BSUB lines are not
	// read.
	cmd := exec.CommandContext(ctx, "sbatch", append(append([]string{"-v", "--ignore-pbs"}, args...), "job.sh")...)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "SLURM_CONF=" + filepath.Join(o.dir, "slurm.conf")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run() // it always fails: there is no controller
	if ctx.Err() != nil {
		t.Fatalf("sbatch timed out")
	}
	return strings.ReplaceAll(stderr.String(), work, oracleCWD)
}

var (
	optionLine = regexp.MustCompile(`^sbatch: (\S+)\s+: ?(.*)$`)
	debugLine  = regexp.MustCompile(`^sbatch: debug\d*: `)
)

// afterParse are the complaints sbatch makes after it has read (and
// printed) the options, when it builds and submits the job: about the site,
// not the script.
var afterParse = []string{
	"Batch job submission failed", "Invalid generic resource", "Problem talking to database",
	"can't be reached now", "unge", "Zero Bytes", "Socket timed out", "Unable to contact", "auth/",
	"accounting_storage", "slurm_msg_sendto", "missing socket",
}

// summarize reads sbatch -v's stderr.
func summarize(stderr string) sbatchResult {
	var r sbatchResult
	var cur map[string]string
	var errs []string
	lastBlockErr := ""
	for _, line := range strings.Split(stderr, "\n") {
		switch {
		case strings.HasPrefix(line, "sbatch: defined options"):
			cur = map[string]string{}
			lastBlockErr = ""
			continue
		case strings.HasPrefix(line, "sbatch: end of defined options"):
			r.Components = append(r.Components, cur)
			cur = nil
			continue
		case debugLine.MatchString(line) || strings.Contains(line, "--------------------"):
			continue
		}
		if cur != nil {
			if m := optionLine.FindStringSubmatch(line); m != nil && m[1] != "verbose" && m[1] != "ignore-pbs" {
				cur[m[1]] = m[2]
			}
			continue
		}
		if !isComplaint(line) {
			continue
		}
		msg := strings.TrimPrefix(line, "sbatch: ")
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, "error: "), "fatal: ")
		errs = append(errs, msg)
		if len(r.Components) > 0 && lastBlockErr == "" && !slices.ContainsFunc(afterParse, func(s string) bool { return strings.Contains(line, s) }) {
			lastBlockErr = msg
		}
	}
	switch {
	case len(r.Components) == 0:
		r.Error = strings.Join(errs, " ")
		if r.Error == "" {
			r.Error = "no options printed"
		}
	case lastBlockErr != "":
		// a later job component failed
		r.Components = nil
		r.Error = lastBlockErr
	default:
		r.OK = true
	}
	return r
}

func isComplaint(line string) bool {
	// notices sbatch prints as errors but goes on after
	for _, s := range []string{"Change from #SLURM to #SBATCH", "is being deprecated", "Warning:", "Ignored PBS"} {
		if strings.Contains(line, s) {
			return false
		}
	}
	for _, s := range []string{"error:", "fatal:", "unrecognized option", "invalid option", "requires an argument",
		"is ambiguous", "allow an argument", `Try "sbatch --help"`} {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// view is what this package read, in the form sbatch -v prints.
func view(s *Script) sbatchResult {
	comps := 1
	for _, sep := range s.Separators {
		if sep.Split {
			comps++
		}
	}
	r := sbatchResult{OK: true}
	for c := 0; c < comps; c++ {
		var dirs []Directive
		var o Options
		for _, d := range s.Directives {
			if d.Component == c {
				dirs = append(dirs, d)
				if err := o.setDirective(d); err != nil {
					panic(err) // Parse already read every component
				}
			}
		}
		r.Components = append(r.Components, viewOptions(o.Effective(), dirs))
	}
	return r
}

// viewOptions prints the options of one component as sbatch -v does; the
// values of options outside the model are "?".
func viewOptions(o Options, dirs []Directive) map[string]string {
	m := map[string]string{}
	for _, d := range dirs {
		name := longIndex[d.Name].canon
		if _, ok := lookupField(d.Name); !ok {
			m[name] = "?"
			continue
		}
		m[name] = viewValue(o, name)
	}
	return m
}

func viewValue(o Options, name string) string {
	mem := func(m MiB) string {
		if m == 0 {
			return "0?"
		}
		return m.String()
	}
	switch name {
	case "job-name":
		return o.JobName
	case "partition":
		return o.Partition
	case "account":
		return o.Account
	case "qos":
		return o.QOS
	case "reservation":
		return o.Reservation
	case "nodes":
		return o.Nodes.String()
	case "ntasks":
		return strconv.Itoa(o.NTasks)
	case "ntasks-per-node":
		return strconv.Itoa(o.NTasksPerNode)
	case "cpus-per-task":
		return strconv.Itoa(o.CPUsPerTask)
	case "cpus-per-gpu":
		return strconv.Itoa(o.CPUsPerGPU)
	case "mem":
		return mem(o.Mem)
	case "mem-per-cpu":
		return mem(o.MemPerCPU)
	case "mem-per-gpu":
		return mem(o.MemPerGPU)
	case "gres":
		if o.Gres == "none" {
			return o.Gres
		}
		items := strings.Split(o.Gres, ",")
		for i, it := range items {
			if !strings.HasPrefix(it, "gres:") {
				items[i] = "gres:" + it
			}
		}
		return strings.Join(items, ",")
	case "gpus":
		return o.GPUs
	case "gpus-per-node":
		return o.GPUsPerNode
	case "gpus-per-task":
		return o.GPUsPerTask
	case "time":
		return FormatTime(o.Time)
	case "time-min":
		return FormatTime(o.TimeMin)
	case "output":
		return ioPath(o.Output, o.WorkDir(oracleCWD))
	case "error":
		return ioPath(o.Error, o.WorkDir(oracleCWD))
	case "chdir":
		return o.WorkDir(oracleCWD)
	case "open-mode":
		return o.OpenMode.String()[:1]
	case "comment":
		return o.Comment
	case "constraint":
		return o.Constraint
	case "exclusive", "oversubscribe":
		return o.Share.String()
	case "nodelist":
		return o.NodeList
	case "exclude":
		return o.Exclude
	case "switches":
		return o.Switches.String()
	case "licenses":
		return o.Licenses
	case "array":
		return o.Array
	case "dependency":
		return o.Dependency
	case "mail-type":
		return o.MailType.String()
	case "mail-user":
		return o.MailUser
	case "export":
		return o.Export
	case "requeue", "no-requeue":
		if o.Requeue {
			return "requeue"
		}
		return "no-requeue"
	}
	panic("viewValue: no view of " + name)
}

// sbatchCategory maps sbatch's complaint to the sentinel Parse must return.
func sbatchCategory(msg string) error {
	for _, c := range []struct {
		sub string
		err error
	}{
		{"DOS line breaks", ErrDOSLineBreaks},
		{"NULL character", ErrNULByte},
		{"does not look like a batch script", ErrNotBatchScript},
		{"is empty", ErrNotBatchScript},
		{"only whitespace", ErrNotBatchScript},
		{"Invalid directive", ErrSyntax},
		{"Unmatched", ErrSyntax},
		{"Unexpected `:`", ErrSyntax},
		{"requires an argument", ErrSyntax},
		{"allow an argument", ErrSyntax},
		{"unrecognized option", ErrUnknownOption},
		{"invalid option", ErrUnknownOption},
		{"is ambiguous", ErrUnknownOption},
		{"Invalid", ErrInvalidValue},
		{"not a valid node count", ErrInvalidValue},
		{"node count", ErrInvalidValue},
		{"mutually exclusive", ErrInvalidValue},
		{`Try "sbatch --help"`, ErrUnknownOption}, // glibc sometimes prints only this for an ambiguous --opt=value
	} {
		if strings.Contains(msg, c.sub) {
			return c.err
		}
	}
	return nil
}

var sbatchLine = regexp.MustCompile(`: line (\d+): `)

// compareWithSbatch checks Parse against what sbatch did with a script.
func compareWithSbatch(t *testing.T, name string, script []byte, want sbatchResult) {
	t.Helper()
	s, err := Parse(bytes.NewReader(script))
	if !want.OK {
		if err == nil {
			t.Errorf("%s: sbatch refused the script (%s) but Parse accepted it; read %v\n%s", name, want.Error, view(s).Components, script)
			return
		}
		cat := sbatchCategory(want.Error)
		if cat == nil {
			t.Errorf("%s: unclassified sbatch complaint %q", name, want.Error)
		} else if !errors.Is(err, cat) {
			t.Errorf("%s: sbatch said %q (%v); Parse said %v\n%s", name, want.Error, cat, err, script)
		}
		var e *Error
		if m := sbatchLine.FindStringSubmatch(want.Error); m != nil && errors.As(err, &e) && strconv.Itoa(e.Line) != m[1] {
			t.Errorf("%s: sbatch complained about line %s, Parse about line %d (%v)", name, m[1], e.Line, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: sbatch accepted the script (read %v) but Parse said %v\n%s", name, want.Components, err, script)
		return
	}
	got := view(s)
	if len(got.Components) != len(want.Components) {
		t.Errorf("%s: sbatch read %d job components, Parse %d\n%s", name, len(want.Components), len(got.Components), script)
		return
	}
	// Component 0 is compared option by option. (sbatch carries some
	// options over into later components; the gateway refuses those
	// scripts anyway.)
	w, g := want.Components[0], got.Components[0]
	for _, k := range sortedKeys(w, g) {
		wv, inW := w[k]
		gv, inG := g[k]
		switch {
		case !inW:
			t.Errorf("%s: Parse read --%s=%q, which sbatch did not print\n%s", name, k, gv, script)
		case !inG:
			t.Errorf("%s: sbatch read --%s=%q, which Parse did not\n%s", name, k, wv, script)
		case gv != "?" && gv != wv:
			t.Errorf("%s: --%s: sbatch read %q, Parse %q\n%s", name, k, wv, gv, script)
		}
	}
}

func sortedKeys(ms ...map[string]string) []string {
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// recording is a recorded set of sbatch answers.
type recording struct {
	Sbatch  string          `json:"sbatch"`
	Note    string          `json:"note"`
	Scripts []recordedEntry `json:"scripts"`
}

type recordedEntry struct {
	Name   string       `json:"name"`
	Script string       `json:"script,omitempty"` // generated scripts only
	Sbatch sbatchResult `json:"sbatch_read"`
}

func loadRecording(t *testing.T, path string) recording {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (record it with: go test -run Oracle -update)", err)
	}
	var r recording
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// version returns what `sbatch --version` says.
func (o *oracle) version() string {
	cmd := exec.Command("sbatch", "--version")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SLURM_CONF=" + filepath.Join(o.dir, "slurm.conf")}
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

func saveRecording(t *testing.T, path string, r recording) {
	t.Helper()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOracleScripts compares Parse with sbatch on the sample scripts in
// testdata/scripts.
func TestOracleScripts(t *testing.T) {
	const golden = "testdata/scripts.sbatch.json"
	files, err := filepath.Glob("testdata/scripts/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample scripts: %v", err)
	}
	if *update {
		o := newOracle(t)
		rec := recording{Sbatch: o.version(), Note: "what sbatch -v read from each script in testdata/scripts (go test -run Oracle -update)"}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rec.Scripts = append(rec.Scripts, recordedEntry{Name: filepath.Base(f), Sbatch: summarize(o.run(t, b))})
		}
		saveRecording(t, golden, rec)
	}
	rec := loadRecording(t, golden)
	byName := map[string]sbatchResult{}
	for _, e := range rec.Scripts {
		byName[e.Name] = e.Sbatch
	}
	for _, f := range files {
		want, ok := byName[filepath.Base(f)]
		if !ok {
			t.Errorf("%s has no recording (go test -run Oracle -update)", f)
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		compareWithSbatch(t, filepath.Base(f), b, want)
	}
}

// TestOracleGenerated compares Parse with sbatch on generated scripts that
// mix every tokenizer and getopt feature with valid and invalid values.
func TestOracleGenerated(t *testing.T) {
	const golden = "testdata/generated.sbatch.json"
	if *update {
		o := newOracle(t)
		rec := recording{Sbatch: o.version(), Note: "generated scripts (genScript, seed 22 05) and what sbatch -v read from them (go test -run Oracle -update)"}
		r := rand.New(rand.NewPCG(22, 5))
		for i := 0; i < 1500; i++ {
			script := genScript(r)
			rec.Scripts = append(rec.Scripts, recordedEntry{Name: fmt.Sprintf("gen%03d", i), Script: script, Sbatch: summarize(o.run(t, []byte(script)))})
		}
		saveRecording(t, golden, rec)
	}
	rec := loadRecording(t, golden)
	ok := 0
	for _, e := range rec.Scripts {
		compareWithSbatch(t, e.Name, []byte(e.Script), e.Sbatch)
		if e.Sbatch.OK {
			ok++
		}
	}
	// the corpus must exercise both sides
	if ok < len(rec.Scripts)/4 || ok > len(rec.Scripts)*3/4 {
		t.Errorf("sbatch accepted %d of %d generated scripts; the generator is off balance", ok, len(rec.Scripts))
	}
}

// TestOracleMerge checks Merge (and ParseArgs) against sbatch run with
// options on its command line and a script with a header: command-line
// options override the header's, mail types add up, and sbatch's checks
// across options see both.
func TestOracleMerge(t *testing.T) {
	const golden = "testdata/merge.sbatch.json"
	type entry struct {
		Name   string       `json:"name"`
		Script string       `json:"script"`
		Args   []string     `json:"args"`
		Sbatch sbatchResult `json:"sbatch_read"`
	}
	var rec struct {
		Sbatch  string  `json:"sbatch"`
		Note    string  `json:"note"`
		Entries []entry `json:"entries"`
	}
	if *update {
		o := newOracle(t)
		rec.Note = "generated scripts and command-line options (genScript, genArgs, seed 7 12), and what sbatch -v read from both (go test -run Oracle -update)"
		rec.Sbatch = o.version()
		r := rand.New(rand.NewPCG(7, 12))
		for i := 0; i < 500; i++ {
			script, args := genScript(r), genArgs(r)
			if i%3 == 0 {
				script = "#!/bin/sh\n" + strings.Join(strings.Split(strings.TrimSpace(script), "\n")[1:2], "") + "\nsrun true\n"
			}
			// The options as the submit path writes them (Args), when
			// they can be written; else as generated.
			if a, err := ParseArgs(args); err == nil {
				if canon, err := a.Options.Args(); err == nil && i%4 != 0 {
					args = canon
				}
			}
			rec.Entries = append(rec.Entries, entry{fmt.Sprintf("merge%03d", i), script, args, summarize(o.run(t, []byte(script), args...))})
		}
		b, _ := json.MarshalIndent(rec, "", "  ")
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (record it with: go test -run Oracle -update)", err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, e := range rec.Entries {
		if strings.Contains(strings.ToLower(e.Script), "hetjob") || strings.Contains(strings.ToLower(e.Script), "packjob") {
			continue // heterogeneous: sbatch applies the command line differently; the gateway refuses them
		}
		got, err := mergedView(e.Script, e.Args)
		if e.Sbatch.OK {
			ok++
		}
		switch {
		case !e.Sbatch.OK && err == nil:
			t.Errorf("%s: sbatch refused (%s); Merge read %v\nargs %q\n%s", e.Name, e.Sbatch.Error, got, e.Args, e.Script)
		case !e.Sbatch.OK:
			if cat := sbatchCategory(e.Sbatch.Error); !errors.Is(err, cat) {
				t.Errorf("%s: sbatch said %q; we said %v\nargs %q\n%s", e.Name, e.Sbatch.Error, err, e.Args, e.Script)
			}
		case err != nil:
			t.Errorf("%s: sbatch read %v; we said %v\nargs %q\n%s", e.Name, e.Sbatch.Components, err, e.Args, e.Script)
		default:
			w := e.Sbatch.Components[0]
			for _, k := range sortedKeys(w, got) {
				if gv, inG := got[k]; !inG || w[k] != gv && gv != "?" {
					t.Errorf("%s: --%s: sbatch read %q, Merge %q\nargs %q\n%s", e.Name, k, w[k], got[k], e.Args, e.Script)
				}
			}
		}
	}
	if ok < len(rec.Entries)/4 {
		t.Errorf("sbatch accepted only %d of %d merges; the generator is off balance", ok, len(rec.Entries))
	}
}

// mergedView is what Parse, ParseArgs and Merge make of a script submitted
// with command-line options, in the form sbatch -v prints. (sbatch reads
// its command line once before the script, so complaints about it come
// first.)
func mergedView(script string, args []string) (map[string]string, error) {
	a, err := ParseArgs(args)
	if err != nil {
		return nil, err
	}
	s, err := Parse(strings.NewReader(script))
	if err != nil {
		return nil, err
	}
	m := Merge(s.Options, a.Options)
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var dirs []Directive
	for _, d := range s.Directives {
		if d.Component == 0 {
			dirs = append(dirs, d)
		}
	}
	return viewOptions(m.Effective(), append(dirs, a.Directives...)), nil
}

// TestOracleOptionTable checks the option table against the one
// sbatch reports. With -update it asks sbatch again: every prefix's
// "ambiguous; possibilities" list names the long options, and each
// option's answer to "--name" and "--name=x" gives its argument kind.
func TestOracleOptionTable(t *testing.T) {
	const golden = "testdata/sbatch-options.txt"
	if *update {
		o := newOracle(t)
		ask := func(arg string) string {
			return o.run(t, []byte("#!/bin/sh\n#SBATCH "+arg+"\n"))
		}
		names := map[string]bool{}
		seen := map[string]bool{}
		queue := []string{}
		for c := 'a'; c <= 'z'; c++ {
			queue = append(queue, string(c))
		}
		amb := regexp.MustCompile(`is ambiguous; possibilities: (.*)`)
		req := regexp.MustCompile(`option '--([^']+)' requires an argument`)
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			if seen[p] {
				continue
			}
			seen[p] = true
			out := ask("--" + p)
			if m := amb.FindStringSubmatch(out); m != nil {
				for _, n := range regexp.MustCompile(`'--([^']+)'`).FindAllStringSubmatch(m[1], -1) {
					names[n[1]] = true
					if len(n[1]) > len(p) {
						queue = append(queue, n[1][:len(p)+1])
					}
				}
			} else if m := req.FindStringSubmatch(out); m != nil {
				names[m[1]] = true
			} else if r := summarize(out); len(r.Components) > 0 {
				// the prefix stands for one option without a
				// required argument: sbatch printed its name
				for n := range r.Components[0] {
					names[n] = true
				}
			}
		}
		var lines []string
		for n := range names {
			kind := "optional"
			out := ask("--" + n)
			switch {
			case strings.Contains(out, "unrecognized option") || strings.Contains(out, "ambiguous"):
				continue
			case strings.Contains(out, "'--"+n+"' requires an argument"):
				kind = "required"
			case strings.Contains(ask("--"+n+"=x"), "'--"+n+"' doesn't allow an argument"):
				kind = "none"
			}
			lines = append(lines, n+" "+kind)
		}
		for c := byte('A'); c <= 'z'; c++ {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				continue
			}
			out := ask("-" + string(c))
			kind := "none"
			switch {
			case strings.Contains(out, "invalid option"):
				continue
			case strings.Contains(out, "requires an argument"):
				kind = "required"
			case !strings.Contains(ask("-"+string(c)+"y"), "invalid option -- 'y'"):
				kind = "optional"
			}
			lines = append(lines, "-"+string(c)+" "+kind)
		}
		slices.Sort(lines)
		if err := os.WriteFile(golden, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (record it with: go test -run Oracle -update)", err)
	}
	kinds := map[string]string{"none": "none", "required": "required", "optional": "optional"}
	want := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		want[f[0]] = kinds[f[1]]
	}
	got := map[string]string{}
	kind := []string{argNone: "none", argRequired: "required", argOptional: "optional"}
	for _, o := range sbatchOptions {
		got[o.name] = kind[o.arg]
		if o.short != 0 {
			got["-"+string(o.short)] = kind[o.arg]
		}
	}
	for _, k := range sortedKeys(want, got) {
		if want[k] != got[k] {
			t.Errorf("option %s: sbatch says %q, the table %q", k, want[k], got[k])
		}
	}
}
