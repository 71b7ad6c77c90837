-- 0004: the job row's immutability is checked only by the UPDATEs that name
-- one of its columns.
--
-- Every entry of a job rewrites the job's row to record the entry's id
-- (acct_entries_job_hold, _charge, _release in 0002), and every rewrite ran
-- acct_jobs_immutable, fifteen comparisons for columns it never sets. With
-- UPDATE OF the trigger fires when an UPDATE's SET names any column but the
-- three entry ids (those stay guarded by acct_jobs_one_entry_of_each_kind):
-- what an UPDATE may change is what it was before.

DROP TRIGGER acct_jobs_immutable;
CREATE TRIGGER acct_jobs_immutable BEFORE UPDATE OF
    job_id, tag, allocation_id, project, site, slurm_partition, user_name, nodes, cpus_per_node,
    time_limit, rate, hold_amount, held_at, cluster, site_job_id ON acct_jobs
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
