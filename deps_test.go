package stagateway

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sta-federation/sta-gateway"

// depRule says which packages of this project a package (and everything it
// links) may depend on, and which outside modules it must never link.
type depRule struct {
	pkg       string   // path relative to the module, "" for the root
	prefix    bool     // the rule also covers sub-packages
	allowed   []string // project packages it may depend on (transitively)
	forbidden []string // import paths (or prefixes) it must never link
	stdOnly   bool     // only the standard library may be linked
}

// rules are the dependency rules of ARCHITECTURE.md ("The house").
var rules = []depRule{
	{pkg: "slurm/hostlist"},
	{pkg: "slurm/sbatch"},
	{pkg: "mpi", allowed: []string{"slurm/hostlist"}},
	{pkg: "accounting"},
	{pkg: "slurm", allowed: []string{"slurm/hostlist", "slurm/sbatch"}},
	{pkg: "gateway/api", stdOnly: true},
	{pkg: "gateway/client", allowed: []string{"gateway/api"}},
	{
		pkg:    "cmd/stacli",
		prefix: true, // its internal packages too
		allowed: []string{"gateway/api", "gateway/client", "mpi", "slurm/hostlist", "slurm/sbatch",
			"cmd/stacli/..."},
		forbidden: []string{"github.com/mattn/go-sqlite3", "golang.org/x/crypto/ssh"},
	},
}

// TestDependencyRules checks, with `go list -deps`, that no package links
// what ARCHITECTURE.md forbids it.
func TestDependencyRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	deps := map[string][]string{}
	std := stdPackages(t)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		deps[f[0]] = f[1:]
	}
	if len(deps) == 0 {
		t.Fatal("go list printed no packages")
	}
	checked := 0
	for _, r := range rules {
		for pkg, pd := range deps {
			rel, ok := relPath(pkg)
			if !ok || !(rel == r.pkg || (r.prefix && strings.HasPrefix(rel, r.pkg+"/"))) {
				continue
			}
			checked++
			for _, d := range pd {
				if drel, own := relPath(d); own {
					if !allowedDep(r.allowed, drel) {
						t.Errorf("%s depends on %s; ARCHITECTURE.md allows only %v", rel, drel, r.allowed)
					}
					continue
				}
				if r.stdOnly && !std[d] {
					t.Errorf("%s links %s; it may import only the standard library", rel, d)
				}
				for _, f := range r.forbidden {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s links %s, which it must never link", rel, d)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package matched any rule: the rules are stale")
	}
}

// allowedDep says whether a project package is in an allowed list, where
// "dir/..." stands for the sub-packages of dir.
func allowedDep(allowed []string, rel string) bool {
	for _, a := range allowed {
		if dir, ok := strings.CutSuffix(a, "/..."); ok && strings.HasPrefix(rel, dir+"/") || a == rel {
			return true
		}
	}
	return false
}

func relPath(p string) (string, bool) {
	if p == module {
		return "", true
	}
	if rel, ok := strings.CutPrefix(p, module+"/"); ok {
		return rel, true
	}
	return "", false
}

func stdPackages(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "std").Output()
	if err != nil {
		t.Fatalf("go list std: %v", err)
	}
	m := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		m[l] = true
	}
	return m
}
