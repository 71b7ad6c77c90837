// Package stagateway is the root of STA Gateway, the federation gateway that lets
// the research clouds of several countries run Slurm jobs as one.
//
// The code lives in the sub-packages (see README.md and ARCHITECTURE.md); this
// package holds only the repository-wide tests, such as the one that enforces
// the dependency rules between packages.
package stagateway
