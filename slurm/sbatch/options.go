package sbatch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options is the model of the sbatch options a gateway request may carry:
// the value sbatch would use for each of them. The zero value has nothing
// set.
//
// Which options were given is tracked apart from the values (IsSet): a
// field holds a meaningful value only when its option is set. Change fields
// with Set, which parses and checks the value as sbatch does and marks the
// option set; assigning a field directly does not mark it.
//
// Each field's comment names the field of `scontrol show job` it becomes
// (see also ScontrolField), so that what the gateway parsed can be compared
// with what the site accepted. Paths are kept as written; sbatch makes them
// absolute against the working directory (see OutputPath).
type Options struct {
	JobName     string    // -J, --job-name: JobName
	Partition   string    // -p, --partition: Partition
	Account     string    // -A, --account: Account
	QOS         string    // -q, --qos: QOS
	Reservation string    // --reservation: Reservation
	Nodes       NodeRange // -N, --nodes: NumNodes

	NTasks        int // -n, --ntasks: NumTasks
	NTasksPerNode int // --ntasks-per-node (--tasks-per-node): NtasksPerN:B:S:C, first number
	CPUsPerTask   int // -c, --cpus-per-task: CPUs/Task
	CPUsPerGPU    int // --cpus-per-gpu: CpusPerTres=gres:gpu:N

	Mem       MiB // --mem: MinMemoryNode
	MemPerCPU MiB // --mem-per-cpu: MinMemoryCPU
	MemPerGPU MiB // --mem-per-gpu: MemPerTres=gres:gpu:N

	Gres        string // --gres: TresPerNode (sbatch prefixes each item with "gres:")
	GPUs        string // -G, --gpus: TresPerJob=gres:gpu:N
	GPUsPerNode string // --gpus-per-node: TresPerNode=gres:gpu:N
	GPUsPerTask string // --gpus-per-task: TresPerTask=gres:gpu:N

	Time    time.Duration // -t, --time: TimeLimit (Infinite when unlimited)
	TimeMin time.Duration // --time-min: TimeMin

	Output   string   // -o, --output: StdOut ("none" is /dev/null)
	Error    string   // -e, --error: StdErr ("none" is /dev/null)
	Chdir    string   // -D, --chdir: WorkDir
	OpenMode OpenMode // --open-mode (append, truncate)

	Comment    string   // --comment: Comment
	Constraint string   // -C, --constraint: Features
	Share      Share    // --exclusive[=user|mcs], -s/--oversubscribe: OverSubscribe
	NodeList   string   // -w, --nodelist: ReqNodeList
	Exclude    string   // -x, --exclude: ExcNodeList
	Switches   Switches // --switches: Switches, Wait-for-Switch
	Licenses   string   // -L, --licenses: Licenses

	Array      string   // -a, --array: ArrayTaskId (see ArrayTasks)
	Dependency string   // -d, --dependency: Dependency
	MailType   MailType // --mail-type: MailType (repeats add up)
	MailUser   string   // --mail-user: MailUser
	Export     string   // --export
	Requeue    bool     // --requeue (true), --no-requeue (false): Requeue=1/0

	set uint64 // bit i: fields[i] was given
}

// field is one option of the model: how to set it from an argument, how to
// write it back as an sbatch argument, and how to copy it.
type field struct {
	key   string   // the option's name in the model (and in Args)
	names []string // the sbatch long options that set it
	// set parses arg for the option name (one of names); has says whether
	// an argument was given (for options whose argument is optional).
	set  func(o *Options, name, arg string, has bool) error
	args func(o *Options) []string // the canonical sbatch arguments
	copy func(dst, src *Options)   // dst's value becomes src's
	// adds: a repeated option adds to the value (--mail-type)
	adds bool
	// safe checks what Args passes on beyond value hygiene: names
	// without spaces, hostlists, and so on. nil when hygiene suffices.
	safe func(o *Options) error
}

// fields is the model, in the order Args writes the options; fieldIndex
// maps every long option name of the model to its field.
var fields, fieldIndex = buildFields()

func buildFields() ([]field, map[string]int) {
	fields := []field{
		stringField("job-name", func(o *Options) *string { return &o.JobName }, nil),
		stringField("partition", func(o *Options) *string { return &o.Partition }, checkWord),
		stringField("account", func(o *Options) *string { return &o.Account }, checkWord),
		stringField("qos", func(o *Options) *string { return &o.QOS }, checkWord),
		stringField("reservation", func(o *Options) *string { return &o.Reservation }, checkWord),
		{
			key: "nodes",
			set: func(o *Options, _, arg string, _ bool) (err error) {
				o.Nodes, err = ParseNodes(arg)
				return err
			},
			args: func(o *Options) []string { return []string{"--nodes=" + o.Nodes.String()} },
			copy: func(d, s *Options) { d.Nodes = s.Nodes },
		},
		intField("ntasks", func(o *Options) *int { return &o.NTasks }),
		intField("ntasks-per-node", func(o *Options) *int { return &o.NTasksPerNode }, "tasks-per-node"),
		intField("cpus-per-task", func(o *Options) *int { return &o.CPUsPerTask }),
		intField("cpus-per-gpu", func(o *Options) *int { return &o.CPUsPerGPU }),
		memField("mem", func(o *Options) *MiB { return &o.Mem }),
		memField("mem-per-cpu", func(o *Options) *MiB { return &o.MemPerCPU }),
		memField("mem-per-gpu", func(o *Options) *MiB { return &o.MemPerGPU }),
		stringField("gres", func(o *Options) *string { return &o.Gres }, checkTres),
		stringField("gpus", func(o *Options) *string { return &o.GPUs }, checkTres),
		stringField("gpus-per-node", func(o *Options) *string { return &o.GPUsPerNode }, checkTres),
		stringField("gpus-per-task", func(o *Options) *string { return &o.GPUsPerTask }, checkTres),
		timeField("time", func(o *Options) *time.Duration { return &o.Time }),
		timeField("time-min", func(o *Options) *time.Duration { return &o.TimeMin }),
		stringField("output", func(o *Options) *string { return &o.Output }, nil),
		stringField("error", func(o *Options) *string { return &o.Error }, nil),
		stringField("chdir", func(o *Options) *string { return &o.Chdir }, nil),
		{
			key: "open-mode",
			set: func(o *Options, _, arg string, _ bool) error {
				switch {
				case arg != "" && (arg[0] == 'a' || arg[0] == 'A'):
					o.OpenMode = OpenAppend
				case arg != "" && (arg[0] == 't' || arg[0] == 'T'):
					o.OpenMode = OpenTruncate
				default:
					return errors.New("Invalid --open-mode specification")
				}
				return nil
			},
			args: func(o *Options) []string { return []string{"--open-mode=" + o.OpenMode.String()} },
			copy: func(d, s *Options) { d.OpenMode = s.OpenMode },
		},
		stringField("comment", func(o *Options) *string { return &o.Comment }, nil),
		stringField("constraint", func(o *Options) *string { return &o.Constraint }, nil),
		{
			key:   "exclusive",
			names: []string{"exclusive", "oversubscribe"},
			set: func(o *Options, name, arg string, has bool) error {
				switch {
				case name == "oversubscribe":
					o.Share = ShareOversubscribe
				case !has:
					o.Share = ShareExclusive
				case strings.EqualFold(arg, "user"):
					o.Share = ShareUser
				case strings.EqualFold(arg, "mcs"):
					o.Share = ShareMCS
				default:
					return errors.New("Invalid --exclusive specification")
				}
				return nil
			},
			args: func(o *Options) []string {
				switch o.Share {
				case ShareUser, ShareMCS:
					return []string{"--exclusive=" + o.Share.String()}
				case ShareOversubscribe:
					return []string{"--oversubscribe"}
				}
				return []string{"--exclusive"}
			},
			copy: func(d, s *Options) { d.Share = s.Share },
		},
		stringField("nodelist", func(o *Options) *string { return &o.NodeList }, checkHostlist),
		stringField("exclude", func(o *Options) *string { return &o.Exclude }, checkHostlist),
		{
			key: "switches",
			set: func(o *Options, _, arg string, _ bool) error {
				sw, hasWait, err := parseSwitches(arg)
				if err != nil {
					return err
				}
				// sbatch keeps the wait of an earlier --switches
				// when a later one gives only a count (a set
				// count is never 0)
				if !hasWait && o.Switches.Count != 0 {
					sw.Wait = o.Switches.Wait
				}
				o.Switches = sw
				return nil
			},
			// Always with the wait, so that the wait in the
			// script's header cannot survive.
			args: func(o *Options) []string {
				return []string{"--switches=" + strconv.Itoa(o.Switches.Count) + "@" + FormatTime(o.Switches.Wait)}
			},
			copy: func(d, s *Options) { d.Switches = s.Switches },
		},
		stringField("licenses", func(o *Options) *string { return &o.Licenses }, checkTres),
		stringField("array", func(o *Options) *string { return &o.Array }, func(v string) error {
			_, _, err := ArrayTasks(v)
			return err
		}),
		stringField("dependency", func(o *Options) *string { return &o.Dependency }, checkDependency),
		{
			key: "mail-type",
			set: func(o *Options, _, arg string, _ bool) error {
				m, err := ParseMailType(arg)
				o.MailType |= m
				return err
			},
			args: func(o *Options) []string { return []string{"--mail-type=" + o.MailType.String()} },
			copy: func(d, s *Options) { d.MailType = s.MailType },
			adds: true,
		},
		stringField("mail-user", func(o *Options) *string { return &o.MailUser }, checkWord),
		stringField("export", func(o *Options) *string { return &o.Export }, nil),
		{
			key:   "requeue",
			names: []string{"requeue", "no-requeue"},
			set: func(o *Options, name, _ string, _ bool) error {
				o.Requeue = name == "requeue"
				return nil
			},
			args: func(o *Options) []string {
				if o.Requeue {
					return []string{"--requeue"}
				}
				return []string{"--no-requeue"}
			},
			copy: func(d, s *Options) { d.Requeue = s.Requeue },
		},
	}
	if len(fields) > 64 {
		panic("sbatch: more than 64 fields in Options")
	}
	fieldIndex := map[string]int{}
	for i := range fields {
		f := &fields[i]
		if f.names == nil {
			f.names = []string{f.key}
		}
		for _, n := range f.names {
			if longIndex[n] == nil {
				panic("sbatch: model option " + n + " is not an sbatch option")
			}
			fieldIndex[n] = i
		}
	}
	return fields, fieldIndex
}

func stringField(key string, ptr func(*Options) *string, check func(string) error) field {
	return field{
		key: key,
		set: func(o *Options, _, arg string, _ bool) error {
			*ptr(o) = arg
			return nil
		},
		args: func(o *Options) []string { return []string{"--" + key + "=" + *ptr(o)} },
		copy: func(d, s *Options) { *ptr(d) = *ptr(s) },
		safe: func(o *Options) error {
			v := *ptr(o)
			if v == "" && key != "comment" {
				return errors.New("empty value")
			}
			if check == nil {
				return nil
			}
			return check(v)
		},
	}
}

func intField(key string, ptr func(*Options) *int, aliases ...string) field {
	return field{
		key:   key,
		names: append([]string{key}, aliases...),
		set: func(o *Options, _, arg string, _ bool) (err error) {
			*ptr(o), err = parsePositive(key, arg)
			return err
		},
		args: func(o *Options) []string { return []string{"--" + key + "=" + strconv.Itoa(*ptr(o))} },
		copy: func(d, s *Options) { *ptr(d) = *ptr(s) },
	}
}

func memField(key string, ptr func(*Options) *MiB) field {
	return field{
		key: key,
		set: func(o *Options, _, arg string, _ bool) (err error) {
			if *ptr(o), err = ParseMiB(arg); err != nil {
				return fmt.Errorf("Invalid --%s specification", key)
			}
			return nil
		},
		// Plain mebibytes: sbatch reads them back exactly.
		args: func(o *Options) []string { return []string{"--" + key + "=" + strconv.FormatUint(uint64(*ptr(o)), 10)} },
		copy: func(d, s *Options) { *ptr(d) = *ptr(s) },
	}
}

func timeField(key string, ptr func(*Options) *time.Duration) field {
	return field{
		key: key,
		set: func(o *Options, _, arg string, _ bool) error {
			d, err := ParseTime(arg)
			if err != nil {
				return fmt.Errorf("Invalid --%s specification", key)
			}
			if d == 0 {
				d = Infinite // sbatch: a zero limit is no limit
			}
			*ptr(o) = d
			return nil
		},
		args: func(o *Options) []string { return []string{"--" + key + "=" + FormatTime(*ptr(o))} },
		copy: func(d, s *Options) { *ptr(d) = *ptr(s) },
	}
}

// lookupField finds the model field of a long option name.
func lookupField(name string) (int, bool) {
	i, ok := fieldIndex[name]
	return i, ok
}

// Set sets an option of the model from its sbatch long name ("nodes",
// "tasks-per-node", "oversubscribe"; no abbreviations, no dashes) and its
// value as it would follow "--name=". The value is parsed and checked as
// sbatch does; a repeated option replaces the earlier value, except
// "mail-type", which adds to it. Options that take no argument
// (oversubscribe, requeue, no-requeue) take value ""; for "exclusive", ""
// means plain --exclusive.
//
// Set refuses -M/--clusters, --uid and --gid (ErrForbidden), sbatch options
// outside the model (ErrNotAllowed) and names sbatch does not know
// (ErrUnknownOption).
func (o *Options) Set(name, value string) error {
	i, ok := fieldIndex[name]
	if !ok {
		return optionError(0, "--"+name, name)
	}
	if longIndex[name].arg == argNone && value != "" {
		return &Error{Option: "--" + name, Msg: fmt.Sprintf("option '--%s' doesn't allow an argument", name), Err: ErrSyntax}
	}
	c := *o // a failed Set changes nothing
	if err := fields[i].set(&c, name, value, value != ""); err != nil {
		return &Error{Option: "--" + name, Msg: err.Error(), Err: ErrInvalidValue}
	}
	c.set |= 1 << i
	*o = c
	return nil
}

// optionError explains why the option called name (written as flag) is not
// in the model.
func optionError(line int, flag, name string) *Error {
	def := longIndex[name]
	switch {
	case def == nil:
		return errorf(line, flag, ErrUnknownOption, fmt.Sprintf("unrecognized option %q", flag))
	case forbiddenOptions[def.canon] != "":
		return errorf(line, flag, ErrForbidden, forbiddenOptions[def.canon])
	}
	return errorf(line, flag, ErrNotAllowed, fmt.Sprintf("sbatch option --%s is not accepted by the gateway", def.name))
}

// IsSet reports whether the option called name (any long name of the model,
// such as "nodes", "tasks-per-node" or "oversubscribe") was given.
func (o Options) IsSet(name string) bool {
	i, ok := fieldIndex[name]
	return ok && o.set&(1<<i) != 0
}

// Unset forgets the option called name and zeroes its field.
func (o *Options) Unset(name string) {
	i, ok := fieldIndex[name]
	if !ok {
		return
	}
	var zero Options
	o.set &^= 1 << i
	fields[i].copy(o, &zero)
}

// Names lists the options that are set, by the name Args writes them under,
// in the order Args writes them.
func (o Options) Names() []string {
	var names []string
	for i, f := range fields {
		if o.set&(1<<i) != 0 {
			names = append(names, f.key)
		}
	}
	return names
}

// OptionNames lists every option of the model (the names Names and
// Policy.Allowed use), in the order Args writes them.
func OptionNames() []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.key
	}
	return names
}

// Merge returns the options sbatch uses when it reads a script with the
// options base in its header and is run with over.Args() on its command
// line: what over sets replaces what base says, except mail types, which
// add up. (A raw "--switches=N" without a wait on sbatch's command line
// would keep the header's wait; Args always writes the wait.)
func Merge(base, over Options) Options {
	r := base
	for i, f := range fields {
		if over.set&(1<<i) == 0 {
			continue
		}
		if f.adds {
			r.MailType |= over.MailType
		} else {
			f.copy(&r, &over)
		}
		r.set |= 1 << i
	}
	return r
}

// Validate checks what sbatch checks across options once all are read:
// --mem, --mem-per-cpu and --mem-per-gpu exclude each other. (sbatch also
// raises the node count to the number of hosts in --nodelist and fails when
// that exceeds the maximum; that needs a hostlist parser and is left to the
// caller.)
func (o Options) Validate() error {
	n := 0
	for _, k := range []string{"mem", "mem-per-cpu", "mem-per-gpu"} {
		if o.IsSet(k) {
			n++
		}
	}
	if n > 1 {
		return &Error{Option: "--mem", Msg: "--mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive.", Err: ErrInvalidValue}
	}
	return nil
}

// Effective returns the options with the adjustments sbatch makes once it
// has read all of them, before it sends the job: with both --nodes and
// --ntasks given, the node count is capped at the task count ("-N 3 -n 2"
// asks for 2 nodes, as sbatch warns: "can't run 2 processes on 3 nodes,
// setting nnodes to 2"). Keep the options as read for Merge and Args (sbatch
// adjusts again after merging) and use Effective for what the site will be
// asked for. sbatch also raises the minimum node count to the number of
// hosts in --nodelist; that needs a hostlist parser and is left to the
// caller.
func (o Options) Effective() Options {
	if o.IsSet("nodes") && o.IsSet("ntasks") {
		n := o.NTasks
		if n < o.Nodes.Max {
			o.Nodes.Max = n
		}
		if n < o.Nodes.Min {
			o.Nodes = NodeRange{Min: n, Max: n}
		}
	}
	return o
}

// ScontrolField maps each option of the model to the field of
// `scontrol show job` that shows its effect, for comparing what the gateway
// parsed with what the site accepted. Slurm may adjust some of them when it
// schedules (NumNodes, NumTasks, NumCPUs), and prints some in its own form
// (StdOut and WorkDir absolute, TresPerNode with "gres:" prefixes).
var ScontrolField = map[string]string{
	"job-name":        "JobName",
	"partition":       "Partition",
	"account":         "Account",
	"qos":             "QOS",
	"reservation":     "Reservation",
	"nodes":           "NumNodes",
	"ntasks":          "NumTasks",
	"ntasks-per-node": "NtasksPerN:B:S:C",
	"cpus-per-task":   "CPUs/Task",
	"cpus-per-gpu":    "CpusPerTres",
	"mem":             "MinMemoryNode",
	"mem-per-cpu":     "MinMemoryCPU",
	"mem-per-gpu":     "MemPerTres",
	"gres":            "TresPerNode",
	"gpus":            "TresPerJob",
	"gpus-per-node":   "TresPerNode",
	"gpus-per-task":   "TresPerTask",
	"time":            "TimeLimit",
	"time-min":        "TimeMin",
	"output":          "StdOut",
	"error":           "StdErr",
	"chdir":           "WorkDir",
	"comment":         "Comment",
	"constraint":      "Features",
	"exclusive":       "OverSubscribe",
	"nodelist":        "ReqNodeList",
	"exclude":         "ExcNodeList",
	"switches":        "Switches",
	"licenses":        "Licenses",
	"array":           "ArrayTaskId",
	"dependency":      "Dependency",
	"mail-type":       "MailType",
	"mail-user":       "MailUser",
	"requeue":         "Requeue",
}

// OutputPath returns the file the job's standard output goes to, as sbatch
// computes it and scontrol shows it (StdOut): --output made absolute against
// workdir (the --chdir directory, else the directory sbatch runs in), the
// default "slurm-%j.out" ("slurm-%A_%a.out" for an array) when unset, and
// "/dev/null" for "none". Filename patterns (%j, %x, ...) are left as they
// are.
func (o Options) OutputPath(workdir string) string {
	name := o.Output
	if !o.IsSet("output") {
		name = "slurm-%j.out"
		if o.IsSet("array") {
			name = "slurm-%A_%a.out"
		}
	}
	return ioPath(name, o.WorkDir(workdir))
}

// ErrorPath is OutputPath for standard error: StdErr, which is the output
// file when --error is not given.
func (o Options) ErrorPath(workdir string) string {
	if !o.IsSet("error") {
		return o.OutputPath(workdir)
	}
	return ioPath(o.Error, o.WorkDir(workdir))
}

// WorkDir returns the job's working directory (scontrol WorkDir): --chdir
// made absolute against cwd, else cwd.
func (o Options) WorkDir(cwd string) string {
	if !o.IsSet("chdir") {
		return cwd
	}
	return absPath(o.Chdir, cwd)
}

// ioPath is absPath for --output and --error, where "none" (any case) is
// /dev/null.
func ioPath(name, dir string) string {
	if strings.EqualFold(name, "none") {
		return "/dev/null"
	}
	return absPath(name, dir)
}

// absPath makes name absolute against dir as sbatch does (dir + "/" +
// name, even when dir ends with '/').
func absPath(name, dir string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return dir + "/" + name
}
