-- A slot whose run failed is tried again within its grace (docs/metrics.md "Scheduled jobs"):
-- a transient failure at 09:00 on a Monday (the database restarted, a platform migration) no
-- longer costs the week's payout reminder, nor one at 02:00 the night's reconciliation.
--
-- job_runs.attempts: how many times the slot was started because of a failure (1: the first run;
-- a run resumed after its scheduler stopped or died is not a new attempt). A failed slot is
-- started again once its last attempt ended at least the job's retry_after ago, while the slot
-- is within its grace and attempts < the job's max_attempts.
ALTER TABLE recon.job_runs ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 1;
COMMENT ON COLUMN recon.job_runs.attempts IS
    'How many times this slot ran after a failure, the first run included (a run resumed after its scheduler stopped or died is not a new attempt); a failed slot is retried within its grace until the job''s max_attempts';
