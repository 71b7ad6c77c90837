-- 0009: a release, or a charge that takes from the hold, needs the job's
-- hold entry.
--
-- The check against the job's hold (0008) read the hold's amount from the
-- job's row, which plain SQL may insert without its hold entry. A release
-- (or a charge from the hold) of such a job then took "held" below zero at
-- the next fold, which failed on acct_balances' CHECK (held >= 0) and kept
-- failing: every later fold stopped there. It is now refused at its insert,
-- with the same message as a release or charge beyond what the job holds.

DROP TRIGGER acct_entries_within_job;

CREATE TRIGGER acct_entries_within_job BEFORE INSERT ON acct_entries
WHEN NEW.kind = 'hold' OR NEW.kind = 'release' OR (NEW.kind = 'charge' AND NEW.from_hold > 0)
BEGIN
    SELECT RAISE(ABORT, CASE NEW.kind
        WHEN 'hold'    THEN 'accounting: a hold is its job''s hold amount on its job''s allocation'
        WHEN 'release' THEN 'accounting: a release gives back at most what its job holds, to its job''s allocation'
        ELSE 'accounting: a charge takes from the hold at most what its job holds, on its job''s allocation' END)
    WHERE NOT EXISTS (
        SELECT 1 FROM acct_jobs j
        WHERE j.job_id = NEW.job_id AND j.allocation_id = NEW.allocation_id
          AND (NEW.kind = 'hold' OR j.hold_entry_id IS NOT NULL)
          AND CASE NEW.kind
              WHEN 'hold'    THEN j.hold_amount = NEW.amount
              WHEN 'release' THEN NEW.amount <= j.hold_amount - coalesce((SELECT c.from_hold FROM acct_entries c WHERE c.entry_id = j.charge_entry_id), 0)
              ELSE NEW.from_hold <= j.hold_amount - coalesce((SELECT r.amount FROM acct_entries r WHERE r.entry_id = j.release_entry_id), 0)
              END);
END;
