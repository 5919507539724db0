-- An incident acknowledged or accepted that gets worse is reopened and paged again; PagerDuty
-- never notifies again for an alert it holds acknowledged, so each such round pages under a
-- dedup_key of its own ('<id>:reopened:<n>', sge_recon/alerts/hooks.py), the previous round's
-- alert resolved (event 'supersede'), and each round is acknowledged once.
COMMENT ON COLUMN recon.alert_deliveries.dedup_key IS
    'Once-per-channel key: for a notice of a job slot, ''<job>:<slot>'' (e.g. weekly_payout_reminder:2026-11-30T09:00:00+00:00), so re-running the slot never queues it twice; ''incident:<id>:acknowledge'' (''incident:<id>:acknowledge:<n>'' in the n-th round after a reopen) for the PagerDuty acknowledge of an incident acknowledged or accepted in the console; NULL for the other incident messages';
COMMENT ON COLUMN recon.alert_deliveries.event IS
    'open, reopen, escalate, reminder, acknowledge, resolve, supersede (PagerDuty: the previous round''s alert of a reopened incident resolved), payout_reminder or another notice';
