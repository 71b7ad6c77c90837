// Command gatewayconf prints a sta-gateway configuration for the dev sites (see
// devsites.GatewayConfig): gatewayconf STATE_DIR LISTEN TOKEN POLL_INTERVAL. It reads
// the STA_DEV_* variables of scripts/dev-sites.sh env; scripts/demo.sh uses it.
package main

import (
	"fmt"
	"os"

	"github.com/sta-federation/sta-gateway/internal/devsites"
)

func main() {
	e, err := devsites.FromEnv()
	if err != nil {
		panic(err)
	}
	fmt.Print(e.GatewayConfig(os.Args[1], os.Args[2], os.Args[3], os.Args[4]))
}
