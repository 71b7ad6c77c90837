-- What the latest re-check of a long-pending job's hold found wrong ('' when fine).
ALTER TABLE gateway_jobs ADD COLUMN hold_problem TEXT NOT NULL DEFAULT '';
