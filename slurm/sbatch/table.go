package sbatch

import "strings"

// argKind says whether an option takes an argument, as getopt_long's has_arg.
type argKind uint8

const (
	argNone     argKind = iota // no_argument
	argRequired                // required_argument
	argOptional                // optional_argument: only as --opt=value or -kvalue
)

// optDef is one entry of sbatch's option table.
type optDef struct {
	name  string  // long name
	arg   argKind // argument
	short byte    // short letter, 0 if none
	canon string  // the name sbatch reports the option under (aliases differ)
}

// sbatchOptions is the option table of sbatch 22.05.8 (Debian 12), as the
// binary itself reports it: every long option was found from getopt_long's
// "is ambiguous; possibilities:" answers to each prefix, and its argument
// kind from "requires an argument" / "doesn't allow an argument" (see
// TestOracleOptionTable, which re-derives it with -update). Options a
// site adds through SPANK plugins are not in it: Parse calls them unknown.
var sbatchOptions = []optDef{
	{name: "account", arg: argRequired, short: 'A'},
	{name: "acctg-freq", arg: argRequired},
	{name: "array", arg: argRequired, short: 'a'},
	{name: "batch", arg: argRequired},
	{name: "bb", arg: argRequired},
	{name: "bbf", arg: argRequired},
	{name: "begin", arg: argRequired, short: 'b'},
	{name: "chdir", arg: argRequired, short: 'D'},
	{name: "cluster", arg: argRequired},
	{name: "cluster-constraint", arg: argRequired},
	{name: "clusters", arg: argRequired, short: 'M'},
	{name: "comment", arg: argRequired},
	{name: "constraint", arg: argRequired, short: 'C'},
	{name: "container", arg: argRequired},
	{name: "context", arg: argRequired},
	{name: "contiguous", arg: argNone},
	{name: "core-spec", arg: argRequired, short: 'S'},
	{name: "cores-per-socket", arg: argRequired},
	{name: "cpu-freq", arg: argRequired},
	{name: "cpus-per-gpu", arg: argRequired},
	{name: "cpus-per-task", arg: argRequired, short: 'c'},
	{name: "deadline", arg: argRequired},
	{name: "delay-boot", arg: argRequired},
	{name: "dependency", arg: argRequired, short: 'd'},
	{name: "distribution", arg: argRequired, short: 'm'},
	{name: "error", arg: argRequired, short: 'e'},
	{name: "exclude", arg: argRequired, short: 'x'},
	{name: "exclusive", arg: argOptional},
	{name: "export", arg: argRequired},
	{name: "export-file", arg: argRequired},
	{name: "extra-node-info", arg: argRequired, short: 'B'},
	{name: "get-user-env", arg: argOptional},
	{name: "gid", arg: argRequired},
	{name: "gpu-bind", arg: argRequired},
	{name: "gpu-freq", arg: argRequired},
	{name: "gpus", arg: argRequired, short: 'G'},
	{name: "gpus-per-node", arg: argRequired},
	{name: "gpus-per-socket", arg: argRequired},
	{name: "gpus-per-task", arg: argRequired},
	{name: "gres", arg: argRequired},
	{name: "gres-flags", arg: argRequired},
	{name: "help", arg: argNone, short: 'h'},
	{name: "hint", arg: argRequired},
	{name: "hold", arg: argNone, short: 'H'},
	{name: "ignore-pbs", arg: argNone},
	{name: "input", arg: argRequired, short: 'i'},
	{name: "job-name", arg: argRequired, short: 'J'},
	{name: "kill-on-invalid-dep", arg: argRequired},
	{name: "licenses", arg: argRequired, short: 'L'},
	{name: "mail-type", arg: argRequired},
	{name: "mail-user", arg: argRequired},
	{name: "mcs-label", arg: argRequired},
	{name: "mem", arg: argRequired},
	{name: "mem-bind", arg: argRequired},
	{name: "mem-per-cpu", arg: argRequired},
	{name: "mem-per-gpu", arg: argRequired},
	{name: "mincpus", arg: argRequired},
	{name: "network", arg: argRequired},
	{name: "nice", arg: argOptional},
	{name: "no-kill", arg: argOptional, short: 'k'},
	{name: "no-requeue", arg: argNone},
	{name: "nodefile", arg: argRequired, short: 'F'},
	{name: "nodelist", arg: argRequired, short: 'w'},
	{name: "nodes", arg: argRequired, short: 'N'},
	{name: "ntasks", arg: argRequired, short: 'n'},
	{name: "ntasks-per-core", arg: argRequired},
	{name: "ntasks-per-gpu", arg: argRequired},
	{name: "ntasks-per-node", arg: argRequired},
	{name: "ntasks-per-socket", arg: argRequired},
	{name: "ntasks-per-tres", arg: argRequired},
	{name: "open-mode", arg: argRequired},
	{name: "output", arg: argRequired, short: 'o'},
	{name: "overcommit", arg: argNone, short: 'O'},
	{name: "oversubscribe", arg: argNone, short: 's'},
	{name: "parsable", arg: argNone},
	{name: "partition", arg: argRequired, short: 'p'},
	{name: "power", arg: argRequired},
	{name: "prefer", arg: argRequired},
	{name: "priority", arg: argRequired},
	{name: "profile", arg: argRequired},
	{name: "propagate", arg: argOptional},
	{name: "qos", arg: argRequired, short: 'q'},
	{name: "quiet", arg: argNone, short: 'Q'},
	{name: "reboot", arg: argNone},
	{name: "requeue", arg: argNone},
	{name: "reservation", arg: argRequired},
	{name: "signal", arg: argRequired},
	{name: "sockets-per-node", arg: argRequired},
	{name: "spread-job", arg: argNone},
	{name: "switches", arg: argRequired},
	{name: "tasks-per-node", arg: argRequired, canon: "ntasks-per-node"},
	{name: "test-only", arg: argNone},
	{name: "thread-spec", arg: argRequired},
	{name: "threads-per-core", arg: argRequired},
	{name: "time", arg: argRequired, short: 't'},
	{name: "time-min", arg: argRequired},
	{name: "tmp", arg: argRequired},
	{name: "uid", arg: argRequired},
	{name: "usage", arg: argNone},
	{name: "use-min-nodes", arg: argNone},
	{name: "verbose", arg: argNone, short: 'v'},
	{name: "version", arg: argNone, short: 'V'},
	{name: "wait", arg: argNone, short: 'W'},
	{name: "wait-all-nodes", arg: argRequired},
	{name: "wckey", arg: argRequired},
	{name: "wrap", arg: argRequired},
}

// longIndex and shortIndex find options by long name and short letter.
var longIndex, shortIndex = indexOptions()

func indexOptions() (map[string]*optDef, map[byte]*optDef) {
	longIndex, shortIndex := map[string]*optDef{}, map[byte]*optDef{}
	for i := range sbatchOptions {
		o := &sbatchOptions[i]
		if o.canon == "" {
			o.canon = o.name
		}
		longIndex[o.name] = o
		if o.short != 0 {
			shortIndex[o.short] = o
		}
	}
	return longIndex, shortIndex
}

// forbiddenOptions are the options the gateway never passes on, by canonical
// name (ARCHITECTURE.md, "Script rules").
var forbiddenOptions = map[string]string{
	"clusters": "the gateway chooses the cluster; -M/--clusters is refused",
	"cluster":  "the gateway chooses the cluster; -M/--clusters is refused",
	"uid":      "jobs run as the user's own login; --uid is refused",
	"gid":      "jobs run as the user's own login; --gid is refused",
}

// lookupLong resolves a long option name as glibc's getopt_long does: an
// exact match wins; otherwise the name may be a prefix of options that all
// mean the same thing (same option, same argument kind). It returns the
// option, or the list of candidates when the prefix is ambiguous (nil when
// nothing matches).
func lookupLong(name string) (*optDef, []string) {
	if o, ok := longIndex[name]; ok {
		return o, nil
	}
	var found *optDef
	var cands []string
	ambiguous := false
	for i := range sbatchOptions {
		o := &sbatchOptions[i]
		if !strings.HasPrefix(o.name, name) {
			continue
		}
		cands = append(cands, o.name)
		if found == nil {
			found = o
		} else if found.canon != o.canon || found.arg != o.arg {
			ambiguous = true
		}
	}
	if ambiguous {
		return nil, cands
	}
	return found, nil
}
