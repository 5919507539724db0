-- PagerDuty's alert is acknowledged once when its incident is acknowledged or accepted in the
-- console: that message carries 'incident:<id>:acknowledge' in alert_deliveries.dedup_key (one
-- per channel, however many evaluations see the incident acknowledged).
COMMENT ON COLUMN recon.alert_deliveries.dedup_key IS
    'Once-per-channel key: for a notice of a job slot, ''<job>:<slot>'' (e.g. weekly_payout_reminder:2026-11-30T09:00:00+00:00), so re-running the slot never queues it twice; ''incident:<id>:acknowledge'' for the PagerDuty acknowledge of an incident acknowledged or accepted in the console; NULL for the other incident messages';
