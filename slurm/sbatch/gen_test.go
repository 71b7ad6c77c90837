package sbatch

import (
	"math/rand/v2"
	"strings"
)

// genValues are values for the options of the model, valid and invalid, in
// the range where sbatch and this package agree (no 32-bit overflow, no
// negative days, no unreadable --switches wait, no host lists that would
// change the node count).
var genValues = map[string][]string{
	"job-name":        {"train", "my job", "a#b", "x'y", `q"z`, "ünïcode", "%x_%j", "", "-N", "hetjob", "--time=5"},
	"partition":       {"debug", "gpu", "a,b", "long"},
	"account":         {"proj1", "climate-ca"},
	"qos":             {"high", "normal"},
	"reservation":     {"r1"},
	"nodes":           {"1", "2", "2-4", "0", "-4", "1k", "2-", "4-2", "x", "3-0", " 3", "+3", "1,2", "0-5", "3 ", "2:4"},
	"ntasks":          {"1", "4", "16", "0", "-1", "4x", "04", "+4", " 4", "2k"},
	"ntasks-per-node": {"1", "2", "0", "2x"},
	"tasks-per-node":  {"3", "1"},
	"cpus-per-task":   {"1", "4", "42", "0", "-2", "4x", "1k"},
	"cpus-per-gpu":    {"2", "0"},
	"mem":             {"4G", "4096", "512K", "1025K", "0", "4GB", "4Kb", "1.5G", "4X", "", "+5", "1T", "-0", "4MiB", "4Tb", "-5", "k", " 5", "5 "},
	"mem-per-cpu":     {"2G", "1000", "1.5G"},
	"mem-per-gpu":     {"8G", "x"},
	"gres":            {"gpu:1", "gpu:a100:2,nvme:1", "none"},
	"gpus":            {"2", "a100:2"},
	"gpus-per-node":   {"1"},
	"gpus-per-task":   {"1"},
	"time":            {"30", "0", "0:30", "1:30", "1:30:00", "1-0", "2-12", "2-12:30", "1-00:00:00", "INFINITE", "unlimited", "-1", "1:2:3:4", "abc", "1.5", "1-", "1:60", "1:99:99", "25:00:00", "0-0", "1-2-3", "5:", "1::2", "007", "5m", "1-24"},
	"time-min":        {"5", "0", "UNLIMITED", "x"},
	"output":          {"out_%j.log", "logs/%x-%A_%a.out", "/abs/out.log", "none", "NONE", "with space.log", ""},
	"error":           {"err_%j.log", "/abs/err", "None"},
	"chdir":           {"/tmp", "rel/dir", "none", ""},
	"open-mode":       {"append", "truncate", "a", "T", "x"},
	"comment":         {"hello world", "tag:abc", "", "#not a comment"},
	"constraint":      {"a&b", "[x|y]", "ib"},
	"nodelist":        {"n1", "gpu-07"},
	"exclude":         {"n2", "n[3-4]"},
	"switches":        {"2", "3@1:00:00", "2@0", "2@INFINITE", "0", "x", "@5", "1@1-0"},
	"licenses":        {"matlab:2"},
	"array":           {"0-9", "1,3,5-7:2%4", "0-15%2", "x"},
	"dependency":      {"afterok:12", "singleton", "afterany:1:2?afterok:3"},
	"mail-type":       {"BEGIN", "END", "ALL", "NONE", "BEGIN,END", "begin,foo", "FOO", "TIME_LIMIT_80,ARRAY_TASKS", "", "NONE,BEGIN", "fail,,requeue"},
	"mail-user":       {"a@b.c"},
	"export":          {"NONE", "ALL", "ALL,FOO=bar"},
	"exclusive":       {"user", "mcs", "USER", "topo"},
}

// genOther are options outside the model that sbatch reads without
// surprises (no files read, no cross-option checks that change what it
// prints).
var genOther = []string{
	"--hold", "-H", "--overcommit", "-O", "--contiguous", "--spread-job", "--reboot", "--use-min-nodes",
	"--parsable", "--wckey=w1", "--priority=5", "--nice=5", "--nice", "--begin=now", "-b now", "--signal=USR1@60",
	"--mincpus=2", "--tmp=10", "--kill-on-invalid-dep=yes", "--gres-flags=enforce-binding", "--distribution=block",
	"-m cyclic", "--acctg-freq=30", "--profile=none", "--uid=0", "--gid=0", "-M other", "--clusters=other",
	"--cluster=other", "--delay-boot=5", "--wait-all-nodes=1", "-k", "--no-kill", "--propagate", "--input=in.txt",
}

// genShort are the short letters of long options.
var genShort = map[string]byte{}

func init() {
	for _, o := range sbatchOptions {
		if o.short != 0 {
			genShort[o.name] = o.short
		}
	}
}

// genQuote writes a value so that sbatch's tokenizer reads it back (if
// the chosen style can: a backslash cannot escape whitespace, and an empty
// word ends the line; those cases are kept, as tests of the quirks).
func genQuote(r *rand.Rand, v string) string {
	special := strings.ContainsAny(v, " \t\"'\\#") || strings.HasPrefix(v, ":")
	switch r.IntN(5) {
	case 0, 1:
		if !special {
			return v
		}
		fallthrough
	case 2:
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
	case 3:
		return `'` + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + `'`
	default:
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if strings.IndexByte("\"'\\#:", v[i]) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
}

// genAbbrev shortens a long option name to a random prefix (which may be
// ambiguous: sbatch must then refuse it, and so must Parse).
func genAbbrev(r *rand.Rand, name string) string {
	if r.IntN(8) != 0 {
		return name
	}
	return name[:1+r.IntN(len(name))]
}

// genOption writes one option of the model with a value from genValues.
func genOption(r *rand.Rand, name string, used map[string]bool) string {
	used[name] = true
	switch name {
	case "oversubscribe":
		if r.IntN(2) == 0 {
			return "-s"
		}
		return "--" + genAbbrev(r, name)
	case "requeue", "no-requeue":
		return "--" + genAbbrev(r, name)
	case "exclusive":
		if r.IntN(2) == 0 {
			return "--" + genAbbrev(r, name)
		}
	}
	vals := genValues[name]
	v := vals[r.IntN(len(vals))]
	if short, ok := genShort[name]; ok && r.IntN(2) == 0 {
		if r.IntN(2) == 0 && v != "" && !strings.ContainsAny(v[:1], " \t") {
			return "-" + string(short) + genQuote(r, v)
		}
		return "-" + string(short) + sep(r) + genQuote(r, v)
	}
	flag := "--" + genAbbrev(r, name)
	if name == "exclusive" || r.IntN(2) == 0 {
		return flag + "=" + genQuote(r, v)
	}
	return flag + sep(r) + genQuote(r, v)
}

// sep is whitespace between words: mostly a space.
func sep(r *rand.Rand) string {
	return []string{" ", " ", " ", "  ", "\t", " \t ", "\v", "\f", " \r "}[r.IntN(9)]
}

var genModel = func() []string {
	var names []string
	for n := range genValues {
		names = append(names, n)
	}
	names = append(names, "oversubscribe", "requeue", "no-requeue")
	// map order is random; sort for a reproducible corpus
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if names[j] < names[i] {
				names[i], names[j] = names[j], names[i]
			}
		}
	}
	return names
}()

// genScript writes a random batch script.
func genScript(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString([]string{"#!/bin/bash\n", "#!/bin/sh\n", "#!/usr/bin/env bash\n", "#!\n"}[r.IntN(4)])
	used := map[string]bool{}
	lines := 1 + r.IntN(8)
	for i := 0; i < lines; i++ {
		switch k := r.IntN(20); {
		case k == 0:
			b.WriteString("\n")
		case k == 1:
			b.WriteString([]string{"# a comment\n", "##SBATCH --bogus\n", "# SBATCH --bogus\n", "#SBATCh --bogus\n", " #SBATCH --bogus\n", "\t# indented comment\n", "   \n"}[r.IntN(7)])
		case k == 2 && i > 0:
			b.WriteString([]string{"module load x\n", "echo hi\n", "  srun hostname\n"}[r.IntN(3)])
			b.WriteString("#SBATCH --time=7\n") // after the header: ignored
		default:
			prefix := []string{"#SBATCH ", "#SBATCH ", "#SBATCH ", "#SBATCH\t", "#SBATCH", "#SLURM "}[r.IntN(6)]
			b.WriteString(prefix)
			words := 1 + r.IntN(3)
			for w := 0; w < words; w++ {
				if w > 0 {
					b.WriteString(sep(r))
				}
				switch k := r.IntN(40); {
				case k < 4:
					b.WriteString(genOther[r.IntN(len(genOther))])
				case k == 4:
					b.WriteString([]string{"--bogus", "-y", "stray", "--", "-", "--time", "-J", ":x", `"unterminated`, "--ti=5", "--nod=2", "--exclusive user"}[r.IntN(12)])
				case k == 5 && r.IntN(4) == 0:
					b.WriteString([]string{"hetjob", "HetJob", "packjob", "hetjobs"}[r.IntN(4)])
				default:
					name := genModel[r.IntN(len(genModel))]
					// keep away from what needs a hostlist parser
					if name == "nodelist" && used["nodes"] || name == "nodes" && used["nodelist"] {
						name = "comment"
					}
					b.WriteString(genOption(r, name, used))
				}
			}
			if r.IntN(6) == 0 {
				b.WriteString([]string{" # trailing comment", "#glued", " #SBATCH -N 99"}[r.IntN(3)])
			}
			b.WriteString("\n")
		}
	}
	if r.IntN(3) != 0 {
		b.WriteString("srun ./a.out\n")
	}
	if r.IntN(30) == 0 {
		b.WriteString("#PBS -N pbsname\n")
	}
	s := b.String()
	if r.IntN(40) == 0 {
		s = strings.Replace(s, "\n", "\r\n", 1+r.IntN(3))
	}
	return s
}

// genArgs writes random sbatch command-line options of the model, mostly
// valid, as separate arguments.
func genArgs(r *rand.Rand) []string {
	var args []string
	used := map[string]bool{}
	for n := r.IntN(4); n >= 0; n-- {
		name := genModel[r.IntN(len(genModel))]
		if name == "nodelist" || name == "exclude" {
			name = "job-name"
		}
		vals := genValues[name]
		v := ""
		if len(vals) > 0 {
			v = vals[r.IntN(len(vals))]
			if r.IntN(3) != 0 {
				v = vals[r.IntN(min(3, len(vals)))] // the first values are valid
			}
		}
		used[name] = true
		switch {
		case name == "oversubscribe" || name == "requeue" || name == "no-requeue" || name == "exclusive" && r.IntN(2) == 0:
			args = append(args, "--"+name)
		case genShort[name] != 0 && r.IntN(2) == 0:
			if r.IntN(2) == 0 && v != "" {
				args = append(args, "-"+string(genShort[name])+v)
			} else {
				args = append(args, "-"+string(genShort[name]), v)
			}
		case r.IntN(2) == 0 && name != "exclusive":
			args = append(args, "--"+name, v)
		default:
			args = append(args, "--"+name+"="+v)
		}
	}
	return args
}
