// Package gateway is the sta-gateway daemon: its configuration, the HTTP API
// (/v1, with its OpenAPI document, health, readiness and Prometheus metrics),
// routing (filters that say why, a score from the cached site view, carbon and
// cost), topology-aware placement with its job preamble, the job lifecycle that
// submits each accepted request exactly once, the per-site pollers that follow
// jobs to their end, the charging of their usage, and the audit trail.
//
// It composes package slurm (sites over SSH), package accounting (the core-hour
// ledger) and package mpi (placement), and it owns its own SQLite tables (jobs,
// their events, idempotency keys, runtime projects, the audit trail) beside the
// ledger's in one database file.
package gateway
