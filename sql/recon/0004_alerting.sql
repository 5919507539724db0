-- Alert delivery back-off: an undelivered alert (channel down, 5xx, 429) is retried at
-- next_attempt_at, so that a dead channel is not hammered every minute and never blocks the others.
ALTER TABLE recon.alert_deliveries ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz NULL;
CREATE INDEX IF NOT EXISTS alert_deliveries_due_idx ON recon.alert_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS job_runs_job_idx ON recon.job_runs (job, scheduled_for DESC);
CREATE INDEX IF NOT EXISTS incidents_opened_at_idx ON recon.incidents (opened_at DESC);
