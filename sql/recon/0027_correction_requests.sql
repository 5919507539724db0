-- Ledger corrections over CORRECTION_SECOND_PERSON_OVER (issue 15): the admin who prepares one
-- only requests it; a second, different admin confirms, and only then is it posted through the
-- admin API. Requesting, confirming and withdrawing are console actions (recon.action_log).
CREATE TABLE IF NOT EXISTS recon.correction_requests (
    id              bigserial PRIMARY KEY,
    program_id      text NOT NULL,
    transaction_id  text NULL,
    reason          text NOT NULL CHECK (length(btrim(reason)) > 0),
    entries         jsonb NOT NULL,
    requested_by    text NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'posted', 'failed', 'withdrawn')),
    decided_by      text NULL,
    decided_at      timestamptz NULL,
    result          text NULL,
    CHECK (status <> 'posted' OR decided_by <> requested_by)  -- two people, in the database too
);
CREATE INDEX IF NOT EXISTS correction_requests_pending_idx
    ON recon.correction_requests (requested_at) WHERE status = 'pending';
COMMENT ON TABLE recon.correction_requests IS
    'Ledger corrections waiting for a second admin (over CORRECTION_SECOND_PERSON_OVER): requested by one admin, posted only when another confirms';
COMMENT ON COLUMN recon.correction_requests.id IS 'Request number';
COMMENT ON COLUMN recon.correction_requests.program_id IS 'Program whose ledger is corrected';
COMMENT ON COLUMN recon.correction_requests.transaction_id IS 'The unbalanced journal transaction the correction completes; NULL: a new correcting transaction';
COMMENT ON COLUMN recon.correction_requests.reason IS 'Why (kept with the entries on the platform)';
COMMENT ON COLUMN recon.correction_requests.entries IS 'The entries: [{account, type, amount (decimal string), currency}]';
COMMENT ON COLUMN recon.correction_requests.requested_by IS 'Console account (an admin) that prepared it';
COMMENT ON COLUMN recon.correction_requests.requested_at IS 'When it was requested (UTC)';
COMMENT ON COLUMN recon.correction_requests.status IS 'pending, posted (the second admin confirmed and the API wrote it), failed (the API refused), withdrawn';
COMMENT ON COLUMN recon.correction_requests.decided_by IS 'The second admin who confirmed, or the one who withdrew it; never the requester for a confirmation';
COMMENT ON COLUMN recon.correction_requests.decided_at IS 'When it was confirmed or withdrawn (UTC)';
COMMENT ON COLUMN recon.correction_requests.result IS 'The admin API''s answer in words';
