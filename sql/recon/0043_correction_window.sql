-- The two-person rule for ledger corrections counts what one admin posted alone within a
-- rolling 24 hours (CORRECTION_SECOND_PERSON_OVER): six corrections of 900 were each under the
-- threshold, so one admin posted 5,400 alone. The console marks the action-log row of a direct
-- correction (one admin, no second admin) as posted_alone; a request a second admin confirmed
-- is posted under the confirming admin's name and is not marked, so it counts against no one.
ALTER TABLE recon.action_log ADD COLUMN IF NOT EXISTS posted_alone boolean NOT NULL DEFAULT false;

-- the direct corrections recorded before this column: the key of a confirmed request is
-- recon-correction-request-<id>-<time> and its reason ends "(requested by …, confirmed by …)"
UPDATE recon.action_log SET posted_alone = true
WHERE action = 'ledger_correction' AND NOT posted_alone
  AND coalesce(request->>'idempotencyKey', '') NOT LIKE 'recon-correction-request-%'
  AND coalesce(request->>'reason', '') NOT LIKE '%(requested by %, confirmed by %)';

CREATE INDEX IF NOT EXISTS action_log_posted_alone_idx
    ON recon.action_log (operator, at) WHERE posted_alone;

COMMENT ON COLUMN recon.action_log.posted_alone IS
    'true on a direct ledger correction: one admin sent it without a second admin (under CORRECTION_SECOND_PERSON_OVER). Its amounts (request entries) with result ok, unknown or pending count against that admin for 24 hours: a correction that, added to them, is over the threshold in a currency and side waits for a second admin';
COMMENT ON INDEX recon.action_log_posted_alone_idx IS
    'The direct corrections of one admin in the last 24 hours (the two-person rule''s window)';
