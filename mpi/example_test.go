package mpi_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/sta-federation/sta-gateway/mpi"
)

const siteTopology = `# two leaves of two nodes under one spine
SwitchName=leaf1 Nodes=hydro[01-02]
SwitchName=leaf2 Nodes=hydro[03-04]
SwitchName=spine Switches=leaf[1-2]
`

func ExamplePlace() {
	top, err := mpi.ParseTopologyConf(strings.NewReader(siteTopology))
	if err != nil {
		fmt.Println(err)
		return
	}
	free, _ := mpi.FreeNodesFromHostlist("hydro[01,03-04]")
	plan, err := mpi.Place(top, free, mpi.Request{Nodes: 2, TasksPerNode: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(plan.Nodelist, plan.LeavesSpanned, plan.LeavesLowerBound, plan.RingLeafCrossings)
	_ = plan.Write(os.Stdout, "hostfile")
	// Output:
	// hydro[03-04] 1 1 0
	// hydro03
	// hydro03
	// hydro04
	// hydro04
}

func ExamplePlan_WriteRankfile() {
	top, _ := mpi.ParseTopologyConf(strings.NewReader(siteTopology))
	free, _ := mpi.FreeNodesFromHostlist("hydro[01-04]")
	plan, _ := mpi.Place(top, free, mpi.Request{Nodes: 1, TasksPerNode: 2, CPUsPerTask: 4})
	_ = plan.WriteRankfile(os.Stdout)
	// Output:
	// rank 0=hydro01 slot=0-3
	// rank 1=hydro01 slot=4-7
}

func ExampleParseIBNetDiscover() {
	f, err := os.Open("testdata/rails.ibnetdiscover")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	top, err := mpi.ParseIBNetDiscoverOptions(f, mpi.IBOptions{Exclude: "login01"})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = top.WriteTopologyConf(os.Stdout)
	// Output:
	// # Slurm topology.conf (topology/tree)
	// # leaves rail0-a, rail1-a merged into one logical leaf rail0-a+rail1-a: their hosts gpu[01-04] have HCAs on each (rails)
	// # leaves rail0-b, rail1-b merged into one logical leaf rail0-b+rail1-b: their hosts gpu[05-08] have HCAs on each (rails)
	// # left out login01 (HCA 0000000000100000 on spine01 port 36): excluded as not a compute node
	// SwitchName=rail0-a+rail1-a Nodes=gpu[01-04]
	// SwitchName=rail0-b+rail1-b Nodes=gpu[05-08]
	// SwitchName=spine01+spine02 Switches=rail0-a+rail1-a,rail0-b+rail1-b
}

func ExampleParseTopologyConf_error() {
	_, err := mpi.ParseTopologyConf(strings.NewReader("SwitchName=s1 Nodes=n[1-4]\nSwitchName=s2 Nodes=n[4-8]\n"))
	fmt.Println(err)
	// Output: topology.conf:2: node n4 is on two leaf switches, s1 at line 1 and s2; merge them into one leaf (rails of one host belong to one logical leaf)
}
