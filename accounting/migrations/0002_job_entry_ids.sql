-- 0002: fewer b-trees written at each hold and settlement.
--
-- A job's row records the ids of its hold, charge and release entries, set
-- once each by a trigger when the entry is booked. They replace the three
-- partial unique indexes on acct_entries (job_id): "one hold, one charge and
-- one release per job" is now the rule that a job's entry ids are set once
-- (a second entry of a kind is refused), and a job's entries are found from
-- its row. A settlement rewrites the job's row (one page) where it wrote two
-- indexes, a hold writes none of them.
--
-- The index of jobs by (site, held_at) goes too: reconciliation finds the
-- jobs held at a site in a period through their hold entries, in
-- acct_entries_by_allocation (a hold's allocation is the job's, its time the
-- job's held_at; Verify checks both).

ALTER TABLE acct_jobs ADD COLUMN hold_entry_id INTEGER;
ALTER TABLE acct_jobs ADD COLUMN charge_entry_id INTEGER;
ALTER TABLE acct_jobs ADD COLUMN release_entry_id INTEGER;

UPDATE acct_jobs SET
    hold_entry_id    = (SELECT e.entry_id FROM acct_entries e WHERE e.job_id = acct_jobs.job_id AND e.kind = 'hold'),
    charge_entry_id  = (SELECT e.entry_id FROM acct_entries e WHERE e.job_id = acct_jobs.job_id AND e.kind = 'charge'),
    release_entry_id = (SELECT e.entry_id FROM acct_entries e WHERE e.job_id = acct_jobs.job_id AND e.kind = 'release');

CREATE TRIGGER acct_jobs_one_entry_of_each_kind BEFORE UPDATE OF hold_entry_id, charge_entry_id, release_entry_id ON acct_jobs
WHEN (OLD.hold_entry_id IS NOT NULL AND NEW.hold_entry_id IS NOT OLD.hold_entry_id)
  OR (OLD.charge_entry_id IS NOT NULL AND NEW.charge_entry_id IS NOT OLD.charge_entry_id)
  OR (OLD.release_entry_id IS NOT NULL AND NEW.release_entry_id IS NOT OLD.release_entry_id)
BEGIN
    SELECT RAISE(ABORT, 'accounting: a job has at most one hold, one charge and one release');
END;

CREATE TRIGGER acct_entries_job_hold AFTER INSERT ON acct_entries
WHEN NEW.kind = 'hold'
BEGIN
    UPDATE acct_jobs SET hold_entry_id = NEW.entry_id WHERE job_id = NEW.job_id;
END;

CREATE TRIGGER acct_entries_job_charge AFTER INSERT ON acct_entries
WHEN NEW.kind = 'charge'
BEGIN
    UPDATE acct_jobs SET charge_entry_id = NEW.entry_id WHERE job_id = NEW.job_id;
END;

CREATE TRIGGER acct_entries_job_release AFTER INSERT ON acct_entries
WHEN NEW.kind = 'release'
BEGIN
    UPDATE acct_jobs SET release_entry_id = NEW.entry_id WHERE job_id = NEW.job_id;
END;

DROP INDEX acct_entries_one_hold_per_job;
DROP INDEX acct_entries_one_charge_per_job;
DROP INDEX acct_entries_one_release_per_job;
DROP INDEX acct_jobs_by_site_held;

-- The open hold's time is the hold entry's (the job's held_at): no read of
-- the job's row.
DROP TRIGGER acct_entries_open_hold;
CREATE TRIGGER acct_entries_open_hold AFTER INSERT ON acct_entries
WHEN NEW.kind = 'hold'
BEGIN
    INSERT INTO acct_open_holds (job_id, held_at) VALUES (NEW.job_id, NEW.at);
END;
