// Package gateway is the sta-gateway daemon: its configuration, the HTTP API
// (/v1), the job lifecycle that submits each accepted request exactly once, the
// per-site pollers that follow jobs to their end, and the charging of their usage.
//
// It composes package slurm (sites over SSH), package accounting (the core-hour
// ledger) and package mpi (placement) through small interfaces it declares, and it
// owns its own SQLite tables (jobs, their events, idempotency keys) beside the
// ledger's in one database file.
package gateway
