-- The SHA-256 of the script the user sent and of the one submitted to Slurm
-- (they differ when the gateway adds a preamble: placement = topology).
ALTER TABLE gateway_jobs ADD COLUMN script_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE gateway_jobs ADD COLUMN submitted_sha256 TEXT NOT NULL DEFAULT '';
