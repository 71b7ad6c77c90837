package mpi

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

// ibSwitch writes one switch of an ibnetdiscover dump: its hosts on ports
// 1.., then its links to other switches from port 10.
func ibSwitch(guid, name string, hosts []string, links map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Switch\t36 \"S-%s\"\t\t# \"%s\" base port 0 lid 1 lmc 0\n", guid, name)
	for i, h := range hosts {
		fmt.Fprintf(&b, "[%d]\t\"H-%s\"[1](%s)\t\t# \"%s mlx5_0\" lid 2 4xHDR\n", i+1, h, h, h)
	}
	port := 10
	for g, n := range links {
		fmt.Fprintf(&b, "[%d]\t\"S-%s\"[%d]\t\t# \"%s\" lid 3 4xHDR\n", port, g, port, n)
		port++
	}
	return b.String() + "\n"
}

// TestIBBackToBackLeavesBesideATree: two leaves cabled to each other with no
// switch above them (a logical switch is derived for them), in the same dump
// as a leaf-spine tree, parse into a topology (this panicked), and a plan
// keeps to one island.
func TestIBBackToBackLeavesBesideATree(t *testing.T) {
	dump := ibSwitch("000a", "leafA", []string{"a1", "a2"}, map[string]string{"000b": "leafB"}) +
		ibSwitch("000b", "leafB", []string{"b1", "b2"}, map[string]string{"000a": "leafA"}) +
		ibSwitch("000c", "leafC", []string{"c1"}, map[string]string{"00ff": "spine"}) +
		ibSwitch("000d", "leafD", []string{"d1"}, map[string]string{"00ff": "spine"}) +
		ibSwitch("00ff", "spine", nil, map[string]string{"000c": "leafC", "000d": "leafD"})
	topo, err := ParseIBNetDiscover(strings.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	var free []FreeNode
	for _, n := range []string{"a1", "a2", "b1", "b2", "c1", "d1"} {
		free = append(free, FreeNode{Name: n})
	}
	p, err := Place(topo, free, Request{Nodes: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Nodes, ","); got != "a1,a2,b1,b2" {
		t.Errorf("4 nodes on %s; want the back-to-back pair's a1,a2,b1,b2 (c1 and d1 are another island)", got)
	}
}

// TestIBLongDerivedNamesRoundTrip: names the parser derives (a logical switch
// over long leaf names, duplicates told apart) stay within Slurm's 64
// characters, so its topology.conf reads back.
func TestIBLongDerivedNamesRoundTrip(t *testing.T) {
	a, b := "ib-leaf-rack01-u40-quantum-hdr", "ib-leaf-rack02-u40-quantum-hdr"
	dump := ibSwitch("000a", a, []string{"a1"}, map[string]string{"000b": b}) +
		ibSwitch("000b", b, []string{"b1"}, map[string]string{"000a": a})
	topo, err := ParseIBNetDiscover(strings.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	var conf bytes.Buffer
	if err := topo.WriteTopologyConf(&conf); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseTopologyConf(bytes.NewReader(conf.Bytes())); err != nil {
		t.Fatalf("the topology.conf written does not read back: %v\n%s", err, conf.String())
	}
	for _, sw := range topo.Switches() {
		if len(sw.Name) > maxSwitchName {
			t.Errorf("switch name %q is %d characters", sw.Name, len(sw.Name))
		}
	}
}

// TestTopologyConfHostBudget: a short file whose lines each expand to a
// million hosts is refused once the file as a whole passes the limit, before
// it takes the machine's memory.
func TestTopologyConfHostBudget(t *testing.T) {
	var b strings.Builder
	for i := range 8 {
		fmt.Fprintf(&b, "SwitchName=s%d Nodes=r%dx[1-1000]n[0001-1000]\n", i, i)
	}
	_, err := ParseTopologyConf(strings.NewReader(b.String()))
	if !errors.Is(err, hostlist.ErrTooManyHosts) || !strings.Contains(err.Error(), "topology.conf:2:") {
		t.Errorf("8 lines of a million hosts each: %v", err)
	}
}

// TestLeavesUnderAHigherSwitchKeepTheirCount: leaves hanging straight under a
// level-2 switch are each a level-1 group; the plan takes as many of them as
// its count of groups says, not more for a tighter fit. Here {a, c, d} (12
// nodes, groups a and P) beats {a, b, c} (11 nodes, groups a, b and P).
func TestLeavesUnderAHigherSwitchKeepTheirCount(t *testing.T) {
	conf := "SwitchName=q Nodes=q1\nSwitchName=a Nodes=a[1-6]\nSwitchName=b Nodes=b[1-2]\nSwitchName=c Nodes=c[1-3]\n" +
		"SwitchName=d Nodes=d[1-3]\nSwitchName=Q Switches=q\nSwitchName=X Switches=Q,a,b\nSwitchName=P Switches=c,d\nSwitchName=R Switches=X,P\n"
	topo, err := ParseTopologyConf(strings.NewReader(conf))
	if err != nil {
		t.Fatal(err)
	}
	free, err := FreeNodesFromHostlist("a[1-6],b[1-2],c[1-3],d[1-3]") // q1 busy
	if err != nil {
		t.Fatal(err)
	}
	p, err := Place(topo, free, Request{Nodes: 10})
	if err != nil {
		t.Fatal(err)
	}
	hl, _ := hostlist.Compress(p.Nodes)
	for _, m := range p.Levels {
		// Groups of level 1: its switches, and leaves straight under higher ones.
		if m.Level == 1 && m.MinRingCrossings != 2 {
			t.Errorf("10 nodes on %s make %d level-1 groups; want 2 (a and P)", hl, m.MinRingCrossings)
		}
	}
	if p.LeavesSpanned != 3 {
		t.Errorf("10 nodes on %s span %d leaves; want 3", hl, p.LeavesSpanned)
	}
}
