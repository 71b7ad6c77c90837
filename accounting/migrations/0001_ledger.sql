-- 0001: the core-hour ledger.
--
-- Conventions: amounts are integer core-seconds; rates are integer thousandths
-- (1000 = one core-second per CPU-second); times are Unix seconds, UTC; months
-- are integers YYYYMM (UTC). Every table and index of this package starts with
-- "acct_" so that the file can be shared with other packages.
--
-- acct_entries is the ledger; it is append-only (triggers refuse UPDATE and
-- DELETE). acct_balances, acct_usage_monthly and acct_open_holds are caches
-- derived from it, maintained by AFTER INSERT triggers in the same transaction
-- as the entry, so that no write path (this package's code or raw SQL) can
-- change the entries without them. Ledger.Verify recomputes them from the
-- entries.

CREATE TABLE acct_projects (
    project     TEXT    NOT NULL PRIMARY KEY CHECK (project <> ''),
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL CHECK (created_by <> '')
) STRICT;

CREATE TRIGGER acct_projects_no_delete BEFORE DELETE ON acct_projects
BEGIN
    SELECT RAISE(ABORT, 'accounting: projects are never deleted');
END;

-- An allocation: core-seconds granted to a project at a site for the period
-- [starts_at, ends_at). Allocations of one (project, site) never overlap.
-- overdraft: how far below zero holds may take the balance, in core-seconds;
-- 0 none, -1 unlimited.
CREATE TABLE acct_allocations (
    allocation_id INTEGER PRIMARY KEY,
    project       TEXT    NOT NULL REFERENCES acct_projects (project),
    site          TEXT    NOT NULL CHECK (site <> ''),
    slurm_account TEXT    NOT NULL DEFAULT '',
    starts_at     INTEGER NOT NULL,
    ends_at       INTEGER NOT NULL,
    overdraft     INTEGER NOT NULL DEFAULT 0 CHECK (overdraft >= -1),
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL CHECK (created_by <> ''),
    why           TEXT    NOT NULL DEFAULT '',
    request_id    TEXT    UNIQUE,
    CHECK (ends_at > starts_at)
) STRICT;

CREATE INDEX acct_allocations_by_project_site ON acct_allocations (project, site, starts_at);
CREATE INDEX acct_allocations_by_account ON acct_allocations (site, slurm_account);

CREATE TRIGGER acct_allocations_no_overlap BEFORE INSERT ON acct_allocations
WHEN EXISTS (
    SELECT 1 FROM acct_allocations a
    WHERE a.project = NEW.project AND a.site = NEW.site
      AND a.starts_at < NEW.ends_at AND NEW.starts_at < a.ends_at
)
BEGIN
    SELECT RAISE(ABORT, 'accounting: allocation overlaps another of the same project and site');
END;

CREATE TRIGGER acct_allocations_immutable BEFORE UPDATE ON acct_allocations
BEGIN
    SELECT RAISE(ABORT, 'accounting: allocations are immutable');
END;

CREATE TRIGGER acct_allocations_no_delete BEFORE DELETE ON acct_allocations
BEGIN
    SELECT RAISE(ABORT, 'accounting: allocations are never deleted');
END;

-- Charge rates per (site, partition), with their history: the rate in force
-- at time t is the one with the latest effective_from <= t. The partition '*'
-- is the site's default, used when the partition has no rate of its own.
CREATE TABLE acct_rates (
    site            TEXT    NOT NULL CHECK (site <> ''),
    slurm_partition TEXT    NOT NULL CHECK (slurm_partition <> ''),
    effective_from  INTEGER NOT NULL,
    thousandths     INTEGER NOT NULL CHECK (thousandths >= 0),
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL CHECK (created_by <> ''),
    why             TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (site, slurm_partition, effective_from)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER acct_rates_immutable BEFORE UPDATE ON acct_rates
BEGIN
    SELECT RAISE(ABORT, 'accounting: rates are append-only');
END;

CREATE TRIGGER acct_rates_no_delete BEFORE DELETE ON acct_rates
BEGIN
    SELECT RAISE(ABORT, 'accounting: rates are append-only');
END;

-- A job known to the ledger: what its hold was computed from. Only cluster
-- and site_job_id may be filled in later, once.
CREATE TABLE acct_jobs (
    job_id          TEXT    NOT NULL PRIMARY KEY CHECK (job_id <> ''),
    tag             TEXT    NOT NULL UNIQUE CHECK (tag <> ''),
    allocation_id   INTEGER NOT NULL REFERENCES acct_allocations (allocation_id),
    project         TEXT    NOT NULL,
    site            TEXT    NOT NULL,
    slurm_partition TEXT    NOT NULL,
    user_name       TEXT    NOT NULL,
    nodes           INTEGER NOT NULL CHECK (nodes > 0),
    cpus_per_node   INTEGER NOT NULL CHECK (cpus_per_node > 0),
    time_limit      INTEGER NOT NULL CHECK (time_limit > 0),
    rate            INTEGER NOT NULL CHECK (rate >= 0),
    hold_amount     INTEGER NOT NULL CHECK (hold_amount >= 0),
    held_at         INTEGER NOT NULL,
    cluster         TEXT,
    site_job_id     TEXT
) STRICT, WITHOUT ROWID;

CREATE INDEX acct_jobs_by_site_job ON acct_jobs (site, site_job_id) WHERE site_job_id IS NOT NULL;
CREATE INDEX acct_jobs_by_site_held ON acct_jobs (site, held_at);

CREATE TRIGGER acct_jobs_immutable BEFORE UPDATE ON acct_jobs
WHEN NEW.job_id IS NOT OLD.job_id OR NEW.tag IS NOT OLD.tag
  OR NEW.allocation_id IS NOT OLD.allocation_id OR NEW.project IS NOT OLD.project
  OR NEW.site IS NOT OLD.site OR NEW.slurm_partition IS NOT OLD.slurm_partition
  OR NEW.user_name IS NOT OLD.user_name OR NEW.nodes IS NOT OLD.nodes
  OR NEW.cpus_per_node IS NOT OLD.cpus_per_node OR NEW.time_limit IS NOT OLD.time_limit
  OR NEW.rate IS NOT OLD.rate OR NEW.hold_amount IS NOT OLD.hold_amount
  OR NEW.held_at IS NOT OLD.held_at
  OR (OLD.cluster IS NOT NULL AND NEW.cluster IS NOT OLD.cluster)
  OR (OLD.site_job_id IS NOT NULL AND NEW.site_job_id IS NOT OLD.site_job_id)
BEGIN
    SELECT RAISE(ABORT, 'accounting: a job''s ledger record is immutable');
END;

CREATE TRIGGER acct_jobs_no_delete BEFORE DELETE ON acct_jobs
BEGIN
    SELECT RAISE(ABORT, 'accounting: jobs are never deleted');
END;

-- The ledger. amount is in core-seconds and is positive, except for 'adjust'
-- (signed) and zero holds, charges and releases. For a charge, from_hold is
-- the part of the amount covered by the job's hold (it leaves "held" when the
-- charge enters "charged"), overrun the part beyond the hold, cpu_seconds the
-- CPUTimeRAW it was computed from. month is the month the entry counts in: for
-- a charge the month the job ended; for a refund that of the refunded charge.
CREATE TABLE acct_entries (
    entry_id      INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('grant', 'hold', 'charge', 'release', 'refund', 'adjust')),
    allocation_id INTEGER NOT NULL REFERENCES acct_allocations (allocation_id),
    job_id        TEXT    REFERENCES acct_jobs (job_id),
    amount        INTEGER NOT NULL,
    from_hold     INTEGER NOT NULL DEFAULT 0,
    overrun       INTEGER NOT NULL DEFAULT 0,
    cpu_seconds   INTEGER NOT NULL DEFAULT 0,
    rate          INTEGER NOT NULL DEFAULT 0 CHECK (rate >= 0),
    month         INTEGER NOT NULL CHECK (month BETWEEN 100001 AND 999912 AND month % 100 BETWEEN 1 AND 12),
    at            INTEGER NOT NULL,
    recorded_at   INTEGER NOT NULL,
    who           TEXT    NOT NULL CHECK (who <> ''),
    why           TEXT    NOT NULL DEFAULT '',
    request_id    TEXT,
    CHECK (CASE kind
        WHEN 'grant'   THEN amount > 0 AND job_id IS NULL
        WHEN 'adjust'  THEN amount <> 0 AND job_id IS NULL
        WHEN 'hold'    THEN amount >= 0 AND job_id IS NOT NULL
        WHEN 'charge'  THEN amount >= 0 AND job_id IS NOT NULL
                            AND from_hold BETWEEN 0 AND amount AND overrun >= 0 AND cpu_seconds >= 0
        WHEN 'release' THEN amount >= 0 AND job_id IS NOT NULL
        WHEN 'refund'  THEN amount > 0 AND job_id IS NOT NULL
    END),
    CHECK (kind = 'charge' OR (from_hold = 0 AND overrun = 0 AND cpu_seconds = 0))
) STRICT;

-- Idempotency by job: one hold, one charge and one release per job.
CREATE UNIQUE INDEX acct_entries_one_hold_per_job ON acct_entries (job_id) WHERE kind = 'hold';
CREATE UNIQUE INDEX acct_entries_one_charge_per_job ON acct_entries (job_id) WHERE kind = 'charge';
CREATE UNIQUE INDEX acct_entries_one_release_per_job ON acct_entries (job_id) WHERE kind = 'release';
-- A job's entries are found through these (queries name the kind literally
-- so that the partial indexes apply) and this one for refunds:
CREATE INDEX acct_entries_refunds_by_job ON acct_entries (job_id) WHERE kind = 'refund';
-- Idempotency by request for grants, adjustments and refunds.
CREATE UNIQUE INDEX acct_entries_by_request ON acct_entries (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX acct_entries_by_allocation ON acct_entries (allocation_id, at);
CREATE INDEX acct_entries_overruns ON acct_entries (month) WHERE kind = 'charge' AND overrun > 0;

CREATE TRIGGER acct_entries_no_update BEFORE UPDATE ON acct_entries
BEGIN
    SELECT RAISE(ABORT, 'accounting: entries are append-only');
END;

CREATE TRIGGER acct_entries_no_delete BEFORE DELETE ON acct_entries
BEGIN
    SELECT RAISE(ABORT, 'accounting: entries are append-only');
END;

-- Cache: one row per allocation, the sums of its entries.
CREATE TABLE acct_balances (
    allocation_id INTEGER NOT NULL PRIMARY KEY REFERENCES acct_allocations (allocation_id),
    granted       INTEGER NOT NULL DEFAULT 0,
    adjusted      INTEGER NOT NULL DEFAULT 0,
    held          INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
    charged       INTEGER NOT NULL DEFAULT 0,
    refunded      INTEGER NOT NULL DEFAULT 0,
    overrun       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TRIGGER acct_allocations_balance AFTER INSERT ON acct_allocations
BEGIN
    INSERT INTO acct_balances (allocation_id) VALUES (NEW.allocation_id);
END;

CREATE TRIGGER acct_entries_balance AFTER INSERT ON acct_entries
BEGIN
    UPDATE acct_balances SET
        granted  = granted  + (CASE NEW.kind WHEN 'grant'  THEN NEW.amount ELSE 0 END),
        adjusted = adjusted + (CASE NEW.kind WHEN 'adjust' THEN NEW.amount ELSE 0 END),
        held     = held     + (CASE NEW.kind WHEN 'hold' THEN NEW.amount
                                             WHEN 'release' THEN -NEW.amount
                                             WHEN 'charge' THEN -NEW.from_hold ELSE 0 END),
        charged  = charged  + (CASE NEW.kind WHEN 'charge' THEN NEW.amount ELSE 0 END),
        refunded = refunded + (CASE NEW.kind WHEN 'refund' THEN NEW.amount ELSE 0 END),
        overrun  = overrun  + NEW.overrun
    WHERE allocation_id = NEW.allocation_id;
END;

-- Cache: usage per month, project, site, partition and user (charges less
-- refunds), what the usage reports read.
CREATE TABLE acct_usage_monthly (
    month           INTEGER NOT NULL,
    project         TEXT    NOT NULL,
    site            TEXT    NOT NULL,
    slurm_partition TEXT    NOT NULL,
    user_name       TEXT    NOT NULL,
    jobs            INTEGER NOT NULL,
    cpu_seconds     INTEGER NOT NULL,
    charged         INTEGER NOT NULL,
    refunded        INTEGER NOT NULL,
    overrun         INTEGER NOT NULL,
    PRIMARY KEY (month, project, site, slurm_partition, user_name)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER acct_entries_usage AFTER INSERT ON acct_entries
WHEN NEW.kind IN ('charge', 'refund')
BEGIN
    INSERT INTO acct_usage_monthly
        (month, project, site, slurm_partition, user_name, jobs, cpu_seconds, charged, refunded, overrun)
    SELECT NEW.month, j.project, j.site, j.slurm_partition, j.user_name,
           (CASE NEW.kind WHEN 'charge' THEN 1 ELSE 0 END),
           NEW.cpu_seconds,
           (CASE NEW.kind WHEN 'charge' THEN NEW.amount ELSE 0 END),
           (CASE NEW.kind WHEN 'refund' THEN NEW.amount ELSE 0 END),
           NEW.overrun
    FROM acct_jobs j WHERE j.job_id = NEW.job_id
    ON CONFLICT (month, project, site, slurm_partition, user_name) DO UPDATE SET
        jobs        = jobs        + excluded.jobs,
        cpu_seconds = cpu_seconds + excluded.cpu_seconds,
        charged     = charged     + excluded.charged,
        refunded    = refunded    + excluded.refunded,
        overrun     = overrun     + excluded.overrun;
END;

-- Cache: holds not yet released (what the re-check of long-pending jobs
-- scans; it holds the jobs in flight, a few thousand, so it has no index of
-- its own to maintain at every hold and release).
CREATE TABLE acct_open_holds (
    job_id  TEXT    NOT NULL PRIMARY KEY REFERENCES acct_jobs (job_id),
    held_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TRIGGER acct_entries_open_hold AFTER INSERT ON acct_entries
WHEN NEW.kind = 'hold'
BEGIN
    INSERT INTO acct_open_holds (job_id, held_at)
    SELECT job_id, held_at FROM acct_jobs WHERE job_id = NEW.job_id;
END;

CREATE TRIGGER acct_entries_close_hold AFTER INSERT ON acct_entries
WHEN NEW.kind = 'release'
BEGIN
    DELETE FROM acct_open_holds WHERE job_id = NEW.job_id;
END;
