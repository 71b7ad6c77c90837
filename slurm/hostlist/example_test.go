package hostlist_test

import (
	"fmt"

	"github.com/sta-federation/sta-gateway/slurm/hostlist"
)

func ExampleExpand() {
	hosts, err := hostlist.Expand("node[01-03,07],r[1-2]n[1-2]")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(hosts)
	// Output: [node01 node02 node03 node07 r1n1 r1n2 r2n1 r2n2]
}

func ExampleExpand_error() {
	_, err := hostlist.Expand("node[01-04")
	fmt.Println(err)
	// Output: hostlist "node[01-04": at offset 4: '[' is never closed
}

func ExampleCompress() {
	expr, err := hostlist.Compress([]string{"node10", "node09", "login", "node11", "node02"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(expr)
	// Output: login,node[02,09-11]
}
