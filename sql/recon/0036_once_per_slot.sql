-- A slot runs once while its runner is alive (docs/metrics.md "Scheduled jobs"), and a job's
-- notice is sent once per (job, slot) even when an interrupted slot is run again.
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

-- alert_deliveries.dedup_key: a notice that belongs to a job slot carries '<job>:<slot>' (the
-- weekly payout reminder); one message per (channel, dedup_key), so a re-run of the slot
-- enqueues nothing for a channel that already has it (a pending one is delivered by the normal
-- outbox delivery, with its own delivery id).
ALTER TABLE recon.alert_deliveries ADD COLUMN IF NOT EXISTS dedup_key text NULL;
CREATE UNIQUE INDEX IF NOT EXISTS alert_deliveries_dedup_idx
    ON recon.alert_deliveries (channel, dedup_key);
COMMENT ON COLUMN recon.alert_deliveries.dedup_key IS
    'For a notice of a job slot, ''<job>:<slot>'' (e.g. weekly_payout_reminder:2026-11-30T09:00:00+00:00): unique per channel, so re-running the slot never queues it twice; NULL for incident messages';
