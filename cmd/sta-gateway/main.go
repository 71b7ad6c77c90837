// Command sta-gateway is the STA Gateway daemon: it takes federated job requests,
// routes each to a Slurm site that may and should run it, submits it over SSH
// exactly once, follows it to its end and charges its core-hours.
//
//	sta-gateway serve [--config FILE] [--listen ADDR] [--state-dir DIR]
//	sta-gateway check-config FILE
//
// Exit codes: 0 ok (a shutdown by SIGTERM or SIGINT is success), 1 error, 2 usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
