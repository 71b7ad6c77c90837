package mpi

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

// MustParseTopologyConf parses a topology.conf text or fails the test.
func MustParseTopologyConf(tb testing.TB, text string) *Topology {
	tb.Helper()
	t, err := ParseTopologyConf(strings.NewReader(text))
	if err != nil {
		tb.Fatalf("ParseTopologyConf: %v\n%s", err, text)
	}
	return t
}

func mustParseConfFile(tb testing.TB, path string) *Topology {
	tb.Helper()
	t, err := ParseTopologyConf(mustOpen(tb, path))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return t
}

// shape summarises a topology as "switch(level)>parent:nodes" lines.
func shape(t *Topology) []string {
	var out []string
	for _, s := range t.Switches() {
		line := s.Name + "(" + string(rune('0'+s.Level)) + ")"
		if s.Parent != "" {
			line += ">" + s.Parent
		}
		if len(s.Nodes) > 0 {
			nl, _ := hostlist.Compress(s.Nodes)
			line += ":" + nl
		}
		out = append(out, line)
	}
	return out
}

func TestParseTopologyConfFiles(t *testing.T) {
	tests := []struct {
		file    string
		kind    Kind
		levels  int
		islands int
		nodes   int
		shape   []string
	}{
		{"ca-hydro.conf", KindTree, 2, 1, 4, []string{"spine(1)", "leaf1(0)>spine:hydro[01-02]", "leaf2(0)>spine:hydro[03-04]"}},
		{"fattree-handwritten.conf", KindTree, 2, 1, 64, []string{
			"spine(1)", "leaf01(0)>spine:c[001-016]", "leaf02(0)>spine:c[017-032]",
			"leaf03(0)>spine:c[033-048]", "leaf04(0)>spine:c[049-064]"}},
		{"three-level.conf", KindTree, 3, 2, 56, []string{
			"core(2)", "pod1(1)>core", "r1l1(0)>pod1:r1-n[01-08]", "r1l2(0)>pod1:r1-n[09-16]",
			"pod2(1)>core", "r2l1(0)>pod2:r2-n[01-08]", "r2l2(0)>pod2:r2-n[09-16]",
			"pod3(1)>core", "r3l1(0)>pod3:r3-n[01-08]", "r3l2(0)>pod3:r3-n[09-16]",
			"gpuleaf(0):g1n[1-4],g2n[1-4]"}},
		{"islands.conf", KindTree, 2, 2, 20, []string{
			"fabricA(1)", "a1(0)>fabricA:a[01-04]", "a2(0)>fabricA:a[05-08]",
			"fabricB(1)", "b1(0)>fabricB:b[01-06]", "b2(0)>fabricB:b[07-12]"}},
		{"irregular.conf", KindTree, 3, 1, 22, []string{
			"root(2)", "lx(0)>root:x[1-6]", "p1(1)>root", "l1(0)>p1:n[01-04]", "l2(0)>p1:n[05-08]",
			"p2(1)>root", "l3(0)>p2:n[09-12]", "l4(0)>p2:n[13-16]"}},
		{"block.conf", KindBlock, 2, 1, 128, []string{
			"block[1-4](1)", "block1(0)>block[1-4]:node[1-32]", "block2(0)>block[1-4]:node[33-64]",
			"block3(0)>block[1-4]:node[65-96]", "block4(0)>block[1-4]:node[97-128]"}},
		{"block-default.conf", KindBlock, 4, 1, 24, []string{
			"b[1-6](3)", "b[1-4](2)>b[1-6]", "b[1-2](1)>b[1-4]", "b1(0)>b[1-2]:n[01-04]", "b2(0)>b[1-2]:n[05-08]",
			"b[3-4](1)>b[1-4]", "b3(0)>b[3-4]:n[09-12]", "b4(0)>b[3-4]:n[13-16]",
			"b[5-6](1)>b[1-6]", "b5(0)>b[5-6]:n[17-20]", "b6(0)>b[5-6]:n[21-24]"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			top := mustParseConfFile(t, filepath.Join("testdata/conf", tt.file))
			if top.Kind() != tt.kind || top.Levels() != tt.levels || top.Islands() != tt.islands || len(top.Nodes()) != tt.nodes {
				t.Errorf("kind %s levels %d islands %d nodes %d; want %s %d %d %d",
					top.Kind(), top.Levels(), top.Islands(), len(top.Nodes()), tt.kind, tt.levels, tt.islands, tt.nodes)
			}
			if got := shape(top); !slices.Equal(got, tt.shape) {
				t.Errorf("shape:\n got %q\nwant %q", got, tt.shape)
			}
			// Written and read again, the topology is the same.
			text := confText(t, top)
			back := MustParseTopologyConf(t, text)
			if got := shape(back); !slices.Equal(got, tt.shape) {
				t.Errorf("after a round trip through\n%s\nshape %q", text, got)
			}
			if !slices.Equal(back.Nodes(), top.Nodes()) {
				t.Errorf("round trip changed node order")
			}
		})
	}
}

func TestBlockSizesWritten(t *testing.T) {
	top := mustParseConfFile(t, "testdata/conf/block.conf")
	if got := top.BlockSizes(); !slices.Equal(got, []int{30, 120}) {
		t.Errorf("BlockSizes = %v", got)
	}
	text := confText(t, top)
	if !strings.Contains(text, "BlockSizes=30,120\n") || !strings.Contains(text, "BlockName=block4 Nodes=node[97-128]\n") {
		t.Errorf("written block topology:\n%s", text)
	}
	for _, s := range top.Switches() {
		if s.Derived != (s.Level > 0) {
			t.Errorf("%s: derived %v at level %d", s.Name, s.Derived, s.Level)
		}
	}
}

func TestParseTopologyConfErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"empty", "# nothing\n\n", 0, "no SwitchName or BlockName"},
		{"unknown key", "SwitchName=s1 Nodes=n1 Colour=red\n", 1, `unknown key "Colour"`},
		{"unknown first key", "\nNodeName=n1\n", 2, `unknown key "NodeName"`},
		{"nodes first", "Nodes=n1 SwitchName=s1\n", 1, "must follow SwitchName"},
		{"not key=value", "SwitchName=s1 Nodes=n1 oops\n", 1, `"oops" is not key=value`},
		{"duplicate key", "SwitchName=s1 Nodes=n1 nodes=n2\n", 1, "appears twice"},
		{"bad hostlist", "SwitchName=s1 Nodes=n[1-3\n", 1, "Nodes=n[1-3: hostlist"},
		{"bad hostlist offset", "SwitchName=s1 Nodes=n[3-1]\n", 1, "offset 2"},
		{"empty nodes", "SwitchName=s1 Nodes=\n", 1, "Nodes= is empty"},
		{"both", "SwitchName=s1 Nodes=n1 Switches=s2\nSwitchName=s2 Nodes=n2\n", 1, "both Nodes and Switches"},
		{"neither", "SwitchName=s1\n", 1, "neither Nodes nor Switches"},
		{"undefined child", "SwitchName=s1 Nodes=n1\nSwitchName=top Switches=s[1-2]\n", 2, "child switch s2 is not defined"},
		{"defined twice", "SwitchName=s1 Nodes=n1\n\nSwitchName=s1 Nodes=n2\n", 3, "defined twice (first at line 1)"},
		{"node twice", "SwitchName=s1 Nodes=n[1-2]\nSwitchName=s2 Nodes=n[2-3]\n", 2, "node n2 is on two leaf switches, s1 at line 1 and s2"},
		{"two parents", "SwitchName=l Nodes=n1\nSwitchName=a Switches=l\nSwitchName=b Switches=l\n", 3, "switch l has two parents, a at line 2 and b"},
		{"cycle", "SwitchName=l Nodes=n1\nSwitchName=a Switches=b\nSwitchName=b Switches=a\n", 2, "cycle"},
		{"self child", "SwitchName=a Switches=a\n", 1, "lists itself"},
		{"linkspeed", "SwitchName=s1 Nodes=n1 LinkSpeed=fast\n", 1, "LinkSpeed=fast is not a number"},
		{"long name", "SwitchName=" + strings.Repeat("x", 65) + " Nodes=n1\n", 1, "longer than 64"},
		{"include", "Include /etc/slurm/other.conf\n", 1, "Include is not supported"},
		{"unterminated quote", "SwitchName=\"s1 Nodes=n1\n", 1, "unterminated quote"},
		{"continued error line", "SwitchName=s1 \\\n  Nodes=n1 \\\n  Bogus=1\n", 1, `unknown key "Bogus"`},
		{"mixed plugins", "SwitchName=s1 Nodes=n1\nBlockName=b1 Nodes=n2\n", 2, "BlockName (topology/block) in a file of SwitchName lines"},
		{"mixed plugins 2", "BlockName=b1 Nodes=n2\nSwitchName=s1 Nodes=n1\n", 2, "SwitchName (topology/tree) in a file of BlockName lines"},
		{"block sizes", "BlockName=b1 Nodes=n[1-4]\nBlockSizes=4,12\n", 2, "12 is not a power-of-two multiple of 4"},
		{"block sizes zero", "BlockName=b1 Nodes=n[1-4]\nBlockSizes=0\n", 2, "not a positive number"},
		{"block too small", "BlockName=b1 Nodes=n[1-4]\nBlockName=b2 Nodes=n[5-6]\nBlockSizes=4\n", 2, "block b2 has 2 nodes, fewer than the base block size 4"},
		{"block sizes alone", "BlockSizes=4\n", 1, "BlockSizes without any BlockName"},
		{"block sizes twice", "BlockName=b1 Nodes=n[1-4]\nBlockSizes=4\nBlockSizes=4\n", 3, "given twice"},
		{"block no nodes", "BlockName=b1\n", 1, "has no Nodes"},
		{"block node twice", "BlockName=b1 Nodes=n[1-2]\nBlockName=b2 Nodes=n[2-3]\n", 2, "node n2 is on two leaf switches"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTopologyConf(strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error = %v, want *ParseError", err)
			}
			if pe.Line != tt.line || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %q (line %d); want line %d containing %q", err, pe.Line, tt.line, tt.msg)
			}
			if tt.line > 0 && !strings.HasPrefix(err.Error(), "topology.conf:") {
				t.Errorf("error %q does not start with topology.conf:LINE", err)
			}
		})
	}
}

func TestParseTopologyConfWrapsHostlistError(t *testing.T) {
	_, err := ParseTopologyConf(strings.NewReader("SwitchName=s1 Nodes=n[1-2\n"))
	var se *hostlist.SyntaxError
	if !errors.As(err, &se) || se.Offset != 1 {
		t.Errorf("error %v does not wrap the hostlist.SyntaxError", err)
	}
}

func TestNewTopology(t *testing.T) {
	top, err := NewTopology([]SwitchSpec{
		{Name: "top", Switches: []string{"l2", "l1"}},
		{Name: "l1", Nodes: []string{"n2", "n1"}},
		{Name: "l2", Nodes: []string{"n3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// NewTopology keeps the order given.
	if got := top.Nodes(); !slices.Equal(got, []string{"n3", "n2", "n1"}) {
		t.Errorf("Nodes() = %v", got)
	}
	if _, err := NewTopology(nil); err == nil {
		t.Error("NewTopology(nil) succeeded")
	}
	if _, err := NewTopology([]SwitchSpec{{Name: "bad name", Nodes: []string{"n1"}}}); err == nil || !strings.Contains(err.Error(), "contains a space") {
		t.Errorf("bad name accepted: %v", err)
	}
}

func FuzzParseTopologyConf(f *testing.F) {
	files, _ := filepath.Glob("testdata/conf/*.conf")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("SwitchName=a Switches=b\nSwitchName=b Switches=a\n")
	f.Add("BlockName=b1 Nodes=n[1-4]\nBlockSizes=4,8,16\n")
	f.Fuzz(func(t *testing.T, in string) {
		top, err := ParseTopologyConf(strings.NewReader(in))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		// A parsed topology writes a file that parses to the same shape.
		text := confText(t, top)
		back, err := ParseTopologyConf(strings.NewReader(text))
		if err != nil {
			t.Fatalf("written topology does not parse: %v\n%s", err, text)
		}
		if a, b := shape(top), shape(back); !slices.Equal(a, b) {
			t.Fatalf("round trip changed the shape:\n%q\n%q", a, b)
		}
		// And any plan on it respects the basic properties.
		nodes := top.Nodes()
		if len(nodes) == 0 || len(nodes) > 5000 {
			return
		}
		free := make([]FreeNode, 0, len(nodes))
		for i, n := range nodes {
			if i%3 != 1 {
				free = append(free, FreeNode{Name: n})
			}
		}
		p, err := Place(top, free, Request{Nodes: 1 + len(free)/3})
		if err != nil {
			if !errors.Is(err, ErrNotEnoughNodes) {
				t.Fatalf("Place: %v", err)
			}
			return
		}
		if p.LeavesSpanned != p.LeavesLowerBound {
			t.Fatalf("leaves %d, lower bound %d", p.LeavesSpanned, p.LeavesLowerBound)
		}
	})
}

func TestParseTopology(t *testing.T) {
	for _, tt := range []struct{ file, from string }{
		{"testdata/conf/ca-hydro.conf", ""},
		{"testdata/conf/ca-hydro.conf", "topology.conf"},
		{"testdata/threelevel.ibnetdiscover-p", "ibnetdiscover"},
	} {
		if _, err := ParseTopology(mustOpen(t, tt.file), tt.from); err != nil {
			t.Errorf("%s from %q: %v", tt.file, tt.from, err)
		}
	}
	if _, err := ParseTopology(strings.NewReader(""), "yaml"); err == nil || !strings.Contains(err.Error(), "unknown topology source") {
		t.Errorf("yaml: %v", err)
	}
}
