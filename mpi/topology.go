package mpi

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Kind says which Slurm topology plugin a Topology describes.
type Kind string

const (
	// KindTree is topology/tree: switches with nodes (leaves) or child
	// switches.
	KindTree Kind = "tree"
	// KindBlock is topology/block: base blocks of nodes, aggregated in
	// powers of two by BlockSizes. It is planned as a tree whose leaves are
	// the base blocks and whose upper levels are the aggregated blocks.
	KindBlock Kind = "block"
)

// SwitchSpec describes one switch for NewTopology: either a leaf (Nodes) or
// a switch of switches (Switches), never both.
type SwitchSpec struct {
	Name     string
	Switches []string // child switches
	Nodes    []string // nodes of a leaf switch
	// UplinkCapacity is the bandwidth from this switch to its parent, in
	// units of one node link; 0 means unknown, in which case the planner
	// assumes the switch's nodes divided by Request.Oversubscription.
	UplinkCapacity float64
	// Line is the line of the definition in its source file, for errors;
	// 0 when there is none.
	Line int
}

// Switch is a read-only view of one switch of a Topology.
type Switch struct {
	Name     string   `json:"name"`
	Level    int      `json:"level"` // 0 for leaves; a parent is one above its highest child
	Parent   string   `json:"parent,omitempty"`
	Switches []string `json:"switches,omitempty"`
	Nodes    []string `json:"nodes,omitempty"`
	Island   int      `json:"island"` // index of the island (disconnected fabric)
	// Derived is true for switches the parser made up rather than read:
	// the aggregated blocks of a block topology and the root joining them.
	Derived bool `json:"derived,omitempty"`
}

// Topology is an immutable fabric: switches in levels and the nodes on the
// leaves, grouped in islands (fabrics with no link between them; a plan
// never spans two). Build one with ParseTopologyConf, ParseIBNetDiscover or
// NewTopology. A Topology is safe for concurrent use.
type Topology struct {
	kind       Kind
	sw         []swRec
	nodes      []nodeRec
	nodeIdx    map[string]int32
	swIdx      map[string]int32
	roots      []int32 // one root switch per island
	post       []int32 // switches, children before parents
	dfsLeaves  []int32 // leaves in depth-first order
	maxLevel   int
	blockSizes []int // topology/block only, as written
	notes      []string
}

type swRec struct {
	name     string
	level    int
	depth    int // distance from the island's root
	parent   int32
	children []int32 // child switches
	nodes    []int32 // nodes of a leaf
	island   int
	uplink   float64
	derived  bool
	line     int
	size     int // nodes in the subtree
}

func (s *swRec) isLeaf() bool { return len(s.children) == 0 }

type nodeRec struct {
	name  string
	leaf  int32
	order int32 // position in depth-first order over the whole topology
}

// validName reports why a switch or node name cannot be used, or "".
func validName(kind, name string) string {
	if name == "" {
		return "empty " + kind + " name"
	}
	if strings.ContainsAny(name, " \t\r\n#=,[]\"") {
		return fmt.Sprintf("%s name %q contains a space, '#', '=', ',', a bracket or a quote", kind, name)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] == 0x7f {
			return fmt.Sprintf("%s name %q contains a control character", kind, name)
		}
	}
	return ""
}

// specError is an error about one switch definition.
func specError(s SwitchSpec, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if s.Line > 0 {
		return &ParseError{Format: "topology.conf", Line: s.Line, Msg: msg}
	}
	return fmt.Errorf("mpi: topology: %s", msg)
}

// NewTopology builds a tree topology from switch definitions. Every switch
// has nodes or child switches (not both); a switch has at most one parent;
// a node sits on exactly one leaf. Switches without a parent are the roots
// of islands, taken in the order given.
func NewTopology(specs []SwitchSpec) (*Topology, error) {
	return newTopology(KindTree, specs, nil)
}

func newTopology(kind Kind, specs []SwitchSpec, derived []bool) (*Topology, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("mpi: topology: no switches")
	}
	t := &Topology{
		kind:    kind,
		swIdx:   make(map[string]int32, len(specs)),
		nodeIdx: map[string]int32{},
	}
	t.sw = make([]swRec, len(specs))
	for i, s := range specs {
		isDerived := derived != nil && derived[i]
		if why := validName("switch", s.Name); why != "" && !isDerived {
			return nil, specError(s, "%s", why)
		}
		if j, dup := t.swIdx[s.Name]; dup {
			return nil, specError(s, "switch %s is defined twice (first%s)", s.Name, lineRef(specs[j].Line))
		}
		switch {
		case len(s.Nodes) > 0 && len(s.Switches) > 0:
			return nil, specError(s, "switch %s has both Nodes and Switches; Slurm allows one or the other", s.Name)
		case len(s.Nodes) == 0 && len(s.Switches) == 0:
			return nil, specError(s, "switch %s has neither Nodes nor Switches", s.Name)
		}
		if s.UplinkCapacity < 0 {
			return nil, specError(s, "switch %s: negative uplink capacity", s.Name)
		}
		t.swIdx[s.Name] = int32(i)
		t.sw[i] = swRec{name: s.Name, parent: -1, uplink: s.UplinkCapacity, line: s.Line}
		if derived != nil {
			t.sw[i].derived = derived[i]
		}
	}
	parentSpec := make([]int, len(specs))
	for i := range parentSpec {
		parentSpec[i] = -1
	}
	for i, s := range specs {
		for _, c := range s.Switches {
			j, ok := t.swIdx[c]
			if !ok {
				return nil, specError(s, "switch %s: child switch %s is not defined", s.Name, c)
			}
			if int(j) == i {
				return nil, specError(s, "switch %s lists itself as a child", s.Name)
			}
			if p := parentSpec[j]; p >= 0 {
				return nil, specError(s, "switch %s has two parents, %s%s and %s; a topology is a tree",
					c, specs[p].Name, lineRef(specs[p].Line), s.Name)
			}
			parentSpec[j] = i
			t.sw[j].parent = int32(i)
			t.sw[i].children = append(t.sw[i].children, j)
		}
		for _, n := range s.Nodes {
			if why := validName("node", n); why != "" {
				return nil, specError(s, "switch %s: %s", s.Name, why)
			}
			if k, dup := t.nodeIdx[n]; dup {
				other := t.nodes[k].leaf
				return nil, specError(s, "node %s is on two leaf switches, %s%s and %s; merge them into one leaf (rails of one host belong to one logical leaf)",
					n, t.sw[other].name, lineRef(t.sw[other].line), s.Name)
			}
			t.nodeIdx[n] = int32(len(t.nodes))
			t.nodes = append(t.nodes, nodeRec{name: n, leaf: int32(i)})
			t.sw[i].nodes = append(t.sw[i].nodes, int32(len(t.nodes)-1))
		}
	}
	for i := range t.sw {
		if t.sw[i].parent < 0 {
			t.roots = append(t.roots, int32(i))
		}
	}
	if len(t.roots) == 0 {
		return nil, specError(specs[0], "every switch has a parent: Switches= form a cycle through %s", specs[0].Name)
	}
	// Depth-first walk from each root: islands, depths, order; a switch
	// not reached sits on a cycle.
	seen := make([]bool, len(t.sw))
	var order int32
	var walk func(s int32, island, depth int)
	walk = func(s int32, island, depth int) {
		seen[s] = true
		r := &t.sw[s]
		r.island, r.depth = island, depth
		for _, c := range r.children {
			walk(c, island, depth+1)
		}
		if r.isLeaf() {
			t.dfsLeaves = append(t.dfsLeaves, s)
			for _, n := range r.nodes {
				t.nodes[n].order = order
				order++
			}
			r.level = 0
			r.size = len(r.nodes)
		} else {
			r.level, r.size = 0, 0
			for _, c := range r.children {
				r.level = max(r.level, t.sw[c].level+1)
				r.size += t.sw[c].size
			}
		}
		t.maxLevel = max(t.maxLevel, r.level)
		t.post = append(t.post, s)
	}
	for island, r := range t.roots {
		walk(r, island, 0)
	}
	for i, ok := range seen {
		if !ok {
			return nil, specError(specs[i], "switch %s is part of a cycle of Switches=", specs[i].Name)
		}
	}
	return t, nil
}

func lineRef(line int) string {
	if line > 0 {
		return fmt.Sprintf(" at line %d", line)
	}
	return ""
}

// Kind reports the Slurm topology plugin the topology was read for.
func (t *Topology) Kind() Kind { return t.kind }

// Islands returns the number of disconnected fabrics.
func (t *Topology) Islands() int { return len(t.roots) }

// Levels returns the number of switch levels (1 for leaves only).
func (t *Topology) Levels() int { return t.maxLevel + 1 }

// Notes returns remarks made while reading the topology: hosts left out of
// an InfiniBand fabric and why, leaves merged from rails, and the like.
func (t *Topology) Notes() []string { return slices.Clone(t.notes) }

// BlockSizes returns the BlockSizes of a block topology as written (nil if
// the file had none, or for a tree).
func (t *Topology) BlockSizes() []int { return slices.Clone(t.blockSizes) }

// HasNode reports whether the node is on a leaf of the topology.
func (t *Topology) HasNode(name string) bool {
	_, ok := t.nodeIdx[name]
	return ok
}

// LeafOf returns the leaf switch of a node.
func (t *Topology) LeafOf(node string) (string, bool) {
	i, ok := t.nodeIdx[node]
	if !ok {
		return "", false
	}
	return t.sw[t.nodes[i].leaf].name, true
}

// Nodes returns every node, in depth-first order of the fabric: islands in
// order, switches in the order of their parents' lists, nodes as listed.
func (t *Topology) Nodes() []string {
	out := make([]string, len(t.nodes))
	for _, n := range t.nodes {
		out[n.order] = n.name
	}
	return out
}

// Switches returns every switch in depth-first pre-order: islands in
// order, each switch before its children.
func (t *Topology) Switches() []Switch {
	out := make([]Switch, 0, len(t.sw))
	for _, r := range t.roots {
		for _, s := range t.islandSwitchesDFS(r) {
			out = append(out, t.switchView(s))
		}
	}
	return out
}

func (t *Topology) switchView(i int32) Switch {
	r := &t.sw[i]
	v := Switch{Name: r.name, Level: r.level, Island: r.island, Derived: r.derived}
	if r.parent >= 0 {
		v.Parent = t.sw[r.parent].name
	}
	for _, c := range r.children {
		v.Switches = append(v.Switches, t.sw[c].name)
	}
	for _, n := range r.nodes {
		v.Nodes = append(v.Nodes, t.nodes[n].name)
	}
	return v
}

// ancestorAt returns the ancestor of switch s at level lvl (s itself if its
// level is lvl), or -1 when the path from s to the root skips that level.
func (t *Topology) ancestorAt(s int32, lvl int) int32 {
	for s >= 0 {
		l := t.sw[s].level
		if l == lvl {
			return s
		}
		if l > lvl {
			return -1
		}
		s = t.sw[s].parent
	}
	return -1
}

// lca returns the lowest common switch of two switches of one island.
func (t *Topology) lca(a, b int32) int32 {
	for t.sw[a].depth > t.sw[b].depth {
		a = t.sw[a].parent
	}
	for t.sw[b].depth > t.sw[a].depth {
		b = t.sw[b].parent
	}
	for a != b {
		a, b = t.sw[a].parent, t.sw[b].parent
	}
	return a
}

// Sources lists the formats ParseTopology reads, for a --from flag.
var Sources = []string{"topology.conf", "ibnetdiscover"}

// ParseTopology reads a topology in one of Sources: "topology.conf" (the
// default when from is empty) or "ibnetdiscover" (either report, no
// options).
func ParseTopology(r io.Reader, from string) (*Topology, error) {
	switch from {
	case "", "topology.conf":
		return ParseTopologyConf(r)
	case "ibnetdiscover":
		return ParseIBNetDiscover(r)
	}
	return nil, fmt.Errorf("mpi: unknown topology source %q (want one of %v)", from, Sources)
}
