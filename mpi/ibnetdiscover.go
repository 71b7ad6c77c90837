package mpi

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

const ibFormat = "ibnetdiscover"

// IBOptions says which hosts of an InfiniBand fabric are compute nodes.
type IBOptions struct {
	// Nodes, when not empty, is a hostlist of the compute nodes (Slurm's
	// node names): other hosts are left out. A host whose node description
	// carries a domain ("node01.cluster mlx5_0") matches by its short name.
	Nodes string
	// Exclude is a hostlist of hosts that are not compute nodes
	// (management, storage, login, UFM).
	Exclude string
}

// ibNode is a switch, CA or router of the fabric.
type ibNode struct {
	id    string // "S-<guid>"/"H-<guid>" (default output) or a GUID (ports report)
	kind  byte   // 'S' switch, 'H' CA, 'R' router
	desc  string
	guid  string
	ports int
	line  int
}

type ibLink struct {
	a, b         string // node ids
	aPort, bPort int
	rate         float64 // Gb/s; 0 when unknown
	line         int
}

// fabric is what ibnetdiscover printed.
type fabric struct {
	nodes map[string]*ibNode
	order []string // node ids in order of appearance
	links []ibLink
	seen  map[[2]string]bool
}

func (f *fabric) node(id string, kind byte, line int) *ibNode {
	n, ok := f.nodes[id]
	if !ok {
		n = &ibNode{id: id, kind: kind, line: line}
		f.nodes[id] = n
		f.order = append(f.order, id)
	}
	if n.kind == 0 {
		n.kind = kind
	}
	return n
}

// addLink records a link once, whichever end printed it.
func (f *fabric) addLink(l ibLink) {
	ka := l.a + ":" + strconv.Itoa(l.aPort)
	kb := l.b + ":" + strconv.Itoa(l.bPort)
	key := [2]string{ka, kb}
	if kb < ka {
		key = [2]string{kb, ka}
	}
	if f.seen[key] {
		return
	}
	f.seen[key] = true
	f.links = append(f.links, l)
}

// ParseIBNetDiscover reads the output of ibnetdiscover (the default report
// or the ports report of ibnetdiscover -p; not the grouped report of -g)
// and turns the fabric into a tree topology, as ParseIBNetDiscoverOptions
// does with no options.
func ParseIBNetDiscover(r io.Reader) (*Topology, error) {
	return ParseIBNetDiscoverOptions(r, IBOptions{})
}

// ParseIBNetDiscoverOptions reads ibnetdiscover output and builds a tree
// topology from it:
//
//   - hosts are named by the first word of their HCA's node description
//     ("node01 mlx5_0" is node01); HCAs without a host name (an empty or
//     default description such as "MT4123 ConnectX6 Mellanox Technologies"),
//     SHARP aggregation nodes, routers and the hosts that opt leaves out are
//     not compute nodes;
//   - a leaf is a switch with compute hosts; leaves that share hosts (the
//     rails of multi-HCA hosts) are merged into one logical leaf;
//   - switches are levelled by their distance from the leaves; the switches
//     of one level that are connected through the levels below form one
//     logical switch (the spines of a pod, the core); a fabric is an island.
//
// Each logical switch's uplink capacity is the number of its links to the
// level above, weighted by link rate relative to the hosts' links. What was
// left out or merged is recorded in Notes and written as comments by
// WriteTopologyConf.
func ParseIBNetDiscoverOptions(r io.Reader, opt IBOptions) (*Topology, error) {
	f, err := parseFabric(r)
	if err != nil {
		return nil, err
	}
	return f.topology(opt)
}

var (
	reHeader = regexp.MustCompile(`^(Switch|Ca|Rt)\s+(\d+)\s+"([^"]*)"\s*(.*)$`)
	// A port line: "[p]" then "[ext n]" (grouped switches) or "(portguid)"
	// (CAs), the remote node and port, its "[ext n]" and " (portguid)" for
	// a CA, then the comment (ibnetdiscover's out_switch_port/out_ca_port).
	rePort     = regexp.MustCompile(`^\[(\d+)\](?:\[ext \d+\])?(?:\(([0-9a-fA-F]+)\))?\s+"([^"]*)"\[(\d+)\](?:\[ext \d+\])?\s*(?:\(([0-9a-fA-F]+)\))?\s*(.*)$`)
	reQuoted   = regexp.MustCompile(`"([^"]*)"`)
	reRate     = regexp.MustCompile(`^(\d+)x([A-Z0-9]+)$`)
	rePortsRep = regexp.MustCompile(`^(SW|CA|RT)\s+(\d+)\s+(\d+)\s+(0x[0-9a-fA-F]+)\s+(\S+)\s+(\S+)\s*(.*)$`)
	rePeer     = regexp.MustCompile(`^-\s+(SW|CA|RT)\s+(\d+)\s+(\d+)\s+(0x[0-9a-fA-F]+)\s+\(\s*'(.*?)'\s+-\s+'(.*)'\s*\)\s*$`)
	reLone     = regexp.MustCompile(`^'(.*)'$`)
)

// laneRate is the data rate of one lane, in Gb/s.
var laneRate = map[string]float64{
	"SDR": 2.5, "DDR": 5, "QDR": 10, "FDR10": 10, "FDR": 14.0625,
	"EDR": 25.78125, "HDR": 50, "NDR": 100, "XDR": 200,
}

func rate(width, speed string) float64 {
	w, err := strconv.Atoi(strings.TrimSuffix(width, "x"))
	if err != nil {
		return 0
	}
	return float64(w) * laneRate[speed]
}

func parseFabric(r io.Reader) (*fabric, error) {
	f := &fabric{nodes: map[string]*ibNode{}, seen: map[[2]string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	lineNo := 0
	var cur *ibNode
	ports := false
	decided := false
	errf := func(format string, a ...any) error {
		return &ParseError{Format: ibFormat, Line: lineNo, Msg: fmt.Sprintf(format, a...)}
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			cur = nil
			continue
		}
		if line[0] == '#' {
			continue
		}
		if !decided {
			decided = true
			ports = rePortsRep.MatchString(line)
		}
		if ports {
			if err := f.portsLine(line, lineNo); err != nil {
				return nil, err
			}
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(k, " \t\"[") {
			switch k {
			case "vendid", "devid", "sysimgguid", "switchguid", "caguid", "routerguid":
				continue
			}
			return nil, errf("unknown attribute %q", k)
		}
		if m := reHeader.FindStringSubmatch(line); m != nil {
			kind := map[string]byte{"Switch": 'S', "Ca": 'H', "Rt": 'R'}[m[1]]
			n, err := strconv.Atoi(m[2])
			if err != nil || n < 1 || n > 255 {
				return nil, errf("%s %q: port count %s out of range", m[1], m[3], m[2])
			}
			if m[3] == "" {
				return nil, errf("%s with an empty node id", m[1])
			}
			cur = f.node(m[3], kind, lineNo)
			if cur.ports > 0 {
				return nil, errf("node %s is described twice (first at line %d)", m[3], cur.line)
			}
			cur.ports, cur.line = n, lineNo
			cur.guid = strings.TrimPrefix(strings.TrimPrefix(m[3], "S-"), "H-")
			if q := reQuoted.FindStringSubmatch(m[4]); q != nil {
				cur.desc = q[1]
			}
			continue
		}
		if m := rePort.FindStringSubmatch(line); m != nil {
			if cur == nil {
				return nil, errf("port line outside a Switch or Ca record")
			}
			p, _ := strconv.Atoi(m[1])
			rp, _ := strconv.Atoi(m[4])
			if p < 1 || p > cur.ports || rp < 0 || rp > 255 {
				return nil, errf("port [%s] of %s (%d ports) or remote port [%s] out of range", m[1], cur.id, cur.ports, m[4])
			}
			if m[3] == "" {
				return nil, errf("port [%d] links to an empty node id", p)
			}
			comment := m[6]
			var remoteDesc string
			if qs := reQuoted.FindAllStringSubmatch(comment, -1); len(qs) > 0 {
				remoteDesc = qs[len(qs)-1][1]
			}
			var lr float64
			for _, tok := range strings.Fields(comment) {
				if rm := reRate.FindStringSubmatch(tok); rm != nil {
					lr = rate(rm[1], rm[2])
				}
			}
			remoteKind := byte(0)
			switch {
			case strings.HasPrefix(m[3], "S-"):
				remoteKind = 'S'
			case strings.HasPrefix(m[3], "H-"):
				remoteKind = 'H'
			case strings.HasPrefix(m[3], "R-"):
				remoteKind = 'R'
			}
			rn := f.node(m[3], remoteKind, lineNo)
			if rn.desc == "" {
				rn.desc = remoteDesc
			}
			f.addLink(ibLink{a: cur.id, aPort: p, b: rn.id, bPort: rp, rate: lr, line: lineNo})
			continue
		}
		return nil, errf("unrecognised line %q", truncate(line, 80))
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{Format: ibFormat, Line: lineNo + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("%s: reading: %w", ibFormat, err)
	}
	if len(f.nodes) == 0 {
		return nil, &ParseError{Format: ibFormat, Msg: "no switches or HCAs found"}
	}
	for _, id := range f.order {
		if f.nodes[id].kind == 0 {
			return nil, &ParseError{Format: ibFormat, Line: f.nodes[id].line, Msg: fmt.Sprintf("node %s is linked to but its type is unknown", id)}
		}
	}
	return f, nil
}

// portsLine parses one line of `ibnetdiscover -p`.
func (f *fabric) portsLine(line string, lineNo int) error {
	errf := func(format string, a ...any) error {
		return &ParseError{Format: ibFormat, Line: lineNo, Msg: fmt.Sprintf(format, a...)}
	}
	m := rePortsRep.FindStringSubmatch(line)
	if m == nil {
		return errf("unrecognised line in a ports report %q", truncate(line, 80))
	}
	kind := map[string]byte{"SW": 'S', "CA": 'H', "RT": 'R'}
	port, err := strconv.Atoi(m[3])
	if err != nil || port > 255 {
		return errf("port %s out of range", m[3])
	}
	a := f.node(m[4], kind[m[1]], lineNo)
	if a.kind != kind[m[1]] {
		return errf("%s is listed as %s and as another type", m[4], m[1])
	}
	a.guid = m[4]
	a.ports = max(a.ports, port)
	rest := m[7]
	if rest == "" {
		return nil // an unconnected port, description missing
	}
	if lm := reLone.FindStringSubmatch(rest); lm != nil {
		if a.desc == "" {
			a.desc = lm[1]
		}
		return nil
	}
	pm := rePeer.FindStringSubmatch(rest)
	if pm == nil {
		return errf("cannot read the link in %q", truncate(line, 80))
	}
	rport, err := strconv.Atoi(pm[3])
	if err != nil || rport > 255 {
		return errf("remote port %s out of range", pm[3])
	}
	b := f.node(pm[4], kind[pm[1]], lineNo)
	if b.kind != kind[pm[1]] {
		return errf("%s is listed as %s and as another type", pm[4], pm[1])
	}
	b.guid = pm[4]
	b.ports = max(b.ports, rport)
	if a.desc == "" {
		a.desc = pm[5]
	}
	if b.desc == "" {
		b.desc = pm[6]
	}
	f.addLink(ibLink{a: a.id, aPort: port, b: b.id, bPort: rport, rate: rate(m[5], m[6]), line: lineNo})
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// reDefaultDesc matches node descriptions that name no host: the firmware
// default ("MT4123 ConnectX6   Mellanox Technologies") and the like.
var reDefaultDesc = regexp.MustCompile(`(?i)^(MT\d+\b|.*\bMellanox Technologies\b|.*\bNVIDIA\b|localhost\b|\(null\))`)

// hostOf names the host of an HCA, or says why it has none.
func hostOf(desc string) (host, why string) {
	d := strings.TrimSpace(desc)
	switch {
	case d == "":
		return "", "no node description"
	case strings.Contains(strings.ToLower(d), "aggregation node"):
		return "", "a SHARP aggregation node"
	case reDefaultDesc.MatchString(d):
		return "", "no host name in its node description"
	}
	host = strings.Fields(d)[0]
	if validName("node", host) != "" {
		return "", "its host name " + strconv.Quote(host) + " cannot be a Slurm node name"
	}
	return host, ""
}

// switchNames gives each switch a topology.conf name: the name inside a
// managed switch's description ("MF0;leaf01:MQM8700/U1" is leaf01), else the
// description itself; switches whose names would be empty or shared get
// "ibsw-<guid>".
func (f *fabric) switchNames() map[string]string {
	cand := map[string]string{}
	count := map[string]int{}
	for _, id := range f.order {
		n := f.nodes[id]
		if n.kind != 'S' {
			continue
		}
		name := n.desc
		if _, after, ok := strings.Cut(name, ";"); ok {
			name, _, _ = strings.Cut(after, ":")
		}
		name = strings.Map(func(r rune) rune {
			if r <= ' ' || r == 0x7f || strings.ContainsRune("#=,[]\"'", r) {
				return '_'
			}
			return r
		}, strings.TrimSpace(name))
		if len(name) > 48 {
			name = ""
		}
		cand[id] = name
		count[name]++
	}
	out := map[string]string{}
	for id, name := range cand {
		if name == "" || count[name] > 1 {
			name = "ibsw-" + strings.TrimPrefix(strings.ToLower(f.nodes[id].guid), "0x")
		}
		out[id] = name
	}
	return out
}

// unionFind over small integer ids.
type unionFind []int

func newUnionFind(n int) unionFind {
	u := make(unionFind, n)
	for i := range u {
		u[i] = i
	}
	return u
}

func (u unionFind) find(x int) int {
	for u[x] != x {
		u[x] = u[u[x]]
		x = u[x]
	}
	return x
}

func (u unionFind) union(a, b int) {
	ra, rb := u.find(a), u.find(b)
	if ra != rb {
		u[max(ra, rb)] = min(ra, rb)
	}
}

// joinNames names a logical switch after its members.
// maxSwitchName is the longest switch name Slurm's topology.conf takes.
const maxSwitchName = 64

func joinNames(names []string) string {
	names = slices.Clone(names)
	hostlist.Sort(names)
	s := strings.Join(names, "+")
	if len(s) <= 64 {
		return s
	}
	return fmt.Sprintf("%s+%dmore", names[0], len(names)-1)
}

func (f *fabric) topology(opt IBOptions) (*Topology, error) {
	var notes []string
	var include, exclude map[string]bool
	toSet := func(what, expr string) (map[string]bool, error) {
		if expr == "" {
			return nil, nil
		}
		hosts, err := hostlist.Expand(expr)
		if err != nil {
			return nil, fmt.Errorf("mpi: ibnetdiscover options: %s: %w", what, err)
		}
		m := map[string]bool{}
		for _, h := range hosts {
			m[h] = true
		}
		return m, nil
	}
	var err error
	if include, err = toSet("Nodes", opt.Nodes); err != nil {
		return nil, err
	}
	if exclude, err = toSet("Exclude", opt.Exclude); err != nil {
		return nil, err
	}

	// Switch indexes and the switch graph.
	swID := map[string]int{}
	var switches []string
	for _, id := range f.order {
		if f.nodes[id].kind == 'S' {
			swID[id] = len(switches)
			switches = append(switches, id)
		}
	}
	if len(switches) == 0 {
		return nil, &ParseError{Format: ibFormat, Msg: "no switches in the fabric"}
	}
	names := f.switchNames()
	adj := make([][]int, len(switches))
	type upl struct {
		to   int
		rate float64
	}
	swLinks := make([][]upl, len(switches))
	hostSwitches := map[string][]int{} // compute host -> switches it is on
	var hostRates []float64
	left := map[string]string{} // note per left-out host or HCA
	for _, l := range f.links {
		a, b := f.nodes[l.a], f.nodes[l.b]
		if a.kind != 'S' {
			a, b = b, a
			l.aPort, l.bPort = l.bPort, l.aPort
		}
		if a.kind != 'S' {
			continue // CA to CA, back to back
		}
		sa := swID[a.id]
		switch b.kind {
		case 'S':
			sb := swID[b.id]
			if sa == sb {
				continue
			}
			adj[sa] = append(adj[sa], sb)
			adj[sb] = append(adj[sb], sa)
			swLinks[sa] = append(swLinks[sa], upl{sb, l.rate})
			swLinks[sb] = append(swLinks[sb], upl{sa, l.rate})
		case 'R':
			left["router "+b.id] = fmt.Sprintf("left out router %q on %s port %d", b.desc, names[a.id], l.aPort)
		case 'H':
			host, why := hostOf(b.desc)
			if why == "" && include != nil && !include[host] {
				short, _, _ := strings.Cut(host, ".")
				if include[short] {
					host = short
				} else {
					why = "not in the compute nodes given"
				}
			}
			if why == "" && exclude[host] {
				why = "excluded as not a compute node"
			}
			if why != "" {
				label, key := strconv.Quote(b.desc), "ca "+b.id
				if host != "" {
					label, key = host, "host "+host
				}
				left[key] = fmt.Sprintf("left out %s (HCA %s on %s port %d): %s", label, b.guid, names[a.id], l.aPort, why)
				continue
			}
			if !slices.Contains(hostSwitches[host], sa) {
				hostSwitches[host] = append(hostSwitches[host], sa)
			}
			hostRates = append(hostRates, l.rate)
		}
	}
	if include == nil {
		f.dropSpineHosts(hostSwitches, adj, names, switches, left)
	}
	if len(hostSwitches) == 0 {
		return nil, &ParseError{Format: ibFormat, Msg: "no compute hosts in the fabric (every HCA was left out)"}
	}
	// The hosts' link rate: the most common one.
	hostRate := mode(hostRates)

	// Logical leaves: switches with compute hosts, merged when they share
	// a host.
	uf := newUnionFind(len(switches))
	isLeaf := make([]bool, len(switches))
	hosts := slices.Sorted(maps.Keys(hostSwitches))
	for _, h := range hosts {
		ss := hostSwitches[h]
		for _, s := range ss {
			isLeaf[s] = true
			uf.union(ss[0], s)
		}
	}
	// Distance of every switch from the nearest leaf.
	dist := make([]int, len(switches))
	for i := range dist {
		dist[i] = -1
	}
	var queue []int
	for s := range switches {
		if isLeaf[s] {
			dist[s] = 0
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range adj[s] {
			if dist[n] < 0 {
				dist[n] = dist[s] + 1
				queue = append(queue, n)
			}
		}
	}
	maxDist := 0
	for s, d := range dist {
		if d < 0 {
			left["sw "+switches[s]] = fmt.Sprintf("left out switch %s: no path to a switch with compute hosts", names[switches[s]])
		}
		maxDist = max(maxDist, d)
	}
	for _, h := range hosts {
		ss := hostSwitches[h]
		for _, s := range ss {
			for _, n := range adj[s] {
				if isLeaf[n] && uf.find(n) != uf.find(s) {
					left["mixed "+switches[s]] = fmt.Sprintf("switch %s carries hosts and links to another switch with hosts (%s); if a host on it is not a compute node, exclude it",
						names[switches[s]], names[switches[n]])
				}
			}
		}
	}

	// unit is a logical switch: its physical members and children.
	type unit struct {
		name     string
		members  []int // physical switches
		children []int // unit indexes
		hosts    []string
		derived  bool
	}
	var units []unit
	unitOf := make([]int, len(switches)) // the current top unit of each switch
	for i := range unitOf {
		unitOf[i] = -1
	}
	leafUnits := map[int]int{}
	for s := range switches {
		if !isLeaf[s] {
			continue
		}
		root := uf.find(s)
		u, ok := leafUnits[root]
		if !ok {
			u = len(units)
			leafUnits[root] = u
			units = append(units, unit{})
		}
		units[u].members = append(units[u].members, s)
		unitOf[s] = u
	}
	for _, h := range hosts {
		u := unitOf[hostSwitches[h][0]]
		units[u].hosts = append(units[u].hosts, h)
	}
	for u := range units {
		var ns []string
		for _, s := range units[u].members {
			ns = append(ns, names[switches[s]])
		}
		units[u].name = joinNames(ns)
		if len(ns) > 1 {
			hostlist.Sort(ns)
			hl, _ := hostlist.Compress(units[u].hosts)
			notes = append(notes, fmt.Sprintf("leaves %s merged into one logical leaf %s: their hosts %s have HCAs on each (rails)",
				strings.Join(ns, ", "), units[u].name, hl))
		}
	}
	// rep is a physical switch that stands for unit u: its first member, or,
	// for a unit derived from units linked back to back (no switch of its
	// own), its first child's.
	var rep func(u int) int
	rep = func(u int) int {
		if len(units[u].members) > 0 {
			return units[u].members[0]
		}
		return rep(units[u].children[0])
	}
	// Levels above: at level i, switches within distance i that are
	// connected (directly, or through a unit below) form one unit.
	for i := 1; i <= maxDist+1; i++ {
		ufl := newUnionFind(len(switches))
		for s := range switches {
			if dist[s] < 0 || dist[s] > i {
				continue
			}
			if u := unitOf[s]; u >= 0 {
				ufl.union(rep(u), s)
			}
			for _, n := range adj[s] {
				if dist[n] >= 0 && dist[n] <= i {
					ufl.union(s, n)
				}
			}
		}
		groups := map[int][]int{} // component -> physical switches at level i
		childSet := map[int][]int{}
		var compOrder []int
		for s := range switches {
			if dist[s] < 0 || dist[s] > i {
				continue
			}
			c := ufl.find(s)
			if _, ok := childSet[c]; !ok {
				childSet[c] = nil
				compOrder = append(compOrder, c)
			}
			if dist[s] == i {
				groups[c] = append(groups[c], s)
			}
			if u := unitOf[s]; u >= 0 && !slices.Contains(childSet[c], u) {
				childSet[c] = append(childSet[c], u)
			}
		}
		for _, c := range compOrder {
			children := childSet[c]
			if len(children) < 2 {
				for _, s := range groups[c] {
					if len(children) == 1 {
						unitOf[s] = children[0]
					}
				}
				continue
			}
			nu := unit{children: children, members: groups[c]}
			var ns []string
			for _, s := range groups[c] {
				ns = append(ns, names[switches[s]])
			}
			if len(ns) == 0 {
				nu.derived = true
				var cn []string
				for _, c := range children {
					cn = append(cn, units[c].name)
				}
				nu.name = "fabric-" + joinNames(cn)
			} else {
				nu.name = joinNames(ns)
			}
			units = append(units, nu)
			id := len(units) - 1
			for s := range switches {
				if dist[s] >= 0 && dist[s] <= i && ufl.find(s) == c {
					unitOf[s] = id
				}
			}
		}
	}
	// Uplink capacity of each unit: links from its members (and the
	// members of the units below it) to switches outside it, relative to a
	// host link.
	inUnit := make([]map[int]bool, len(units))
	var collect func(u int) map[int]bool
	collect = func(u int) map[int]bool {
		if inUnit[u] != nil {
			return inUnit[u]
		}
		m := map[int]bool{}
		for _, s := range units[u].members {
			m[s] = true
		}
		for _, c := range units[u].children {
			for s := range collect(c) {
				m[s] = true
			}
		}
		inUnit[u] = m
		return m
	}
	specs := make([]SwitchSpec, len(units))
	used := map[string]bool{}
	for u := range units {
		in := collect(u)
		var capacity float64
		for s := range in {
			for _, l := range swLinks[s] {
				if !in[l.to] {
					if hostRate > 0 && l.rate > 0 {
						capacity += l.rate / hostRate
					} else {
						capacity++
					}
				}
			}
		}
		// Slurm reads switch names of up to 64 characters: cut a long
		// derived name, and tell apart equal ones with +2, +3... within it.
		base := units[u].name
		name := base[:min(len(base), maxSwitchName)]
		for k := 2; used[name]; k++ {
			suffix := "+" + strconv.Itoa(k)
			name = base[:min(len(base), maxSwitchName-len(suffix))] + suffix
		}
		used[name] = true
		units[u].name = name
		specs[u] = SwitchSpec{Name: name, Nodes: units[u].hosts, UplinkCapacity: capacity}
	}
	for u := range units {
		for _, c := range units[u].children {
			specs[u].Switches = append(specs[u].Switches, units[c].name)
		}
	}
	t, err := newTreeTopology(specs)
	if err != nil {
		return nil, fmt.Errorf("%s: building the topology: %w", ibFormat, err)
	}
	for _, k := range slices.SortedFunc(maps.Keys(left), func(a, b string) int { return cmp.Compare(left[a], left[b]) }) {
		notes = append(notes, left[k])
	}
	slices.Sort(notes)
	t.notes = append(t.notes, notes...)
	return t, nil
}

// dropSpineHosts leaves out the hosts (UFM servers, subnet managers,
// management nodes) attached to a switch that is a spine rather than a
// leaf: one that links at least two other switches with hosts and has
// fewer hosts than switch links. Without this such a spine would be taken
// for a leaf. A host on a real leaf as well stays. Used only when the
// compute nodes are not named (IBOptions.Nodes).
func (f *fabric) dropSpineHosts(hostSwitches map[string][]int, adj [][]int, names map[string]string, switches []string, left map[string]string) {
	bearing := map[int]int{} // switch -> hosts on it
	for _, ss := range hostSwitches {
		for _, s := range ss {
			bearing[s]++
		}
	}
	spine := map[int]bool{}
	for s, h := range bearing {
		nbr := map[int]bool{}
		withHosts := 0
		for _, n := range adj[s] {
			if !nbr[n] {
				nbr[n] = true
				if bearing[n] > 0 {
					withHosts++
				}
			}
		}
		if withHosts >= 2 && h < len(nbr) {
			spine[s] = true
		}
	}
	for _, h := range slices.Sorted(maps.Keys(hostSwitches)) {
		ss := hostSwitches[h]
		var keep []int
		for _, s := range ss {
			if !spine[s] {
				keep = append(keep, s)
			}
		}
		if len(keep) == len(ss) {
			continue
		}
		if len(keep) > 0 {
			hostSwitches[h] = keep
			continue
		}
		delete(hostSwitches, h)
		left["host "+h] = fmt.Sprintf("left out %s (on %s): its switch links other switches with hosts and has fewer hosts than switch links, a spine rather than a leaf; name the compute nodes (IBOptions.Nodes) to keep it",
			h, names[switches[ss[0]]])
	}
}

func mode(xs []float64) float64 {
	count := map[float64]int{}
	best, bestN := 0.0, 0
	for _, x := range xs {
		count[x]++
		if c := count[x]; c > bestN || (c == bestN && x > best) {
			best, bestN = x, c
		}
	}
	return best
}
