package gateway

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/sta-federation/sta-gateway/mpi"
	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

// The topology preamble. A job with placement = topology does not know its nodes
// until it starts (Slurm chooses them within the --switches leaf count), so the
// gateway adds a few lines of POSIX shell after the script's #SBATCH header (where
// sbatch stops reading directives, so no directive changes meaning). At start
// they write, in a private folder of their own (mktemp -d) under $TMPDIR (else
// /tmp) on the batch host:
//
//	hostfile   one line per task, nodes leaf by leaf in the fabric's depth-first
//	           order, each node's tasks contiguous (SLURM_TASKS_PER_NODE)
//	rankfile   the same order as an Open MPI rankfile ("rank N=host slot=S")
//
// and export SLURM_HOSTFILE, STA_HOSTFILE and STA_RANKFILE; an EXIT trap
// removes the folder when the batch script ends (a script that sets its own
// EXIT trap replaces it, and the folder stays until the node's /tmp is
// cleaned). The preamble's shell variables start with sta_. `srun
// --distribution=arbitrary` (or `mpirun --rankfile "$STA_RANKFILE"`) then
// places ranks in that order. The leaves are embedded as Slurm hostlists in a
// quoted here-document and expanded with `scontrol show hostnames`; nothing in
// the preamble comes from the user. If anything fails, it warns on stderr,
// leaves SLURM_HOSTFILE unset and the script runs as written.

const preambleBegin = "# >>> sta-gateway topology preamble (placement = topology) >>>"
const preambleEnd = "# <<< sta-gateway topology preamble <<<"

// posixShells are the interpreters the preamble's shell runs under.
var posixShells = map[string]bool{"sh": true, "bash": true, "dash": true, "ksh": true, "ash": true}

// preambleShellOK reports whether a script's shebang runs a POSIX shell.
func preambleShellOK(shebang string) error {
	f := strings.Fields(strings.TrimPrefix(shebang, "#!"))
	if !strings.HasPrefix(shebang, "#!") || len(f) == 0 {
		return fmt.Errorf("placement topology needs a shell script (#!/bin/bash or #!/bin/sh first): the gateway adds a shell preamble")
	}
	interp := path.Base(f[0])
	if interp == "env" {
		interp = ""
		for _, a := range f[1:] {
			if !strings.HasPrefix(a, "-") {
				interp = path.Base(a)
				break
			}
		}
	}
	if !posixShells[interp] {
		return fmt.Errorf("placement topology needs a POSIX shell script, not %q: the gateway adds a shell preamble", shebang)
	}
	return nil
}

// hostlistRE is what the preamble accepts of a leaf's hostlist: it sits in a
// quoted here-document and is passed as one quoted word, but a line break or a
// here-document's end marker must never be in it.
var hostlistRE = regexp.MustCompile(`^[A-Za-z0-9._\[\],-]+$`)

// topologyPreamble writes the preamble for a fabric, restricted to the leaves
// holding nodes of the partition (inPart).
func topologyPreamble(t *mpi.Topology, inPart func(string) bool) (string, error) {
	var leaves []string
	for _, sw := range t.Switches() {
		if sw.Level != 0 || len(sw.Nodes) == 0 {
			continue
		}
		var mine []string
		for _, n := range sw.Nodes {
			if inPart(n) {
				mine = append(mine, n)
			}
		}
		if len(mine) == 0 {
			continue
		}
		// Keep the leaf's own node order: compress each run of names that
		// hostlist keeps in order, else list them one by one.
		expr, err := hostlist.Compress(mine)
		if back, xerr := hostlist.Expand(expr); err != nil || xerr != nil || strings.Join(back, ",") != strings.Join(mine, ",") {
			expr = strings.Join(mine, ",")
		}
		if !hostlistRE.MatchString(expr) {
			return "", fmt.Errorf("leaf switch %s: node names %q cannot go into the preamble", sw.Name, expr)
		}
		leaves = append(leaves, expr)
	}
	if len(leaves) == 0 {
		return "", fmt.Errorf("no leaf switch holds a node of the partition")
	}
	var b strings.Builder
	b.WriteString(preambleBegin + "\n")
	b.WriteString(`# Writes $STA_HOSTFILE (= $SLURM_HOSTFILE) and $STA_RANKFILE: this job's nodes
# leaf switch by leaf switch, each node's tasks contiguous. Use them with
# srun --distribution=arbitrary, or mpirun --rankfile "$STA_RANKFILE".
sta_topology() {
	[ -n "${SLURM_JOB_ID:-}" ] && [ -n "${SLURM_JOB_NODELIST:-}" ] || return 1
	sta_d=$(mktemp -d "${TMPDIR:-/tmp}/sta-gateway.$SLURM_JOB_ID.XXXXXX") || return 1
	trap 'rm -rf -- "$sta_d"' EXIT
	scontrol show hostnames "$SLURM_JOB_NODELIST" >"$sta_d/nodes" || return 1
	: >"$sta_d/counts"
	sta_ifs=$IFS; IFS=,
	for sta_c in ${SLURM_TASKS_PER_NODE:-1}; do
		case $sta_c in
		*"(x"*")") sta_n=${sta_c%%"("*}; sta_r=${sta_c#*"(x"}; sta_r=${sta_r%")"} ;;
		*) sta_n=$sta_c; sta_r=1 ;;
		esac
		while [ "$sta_r" -gt 0 ]; do echo "$sta_n" >>"$sta_d/counts"; sta_r=$((sta_r - 1)); done
	done
	IFS=$sta_ifs
	while read -r sta_hl; do
		scontrol show hostnames "$sta_hl" || return 1
	done >"$sta_d/fabric" <<'STA_GATEWAY_LEAVES'
`)
	for _, l := range leaves {
		b.WriteString(l + "\n")
	}
	b.WriteString(`STA_GATEWAY_LEAVES
	awk -v cpt="${SLURM_CPUS_PER_TASK:-1}" -v hf="$sta_d/hostfile" -v rf="$sta_d/rankfile" '
		function emit(h,   k, s) {
			for (k = 0; k < cnt[h]; k++) {
				print h >hf
				s = k * cpt; if (cpt > 1) s = s "-" (k * cpt + cpt - 1)
				printf "rank %d=%s slot=%s\n", r++, h, s >rf
			}
			done[h] = 1
		}
		FILENAME == ARGV[1] { node[++n] = $1; next }
		FILENAME == ARGV[2] { cnt[node[FNR]] = $1; next }
		($1 in cnt) && !($1 in done) { emit($1) }
		END { for (i = 1; i <= n; i++) if (!(node[i] in done)) emit(node[i]) }
	' "$sta_d/nodes" "$sta_d/counts" "$sta_d/fabric" || return 1
	[ -s "$sta_d/hostfile" ] || return 1
	SLURM_HOSTFILE=$sta_d/hostfile STA_HOSTFILE=$sta_d/hostfile STA_RANKFILE=$sta_d/rankfile
	export SLURM_HOSTFILE STA_HOSTFILE STA_RANKFILE
}
sta_topology || { echo "sta-gateway: topology preamble failed; ranks keep Slurm's order" >&2; unset SLURM_HOSTFILE; }
unset -f sta_topology 2>/dev/null
`)
	b.WriteString(preambleEnd + "\n")
	return b.String(), nil
}

// insertPreamble puts the preamble before line headerEnd (1-based; the first
// command, where sbatch stops reading directives), or at the end of a script
// without commands.
func insertPreamble(script string, headerEnd int, preamble string) string {
	lines := strings.SplitAfter(script, "\n")
	if headerEnd <= 0 || headerEnd > len(lines) {
		if !strings.HasSuffix(script, "\n") {
			script += "\n"
		}
		return script + preamble
	}
	var b strings.Builder
	for i, l := range lines {
		if i == headerEnd-1 {
			b.WriteString(preamble)
		}
		b.WriteString(l)
	}
	return b.String()
}
