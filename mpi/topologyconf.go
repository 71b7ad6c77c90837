package mpi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"

	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

const confFormat = "topology.conf"

// maxLine bounds one (joined) line of a topology.conf or ibnetdiscover file.
const maxLine = 1 << 20

// ParseTopologyConf reads a Slurm topology.conf: topology/tree lines
// (SwitchName= with Nodes= or Switches=, LinkSpeed= accepted and ignored)
// or topology/block lines (BlockName= with Nodes=, and BlockSizes=). Keys
// are case-insensitive, "#" starts a comment, a line ending in "\"
// continues on the next one, names are Slurm hostlist expressions. Errors
// are *ParseError values with the line number.
func ParseTopologyConf(r io.Reader) (*Topology, error) {
	p := confParser{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	var joined strings.Builder
	lineNo, start := 0, 0
	for sc.Scan() {
		lineNo++
		text := stripComment(sc.Text())
		if joined.Len() == 0 {
			start = lineNo
		}
		if t := strings.TrimRight(text, " \t\r\v\f"); strings.HasSuffix(t, "\\") {
			joined.WriteString(strings.TrimSuffix(t, "\\"))
			joined.WriteByte(' ')
			continue
		}
		joined.WriteString(text)
		line := joined.String()
		joined.Reset()
		if err := p.line(start, line); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{Format: confFormat, Line: lineNo + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("%s: reading: %w", confFormat, err)
	}
	if joined.Len() > 0 {
		if err := p.line(start, joined.String()); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

// stripComment removes a "#" comment (outside double quotes).
func stripComment(s string) string {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '#':
			if !inQuote {
				return s[:i]
			}
		}
	}
	return s
}

type confParser struct {
	names         int // hosts expanded so far, across lines: at most hostlist.DefaultMaxHosts
	switches      []SwitchSpec
	blocks        []SwitchSpec
	blockSizes    []int
	blockSizeLine int
	firstTree     int
	firstBlock    int
}

type kv struct {
	key, value string
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

// fields splits a line into key=value pairs; values may be double-quoted.
func fields(line string) ([]kv, string) {
	var out []kv
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) {
			return out, ""
		}
		j := i
		for j < len(line) && line[j] != '=' && !isBlank(line[j]) {
			j++
		}
		if j >= len(line) || line[j] != '=' {
			return nil, fmt.Sprintf("%q is not key=value", line[i:j])
		}
		key := line[i:j]
		j++
		var val string
		if j < len(line) && line[j] == '"' {
			end := strings.IndexByte(line[j+1:], '"')
			if end < 0 {
				return nil, fmt.Sprintf("%s: unterminated quote", key)
			}
			val = line[j+1 : j+1+end]
			j += end + 2
		} else {
			k := j
			for k < len(line) && !isBlank(line[k]) {
				k++
			}
			val, j = line[j:k], k
		}
		if key == "" {
			return nil, "missing key before '='"
		}
		out = append(out, kv{key, val})
		i = j
	}
}

func (p *confParser) errorf(line int, format string, a ...any) error {
	return &ParseError{Format: confFormat, Line: line, Msg: fmt.Sprintf(format, a...)}
}

func (p *confParser) line(n int, line string) error {
	if strings.TrimSpace(line) == "" {
		return nil
	}
	if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], "include") {
		return p.errorf(n, "Include is not supported: give the parser the included file's content")
	}
	pairs, why := fields(line)
	if why != "" {
		return p.errorf(n, "%s", why)
	}
	seen := map[string]bool{}
	for _, f := range pairs {
		k := strings.ToLower(f.key)
		if seen[k] {
			return p.errorf(n, "%s appears twice on one line", f.key)
		}
		seen[k] = true
	}
	first := strings.ToLower(pairs[0].key)
	switch first {
	case "switchname":
		return p.switchLine(n, pairs)
	case "blockname":
		return p.blockLine(n, pairs)
	case "blocksizes":
		return p.blockSizesLine(n, pairs)
	case "nodes", "switches", "linkspeed":
		return p.errorf(n, "%s must follow SwitchName= or BlockName= on its line", pairs[0].key)
	}
	return p.errorf(n, "unknown key %q (want SwitchName, BlockName or BlockSizes)", pairs[0].key)
}

// expandNames expands a hostlist value of a key, with errors that point
// into the line.
func (p *confParser) expandNames(n int, key, value string) ([]string, error) {
	if value == "" {
		return nil, p.errorf(n, "%s= is empty", key)
	}
	// One budget for the whole file: a few short lines must not expand to
	// millions of hosts each.
	left := hostlist.DefaultMaxHosts - p.names
	if left <= 0 {
		return nil, p.errorf(n, "the file names over %d hosts and switches", hostlist.DefaultMaxHosts)
	}
	names, err := hostlist.ExpandMax(value, left)
	if err != nil {
		if errors.Is(err, hostlist.ErrTooManyHosts) {
			return nil, &ParseError{Format: confFormat, Line: n, Err: err,
				Msg: fmt.Sprintf("%s=%s: the file would name over %d hosts and switches", key, value, hostlist.DefaultMaxHosts)}
		}
		return nil, &ParseError{Format: confFormat, Line: n, Msg: fmt.Sprintf("%s=%s: %v", key, value, err), Err: err}
	}
	if len(names) == 0 {
		return nil, p.errorf(n, "%s= names nothing", key)
	}
	p.names += len(names)
	return names, nil
}

func (p *confParser) switchLine(n int, pairs []kv) error {
	if p.firstBlock > 0 {
		return p.errorf(n, "SwitchName (topology/tree) in a file of BlockName lines (topology/block, line %d)", p.firstBlock)
	}
	if p.firstTree == 0 {
		p.firstTree = n
	}
	s := SwitchSpec{Line: n}
	for _, f := range pairs {
		var err error
		switch strings.ToLower(f.key) {
		case "switchname":
			if why := validName("switch", f.value); why != "" {
				return p.errorf(n, "SwitchName: %s", why)
			}
			if len(f.value) > 64 {
				return p.errorf(n, "SwitchName %q is longer than 64 characters", f.value)
			}
			s.Name = f.value
		case "nodes":
			s.Nodes, err = p.expandNames(n, f.key, f.value)
		case "switches":
			s.Switches, err = p.expandNames(n, f.key, f.value)
		case "linkspeed":
			if _, e := strconv.ParseUint(f.value, 10, 32); e != nil {
				return p.errorf(n, "LinkSpeed=%s is not a number", f.value)
			}
		default:
			return p.errorf(n, "unknown key %q on a SwitchName line (want Nodes, Switches or LinkSpeed)", f.key)
		}
		if err != nil {
			return err
		}
	}
	p.switches = append(p.switches, s)
	return nil
}

func (p *confParser) blockLine(n int, pairs []kv) error {
	if p.firstTree > 0 {
		return p.errorf(n, "BlockName (topology/block) in a file of SwitchName lines (topology/tree, line %d)", p.firstTree)
	}
	if p.firstBlock == 0 {
		p.firstBlock = n
	}
	b := SwitchSpec{Line: n}
	for _, f := range pairs {
		switch strings.ToLower(f.key) {
		case "blockname":
			if why := validName("block", f.value); why != "" {
				return p.errorf(n, "BlockName: %s", why)
			}
			b.Name = f.value
		case "nodes":
			var err error
			if b.Nodes, err = p.expandNames(n, f.key, f.value); err != nil {
				return err
			}
		default:
			return p.errorf(n, "unknown key %q on a BlockName line (want Nodes)", f.key)
		}
	}
	if len(b.Nodes) == 0 {
		return p.errorf(n, "block %s has no Nodes=", b.Name)
	}
	p.blocks = append(p.blocks, b)
	return nil
}

func (p *confParser) blockSizesLine(n int, pairs []kv) error {
	if len(pairs) > 1 {
		return p.errorf(n, "BlockSizes= stands alone on its line")
	}
	if p.blockSizeLine > 0 {
		return p.errorf(n, "BlockSizes given twice (first at line %d)", p.blockSizeLine)
	}
	if p.firstTree > 0 {
		return p.errorf(n, "BlockSizes (topology/block) in a file of SwitchName lines (topology/tree, line %d)", p.firstTree)
	}
	p.blockSizeLine = n
	if p.firstBlock == 0 {
		p.firstBlock = n
	}
	for _, f := range strings.Split(pairs[0].value, ",") {
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			return p.errorf(n, "BlockSizes: %q is not a positive number", f)
		}
		if len(p.blockSizes) > 0 {
			base, prev := p.blockSizes[0], p.blockSizes[len(p.blockSizes)-1]
			ratio := v / base
			if v%base != 0 || bits.OnesCount(uint(ratio)) != 1 || v <= prev {
				return p.errorf(n, "BlockSizes: %d is not a power-of-two multiple of %d larger than %d", v, base, prev)
			}
			if bits.TrailingZeros(uint(ratio)) > 15 {
				return p.errorf(n, "BlockSizes: %d is more than 2^15 base blocks", v)
			}
		}
		p.blockSizes = append(p.blockSizes, v)
	}
	return nil
}

func (p *confParser) finish() (*Topology, error) {
	switch {
	case len(p.switches) > 0:
		for _, s := range p.switches {
			if s.Name == "" {
				return nil, p.errorf(s.Line, "SwitchName is empty")
			}
		}
		return newTreeTopology(p.switches)
	case len(p.blocks) > 0:
		return newBlockTopology(p.blocks, p.blockSizes, p.blockSizeLine)
	case p.blockSizeLine > 0:
		return nil, p.errorf(p.blockSizeLine, "BlockSizes without any BlockName")
	}
	return nil, &ParseError{Format: confFormat, Msg: "no SwitchName or BlockName lines"}
}

// newTreeTopology builds a tree with children and nodes in natural name
// order, so that the order of a file never changes a plan.
func newTreeTopology(specs []SwitchSpec) (*Topology, error) {
	sorted := make([]SwitchSpec, len(specs))
	for i, s := range specs {
		s.Nodes = append([]string(nil), s.Nodes...)
		s.Switches = append([]string(nil), s.Switches...)
		hostlist.Sort(s.Nodes)
		hostlist.Sort(s.Switches)
		sorted[i] = s
	}
	return newTopology(KindTree, sorted, nil)
}

// newBlockTopology builds the tree Slurm's topology/block plans on: base
// blocks are leaves; aggregated blocks of 2^level consecutive base blocks
// (levels from BlockSizes, or 1, 2, 4, 8, 16 blocks without it) are the
// switches above; a derived root joins the top aggregates, since a job
// larger than the largest block may use the whole system.
func newBlockTopology(blocks []SwitchSpec, sizes []int, sizesLine int) (*Topology, error) {
	base := len(blocks[0].Nodes)
	if len(sizes) > 0 {
		base = sizes[0]
	}
	seen := map[string]int{}
	for _, b := range blocks {
		if b.Name == "" {
			return nil, &ParseError{Format: confFormat, Line: b.Line, Msg: "BlockName is empty"}
		}
		if l, dup := seen[b.Name]; dup {
			return nil, &ParseError{Format: confFormat, Line: b.Line, Msg: fmt.Sprintf("block %s is defined twice (first at line %d)", b.Name, l)}
		}
		seen[b.Name] = b.Line
		if len(b.Nodes) < base {
			return nil, &ParseError{Format: confFormat, Line: b.Line, Msg: fmt.Sprintf("block %s has %d nodes, fewer than the base block size %d", b.Name, len(b.Nodes), base)}
		}
	}
	// Aggregation levels, in base blocks per aggregate.
	var levels []int
	if len(sizes) == 0 {
		levels = []int{1, 2, 4, 8, 16}
	} else {
		for _, s := range sizes {
			levels = append(levels, s/base)
		}
	}
	var per []int
	for _, l := range levels {
		per = append(per, l)
		if l >= len(blocks) {
			break
		}
	}
	specs := make([]SwitchSpec, len(blocks))
	for i, b := range blocks {
		b.Nodes = append([]string(nil), b.Nodes...)
		hostlist.Sort(b.Nodes)
		specs[i] = b
	}
	derived := make([]bool, len(blocks))
	// top[i] is the highest unit containing base block i so far.
	top := make([]int, len(blocks))
	for i := range top {
		top[i] = i
	}
	used := map[string]bool{}
	for _, b := range blocks {
		used[b.Name] = true
	}
	addAggregate := func(from, to int) {
		var children []string
		var names []string
		for i := from; i < to; i++ {
			names = append(names, blocks[i].Name)
			c := specs[top[i]].Name
			if len(children) == 0 || children[len(children)-1] != c {
				children = append(children, c)
			}
		}
		if len(children) < 2 {
			return // same members as the unit below
		}
		name, _ := hostlist.Compress(names)
		for used[name] {
			name += "+"
		}
		used[name] = true
		specs = append(specs, SwitchSpec{Name: name, Switches: children})
		derived = append(derived, true)
		for i := from; i < to; i++ {
			top[i] = len(specs) - 1
		}
	}
	for j := 1; j < len(per); j++ {
		for i := 0; i < len(blocks); i += per[j] {
			remaining := len(blocks) - i
			if per[j] > remaining && per[j-1] >= remaining {
				continue
			}
			addAggregate(i, min(i+per[j], len(blocks)))
		}
	}
	addAggregate(0, len(blocks))
	t, err := newTopology(KindBlock, specs, derived)
	if err != nil {
		return nil, err
	}
	t.blockSizes = sizes
	return t, nil
}

// WriteTopologyConf writes the topology as a Slurm topology.conf: the notes
// as comments, then for a tree one SwitchName line per switch (leaves
// first, then each level up), for a block topology the BlockName lines in
// order and BlockSizes. Names are compressed into hostlist expressions.
func (t *Topology) WriteTopologyConf(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Slurm topology.conf (topology/%s)\n", t.kind)
	for _, n := range t.notes {
		for _, l := range strings.Split(n, "\n") {
			fmt.Fprintf(bw, "# %s\n", l)
		}
	}
	compress := func(names []string) (string, error) {
		s, err := hostlist.Compress(names)
		if err != nil {
			return "", fmt.Errorf("mpi: writing topology.conf: %w", err)
		}
		return s, nil
	}
	if t.kind == KindBlock {
		for _, l := range t.dfsLeaves {
			r := &t.sw[l]
			nodes, err := compress(t.nodeNames(r.nodes))
			if err != nil {
				return err
			}
			fmt.Fprintf(bw, "BlockName=%s Nodes=%s\n", r.name, nodes)
		}
		if len(t.blockSizes) > 0 {
			s := make([]string, len(t.blockSizes))
			for i, v := range t.blockSizes {
				s[i] = strconv.Itoa(v)
			}
			fmt.Fprintf(bw, "BlockSizes=%s\n", strings.Join(s, ","))
		}
		return bw.Flush()
	}
	for island, root := range t.roots {
		if t.Islands() > 1 {
			fmt.Fprintf(bw, "# island %d: %s\n", island, t.sw[root].name)
		}
		dfs := t.islandSwitchesDFS(root)
		for lvl := 0; lvl <= t.sw[root].level; lvl++ {
			for _, s := range dfs {
				r := &t.sw[s]
				if r.level != lvl {
					continue
				}
				key, names := "Switches", make([]string, len(r.children))
				for i, c := range r.children {
					names[i] = t.sw[c].name
				}
				if r.isLeaf() {
					key, names = "Nodes", t.nodeNames(r.nodes)
				}
				list, err := compress(names)
				if err != nil {
					return err
				}
				fmt.Fprintf(bw, "SwitchName=%s %s=%s\n", r.name, key, list)
			}
		}
	}
	return bw.Flush()
}

// islandSwitchesDFS lists the switches under root in depth-first pre-order.
func (t *Topology) islandSwitchesDFS(root int32) []int32 {
	var out []int32
	var walk func(s int32)
	walk = func(s int32) {
		out = append(out, s)
		for _, c := range t.sw[s].children {
			walk(c)
		}
	}
	walk(root)
	return out
}

func (t *Topology) nodeNames(idx []int32) []string {
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = t.nodes[n].name
	}
	return out
}
