-- A slot runs once while its runner is alive (docs/metrics.md "Scheduled jobs").
--
-- job_runs.runner / heartbeat_at: the run's owner token and its liveness. The runner refreshes
-- heartbeat_at (database clock) every few seconds on its lock's connection; another scheduler
-- takes over a slot left 'running' only when the job's lock is free AND that heartbeat is stale
-- (older than the scheduler's stale_after, 30 s by default). Recording the end of a run is fenced
-- by the token: a runner whose slot was taken over records nothing.
ALTER TABLE recon.job_runs ADD COLUMN IF NOT EXISTS runner text NULL;
ALTER TABLE recon.job_runs ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz NULL;
COMMENT ON COLUMN recon.job_runs.runner IS
    'Token of the scheduler run that owns this row; finishing the run is fenced by it (a run whose slot was taken over records nothing)';
COMMENT ON COLUMN recon.job_runs.heartbeat_at IS
    'Last sign of life of the running run (database clock, every few seconds); a running row is taken over only when its job lock is free and this is stale (NULL: written by a scheduler older than migration 0036, stale)';
