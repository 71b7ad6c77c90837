-- 0003: the caches are folded in batches.
--
-- acct_balances, acct_usage_monthly and acct_open_holds were kept by AFTER
-- INSERT triggers, three more b-trees written at every hold and settlement.
-- They now hold the entries up to acct_cache_mark.entry_id (the mark) and are
-- brought forward in batches: every write of the ledger whose entry id is a
-- multiple of 64 folds the entries after the mark into them and moves the
-- mark, in the same transaction. Whatever reads them (a hold's balance check,
-- Balances, Usage, OpenHolds) adds the entries after the mark, read in the
-- same statement, so what the ledger reports is always the sum of all its
-- entries, whichever way they were written. Verify checks the caches against
-- the entries up to the mark.
--
-- A fold cannot fail on the entries it adds: what made the balance's
-- "held >= 0" fail at an entry's insert is now refused at the insert by the
-- triggers below, per job (a hold, its release and the part of a charge taken
-- from it are on the job's allocation; a hold is the job's hold amount; a
-- release or a charge never takes more than the job still holds).

CREATE TABLE acct_cache_mark (
    id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    entry_id INTEGER NOT NULL CHECK (entry_id >= 0)
) STRICT;

INSERT INTO acct_cache_mark (id, entry_id) VALUES (1, (SELECT coalesce(max(entry_id), 0) FROM acct_entries));

CREATE TRIGGER acct_cache_mark_no_delete BEFORE DELETE ON acct_cache_mark
BEGIN
    SELECT RAISE(ABORT, 'accounting: the cache mark is never deleted');
END;

CREATE TRIGGER acct_cache_mark_forward BEFORE UPDATE ON acct_cache_mark
WHEN NEW.id IS NOT OLD.id OR NEW.entry_id < OLD.entry_id
  OR NEW.entry_id > (SELECT coalesce(max(entry_id), 0) FROM acct_entries)
BEGIN
    SELECT RAISE(ABORT, 'accounting: the cache mark only moves forward, up to the last entry');
END;

DROP TRIGGER acct_entries_balance;
DROP TRIGGER acct_entries_usage;
DROP TRIGGER acct_entries_open_hold;
DROP TRIGGER acct_entries_close_hold;

-- An entry is never booked behind the mark (plain SQL naming an unused id):
-- the caches would never see it.
CREATE TRIGGER acct_entries_after_mark AFTER INSERT ON acct_entries
WHEN NEW.entry_id <= (SELECT entry_id FROM acct_cache_mark WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'accounting: an entry is booked after the last one');
END;

CREATE TRIGGER acct_entries_hold_is_the_jobs BEFORE INSERT ON acct_entries
WHEN NEW.kind = 'hold' AND NOT EXISTS (
    SELECT 1 FROM acct_jobs j
    WHERE j.job_id = NEW.job_id AND j.allocation_id = NEW.allocation_id AND j.hold_amount = NEW.amount)
BEGIN
    SELECT RAISE(ABORT, 'accounting: a hold is its job''s hold amount on its job''s allocation');
END;

CREATE TRIGGER acct_entries_release_within_hold BEFORE INSERT ON acct_entries
WHEN NEW.kind = 'release' AND NOT EXISTS (
    SELECT 1 FROM acct_jobs j
    WHERE j.job_id = NEW.job_id AND j.allocation_id = NEW.allocation_id
      AND NEW.amount <= j.hold_amount
                        - coalesce((SELECT c.from_hold FROM acct_entries c WHERE c.entry_id = j.charge_entry_id), 0))
BEGIN
    SELECT RAISE(ABORT, 'accounting: a release gives back at most what its job holds, to its job''s allocation');
END;

CREATE TRIGGER acct_entries_charge_within_hold BEFORE INSERT ON acct_entries
WHEN NEW.kind = 'charge' AND NEW.from_hold > 0 AND NOT EXISTS (
    SELECT 1 FROM acct_jobs j
    WHERE j.job_id = NEW.job_id AND j.allocation_id = NEW.allocation_id
      AND NEW.from_hold <= j.hold_amount
                           - coalesce((SELECT r.amount FROM acct_entries r WHERE r.entry_id = j.release_entry_id), 0))
BEGIN
    SELECT RAISE(ABORT, 'accounting: a charge takes from the hold at most what its job holds, on its job''s allocation');
END;
