// Package hostlist expands and compresses Slurm hostlist expressions such as
// "node[01-04,07]" or "rack[1-2]-n[1-3]". It is a leaf: it imports nothing of
// this project.
package hostlist
