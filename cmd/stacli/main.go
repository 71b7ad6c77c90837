// Command stacli is the command scientists type and batch scripts call to run
// Slurm jobs through an STA Gateway. The commands live in package
// cmd/stacli/internal/cmd/root and below; main only runs them and exits with
// their code.
package main

import (
	"os"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmd/root"
)

func main() {
	os.Exit(root.Main())
}
