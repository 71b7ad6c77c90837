// Package slurm reaches one Slurm site over SSH and speaks to its commands.
//
// A Client holds one SSH connection per (site, login), runs many sessions on it
// (bounded below sshd's MaxSessions), keeps it alive and redials it when it dies.
// Commands are argument vectors, quoted here and never spliced into a shell line
// unquoted; stdin (a batch script) travels as data. Two executors run them: one
// command per SSH session, and a persistent executor that feeds commands to a
// long-lived shell (sbatch at local speed); a site that forces a command gets the
// first only.
//
// Submit runs sbatch exactly once per request: the caller's tag travels in
// --comment, an outcome that cannot be known (a cut connection, a timeout, "Socket
// timed out") is reported as ambiguous, never as a failure, and FindByTag resolves it
// after a fence. Pure parsers of squeue, sacct, scontrol and sbatch output live beside
// the transport and are tested on output recorded from the real Slurm.
//
// The package imports only its two leaves, slurm/hostlist and slurm/sbatch.
package slurm
