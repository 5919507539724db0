-- Direct ledger corrections whose outcome is not known yet (audit D3). A correction's
-- Idempotency-Key used to come from a token the page kept per browser session: a correction whose
-- answer was lost (a timeout) was posted again after a page reload (a new session, a new key), and
-- an intended identical second correction in the same session was taken for a replay. Now the key
-- belongs to the intended correction: recorded here (per operator and content) before it is sent,
-- reused by every new submission of the same content by the same operator — from any session —
-- while the outcome is unknown, and deleted once an answer says what happened (posted or refused),
-- so the next identical correction is a new one. Numbered 0035, not 0034: another change in
-- progress may take 0034 (migrations apply by number; a gap is harmless).
CREATE TABLE IF NOT EXISTS recon.correction_attempts (
    operator        text NOT NULL,
    content_sha256  text NOT NULL,
    request_key     text NOT NULL UNIQUE,
    program_id      text NOT NULL,
    transaction_id  text NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operator, content_sha256)
);
COMMENT ON TABLE recon.correction_attempts IS
    'Direct ledger corrections sent to the admin API whose outcome is not known yet (no answer so far): a new submission of the same correction by the same operator, from any session, reuses its Idempotency-Key; the row is deleted once an answer says posted or refused';
COMMENT ON COLUMN recon.correction_attempts.operator IS 'Console account (an admin) that submitted it';
COMMENT ON COLUMN recon.correction_attempts.content_sha256 IS 'SHA-256 (hex) of what is posted: program, completed transaction, reason and entries (amounts normalised: 5 and 5.00 are the same)';
COMMENT ON COLUMN recon.correction_attempts.request_key IS 'The Idempotency-Key sent with it (and with every resubmission until an answer comes)';
COMMENT ON COLUMN recon.correction_attempts.program_id IS 'Program whose ledger is corrected';
COMMENT ON COLUMN recon.correction_attempts.transaction_id IS 'The unbalanced journal transaction the correction completes; NULL: a new correcting transaction';
COMMENT ON COLUMN recon.correction_attempts.started_at IS 'When it was first sent (UTC)';
