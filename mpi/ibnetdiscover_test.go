package mpi

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "re-record testdata/*.ibnetdiscover* from ibsim (needs ibsim-utils and infiniband-diags) and rewrite the golden files")

// The fabrics in testdata/*.net are simulated with ibsim; the real
// ibnetdiscover prints them (speeds show as SDR, LIDs as 0 without a subnet
// manager). `go test ./mpi -run TestIBNetDiscoverRecordings -update`
// records them again.

// recordFabric runs ibsim on a .net file and records `ibnetdiscover` and
// `ibnetdiscover -p`. ibsim is stopped by its own PID.
func recordFabric(t *testing.T, net string) {
	t.Helper()
	for _, tool := range []string{"ibsim", "ibsim-run", "ibnetdiscover"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("-update needs %s: apt-get install -y ibsim-utils infiniband-diags", tool)
		}
	}
	env := append(os.Environ(), fmt.Sprintf("IBSIM_SOCKNAME=stagw-mpi-%d", os.Getpid()))
	sim := exec.Command("ibsim", "-s", net)
	sim.Env = env
	var simOut bytes.Buffer
	sim.Stdout, sim.Stderr = &simOut, &simOut
	if err := sim.Start(); err != nil {
		t.Fatalf("starting ibsim: %v", err)
	}
	defer func() {
		_ = sim.Process.Kill() // our child, by its PID
		_ = sim.Wait()
	}()
	run := func(args ...string) []byte {
		var last error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			cmd := exec.Command("ibsim-run", append([]string{"ibnetdiscover"}, args...)...)
			cmd.Env = env
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err == nil && len(out) > 0 {
				return out
			}
			last = fmt.Errorf("%v: %s", err, stderr.String())
		}
		t.Fatalf("ibnetdiscover %v under ibsim %s: %v\nibsim: %s", args, net, last, simOut.String())
		return nil
	}
	base := strings.TrimSuffix(net, ".net")
	for suffix, args := range map[string][]string{".ibnetdiscover": nil, ".ibnetdiscover-p": {"-p"}} {
		if err := os.WriteFile(base+suffix, run(args...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ibOptions are the compute-node choices for each recorded fabric.
var ibOptions = map[string]IBOptions{
	"fattree": {Exclude: "mgmt01,ufm01"},
	"rails":   {Exclude: "login01"},
}

func mustOpen(tb testing.TB, path string) *os.File {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func mustParseIB(tb testing.TB, path string, opt IBOptions) *Topology {
	tb.Helper()
	top, err := ParseIBNetDiscoverOptions(mustOpen(tb, path), opt)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return top
}

func confText(tb testing.TB, top *Topology) string {
	tb.Helper()
	var b bytes.Buffer
	if err := top.WriteTopologyConf(&b); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// TestIBNetDiscoverRecordings converts every recorded fabric, in both
// report formats, and compares the topology.conf with testdata/X.topology.conf
// (checked by hand once; rewritten by -update).
func TestIBNetDiscoverRecordings(t *testing.T) {
	nets, err := filepath.Glob("testdata/*.net")
	if err != nil || len(nets) == 0 {
		t.Fatalf("no testdata/*.net: %v", err)
	}
	for _, net := range nets {
		base := strings.TrimSuffix(net, ".net")
		name := filepath.Base(base)
		t.Run(name, func(t *testing.T) {
			if *update {
				recordFabric(t, net)
			}
			opt := ibOptions[name]
			def := confText(t, mustParseIB(t, base+".ibnetdiscover", opt))
			ports := confText(t, mustParseIB(t, base+".ibnetdiscover-p", opt))
			// The two reports name HCAs by node GUID and by port GUID;
			// apart from that the conversions agree.
			strip := func(s string) string {
				var out []string
				for _, l := range strings.Split(s, "\n") {
					if !strings.Contains(l, "(HCA ") {
						out = append(out, l)
					}
				}
				return strings.Join(out, "\n")
			}
			if strip(def) != strip(ports) {
				t.Errorf("default and -p reports convert differently:\n%s\n---\n%s", def, ports)
			}
			golden := base + ".topology.conf"
			if *update {
				if err := os.WriteFile(golden, []byte(def), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if def != string(want) {
				t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", golden, def, want)
			}
			// The written topology.conf reads back to the same fabric.
			back, err := ParseTopologyConf(strings.NewReader(def))
			if err != nil {
				t.Fatalf("reading back: %v", err)
			}
			if again := confText(t, back); strip(stripComments(again)) != strip(stripComments(def)) {
				t.Errorf("round trip changed the topology:\n%s\n---\n%s", def, again)
			}
		})
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func switchByName(top *Topology, name string) (Switch, bool) {
	for _, s := range top.Switches() {
		if s.Name == name {
			return s, true
		}
	}
	return Switch{}, false
}

func TestIBFatTree(t *testing.T) {
	top := mustParseIB(t, "testdata/fattree.ibnetdiscover", ibOptions["fattree"])
	if top.Levels() != 2 || top.Islands() != 1 {
		t.Fatalf("levels %d islands %d, want 2 and 1", top.Levels(), top.Islands())
	}
	nodes := top.Nodes()
	if len(nodes) != 16 || nodes[0] != "node01" || nodes[15] != "node16" {
		t.Errorf("nodes = %v, want node01..node16", nodes)
	}
	for _, h := range []string{"mgmt01", "ufm01"} {
		if top.HasNode(h) {
			t.Errorf("%s is a compute node; it was excluded", h)
		}
	}
	if l, _ := top.LeafOf("node13"); l != "leaf04" {
		t.Errorf("node13 on %q, want leaf04", l)
	}
	notes := strings.Join(top.Notes(), "\n")
	for _, want := range []string{
		`"MT4123 ConnectX6   Mellanox Technologies" (HCA 0000000000100022 on leaf04 port 6): no host name`,
		`"Mellanox Technologies Aggregation Node" (HCA 0000000000100024 on spine01 port 36): a SHARP aggregation node`,
		"mgmt01 (HCA 0000000000100000 on leaf04 port 5): excluded",
		"ufm01 (HCA 0000000000100026 on spine02 port 30): excluded",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	// Every leaf has 2 links to each spine: 4 uplinks for 4 hosts.
	for _, l := range []string{"leaf01", "leaf04"} {
		i := top.swIdx[l]
		if got := top.sw[i].uplink; got != 4 {
			t.Errorf("%s uplink capacity %v, want 4", l, got)
		}
	}
	if _, ok := switchByName(top, "spine01+spine02"); !ok {
		t.Errorf("no logical spine: %+v", top.Switches())
	}
}

func TestIBFatTreeWithoutOptions(t *testing.T) {
	// Without options, ufm01 (on a spine) is left out as a host on a
	// spine; mgmt01, on a leaf like any compute node, stays.
	top := mustParseIB(t, "testdata/fattree.ibnetdiscover", IBOptions{})
	if !top.HasNode("mgmt01") || top.HasNode("ufm01") {
		t.Fatalf("mgmt01 %v ufm01 %v; want true, false", top.HasNode("mgmt01"), top.HasNode("ufm01"))
	}
	if l, _ := top.LeafOf("mgmt01"); l != "leaf04" {
		t.Errorf("mgmt01 on %s", l)
	}
	if n := strings.Join(top.Notes(), "\n"); !strings.Contains(n, "left out ufm01 (on spine02): its switch links other switches with hosts") {
		t.Errorf("notes: %s", n)
	}
	// Naming the compute nodes, or excluding the management hosts, gives
	// the same topology.
	named := mustParseIB(t, "testdata/fattree.ibnetdiscover", IBOptions{Nodes: "node[01-16]"})
	if got, want := confText(t, named), confText(t, mustParseIB(t, "testdata/fattree.ibnetdiscover", ibOptions["fattree"])); stripComments(got) != stripComments(want) {
		t.Errorf("Nodes=node[01-16] and Exclude=mgmt01,ufm01 differ:\n%s\n---\n%s", got, want)
	}
	// With the compute nodes named, a host on a spine that is named stays
	// (and the spine then carries hosts, which the notes point out).
	odd := mustParseIB(t, "testdata/fattree.ibnetdiscover", IBOptions{Nodes: "node[01-16],ufm01"})
	if !odd.HasNode("ufm01") || !strings.Contains(strings.Join(odd.Notes(), "\n"), "switch spine02 carries hosts and links to another switch with hosts") {
		t.Errorf("ufm01 named: %v / %q", odd.HasNode("ufm01"), odd.Notes())
	}
}

func TestIBRails(t *testing.T) {
	top := mustParseIB(t, "testdata/rails.ibnetdiscover-p", ibOptions["rails"])
	var leaves []string
	for _, s := range top.Switches() {
		if s.Level == 0 {
			leaves = append(leaves, s.Name+"="+strings.Join(s.Nodes, ","))
		}
	}
	want := []string{"rail0-a+rail1-a=gpu01,gpu02,gpu03,gpu04", "rail0-b+rail1-b=gpu05,gpu06,gpu07,gpu08"}
	if !slices.Equal(leaves, want) {
		t.Errorf("logical leaves %q, want %q", leaves, want)
	}
	if n := strings.Join(top.Notes(), "\n"); !strings.Contains(n, "leaves rail0-a, rail1-a merged into one logical leaf rail0-a+rail1-a: their hosts gpu[01-04]") {
		t.Errorf("no note on the merge: %s", n)
	}
	// Two rail leaves, one link each to each of two spines: 4 uplinks.
	if c := top.sw[top.swIdx["rail0-a+rail1-a"]].uplink; c != 4 {
		t.Errorf("merged leaf uplink capacity %v, want 4", c)
	}
}

func TestIBThreeLevel(t *testing.T) {
	top := mustParseIB(t, "testdata/threelevel.ibnetdiscover", IBOptions{})
	if top.Levels() != 3 {
		t.Fatalf("levels = %d, want 3\n%s", top.Levels(), confText(t, top))
	}
	pod, ok := switchByName(top, "pod1-spine1+pod1-spine2")
	if !ok || pod.Level != 1 || !slices.Equal(pod.Switches, []string{"pod1-leaf1", "pod1-leaf2"}) || pod.Parent != "core1+core2" {
		t.Errorf("pod1 = %+v", pod)
	}
	// A leaf has 3 hosts and 2 uplinks (oversubscribed 3:2); a pod 4.
	if c := top.sw[top.swIdx["pod1-leaf1"]].uplink; c != 2 {
		t.Errorf("leaf uplink %v, want 2", c)
	}
	if c := top.sw[top.swIdx["pod1-spine1+pod1-spine2"]].uplink; c != 4 {
		t.Errorf("pod uplink %v, want 4", c)
	}
}

func TestIBErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"empty", "", 0, "no switches or HCAs"},
		{"garbage", "hello world\n", 1, "unrecognised line"},
		{"port outside record", "\n[1]\t\"S-01\"[1]\t\t# \"x\" lid 0 4xSDR\n", 2, "outside a Switch or Ca record"},
		{"port out of range", "Switch\t2 \"S-01\"\t\t# \"sw\" base port 0 lid 0 lmc 0\n[9]\t\"H-02\"[1](3)\t\t# \"n1 mlx5_0\" lid 0 4xSDR\n", 2, "out of range"},
		{"bad attribute", "colour=blue\n", 1, "unknown attribute"},
		{"described twice", "Switch\t2 \"S-01\"\t# \"a\"\n\nSwitch\t2 \"S-01\"\t# \"a\"\n", 3, "described twice"},
		{"ports report garbage", "SW     0  1 0x01 4x SDR - SW     0  7 0x02 oops\n", 1, "cannot read the link"},
		{"no hosts", "Switch\t2 \"S-01\"\t\t# \"sw\" base port 0 lid 0 lmc 0\n", 0, "no compute hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIBNetDiscover(strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error = %v, want *ParseError", err)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("error = %v (line %d), want line %d containing %q", err, pe.Line, tt.line, tt.msg)
			}
		})
	}
}

func FuzzParseIBNetDiscover(f *testing.F) {
	for _, p := range []string{"testdata/fattree.ibnetdiscover", "testdata/rails.ibnetdiscover-p", "testdata/threelevel.ibnetdiscover-p", "testdata/ibsim-example-2sw2path4hca.ibnetdiscover"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("Switch\t2 \"S-01\"\t# \"a\"\n[1]\t\"H-02\"[1](3)\t# \"n1 x\" lid 0 4xSDR\n")
	f.Fuzz(func(t *testing.T, in string) {
		top, err := ParseIBNetDiscover(strings.NewReader(in))
		if err != nil {
			return
		}
		// Whatever converts must write a topology.conf that reads back.
		text := confText(t, top)
		if _, err := ParseTopologyConf(strings.NewReader(text)); err != nil {
			t.Fatalf("converted topology.conf does not parse: %v\n%s", err, text)
		}
	})
}

// TestIBLineVariants covers what ibsim does not print but ibnetdiscover
// does on real fabrics (formats from infiniband-diags' out_switch_port and
// out_ca_port): LIDs, EDR/HDR rates, "[ext n]" port maps, CA port GUIDs.
func TestIBLineVariants(t *testing.T) {
	in := "#\n# Topology file: generated on Mon Jan  1 00:00:00 2024\n#\n" +
		"vendid=0x2c9\ndevid=0xd2f0\nsysimgguid=0xb8599f0300a1b2c3\nswitchguid=0xb8599f0300a1b2c3(b8599f0300a1b2c3)\n" +
		"Switch\t41 \"S-b8599f0300a1b2c3\"\t\t# \"MF0;leafA:MQM8700/U1\" enhanced port 0 lid 3 lmc 0\n" +
		"[1][ext 1]\t\"H-b8599f0300123456\"[1](b8599f0300123457) \t\t# \"cpu001 mlx5_0\" lid 12 4xHDR\n" +
		"[2]\t\"H-b8599f0300223456\"[1](b8599f0300223457) \t\t# \"cpu002 mlx5_0\" lid 13 4xHDR\n" +
		"[37]\t\"S-b8599f0300ffff00\"[1][ext 1]\t\t# \"MF0;spineA:MQM8700/U1\" lid 5 4xHDR\n" +
		"[38]\t\"S-b8599f0300ffff00\"[2]\t\t# \"MF0;spineA:MQM8700/U1\" lid 5 2xHDR\n" +
		"\nvendid=0x2c9\ndevid=0x101b\nsysimgguid=0xb8599f0300123456\ncaguid=0xb8599f0300123456\n" +
		"Ca\t2 \"H-b8599f0300123456\"\t\t# \"cpu001 mlx5_0\"\n" +
		"[1](b8599f0300123457) \t\"S-b8599f0300a1b2c3\"[1][ext 1] \t\t# lid 12 lmc 0 \"MF0;leafA:MQM8700/U1\" lid 3 4xHDR\n"
	top, err := ParseIBNetDiscover(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := confText(t, top); !strings.Contains(got, "SwitchName=leafA Nodes=cpu[001-002]\n") {
		t.Errorf("topology:\n%s", got)
	}
	// One 4xHDR and one 2xHDR uplink for 4xHDR hosts: 1.5 host links.
	if c := top.sw[top.swIdx["leafA"]].uplink; c != 1.5 {
		t.Errorf("uplink capacity %v, want 1.5", c)
	}
}
