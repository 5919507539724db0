-- Console sign-in (DESIGN §9): local accounts with a salted password hash and a role, and every
-- sign-in attempt (for the audit and the failed-attempt rate limit).
CREATE TABLE IF NOT EXISTS recon.console_users (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
    role            text NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    -- which payout approver key (PAYOUT_APPROVER_1 or _2) this approver's approvals use; the
    -- console holds the keys, so one person can never supply both approvals
    approver_slot   smallint NULL CHECK (approver_slot IN (1, 2)),
    password_hash   text NOT NULL,          -- scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>
    created_at      timestamptz NOT NULL DEFAULT now(),
    password_set_at timestamptz NOT NULL DEFAULT now(),
    disabled        boolean NOT NULL DEFAULT false,
    disabled_at     timestamptz NULL,
    CHECK ((role = 'approver') = (approver_slot IS NOT NULL))
);
-- One account per approver key: two approvals always come from two different accounts.
CREATE UNIQUE INDEX IF NOT EXISTS console_users_one_per_slot_idx
    ON recon.console_users (approver_slot) WHERE approver_slot IS NOT NULL AND NOT disabled;

CREATE TABLE IF NOT EXISTS recon.sign_in_attempts (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    username  text NOT NULL,               -- as typed (trimmed, at most 64 characters)
    ok        boolean NOT NULL,
    reason    text NULL                    -- why it failed: unknown, wrong_password, disabled, rate_limited
);
CREATE INDEX IF NOT EXISTS sign_in_attempts_user_idx ON recon.sign_in_attempts (username, at);

-- Signed-in sessions, so that a reload or a link opened in a new tab keeps the sign-in: the
-- browser holds a random token (cookie), recon only its SHA-256. Revoked at sign-out; an
-- account that is disabled stops at once (the lookup joins the account).
CREATE TABLE IF NOT EXISTS recon.console_sessions (
    token_sha256  text PRIMARY KEY,
    name          text NOT NULL REFERENCES recon.console_users(name) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_expires_idx ON recon.console_sessions (expires_at);

COMMENT ON TABLE recon.console_users IS 'Console accounts (sge-recon users add): who may sign in to the console, and with which role';
COMMENT ON COLUMN recon.console_users.name IS 'Username typed at sign-in (lower case); recorded as the operator of every action, tick and note';
COMMENT ON COLUMN recon.console_users.role IS 'viewer (reads), operator (routine actions), approver (operator + approves payouts), admin (operator + executes payouts, corrections)';
COMMENT ON COLUMN recon.console_users.approver_slot IS 'Approvers only: which payout approver key (PAYOUT_APPROVER_1 or _2) the console uses for their approvals; one active account per key';
COMMENT ON COLUMN recon.console_users.password_hash IS 'scrypt$n$r$p$salt$hash of the password (per-user random salt); the password itself is never stored';
COMMENT ON COLUMN recon.console_users.created_at IS 'When the account was created';
COMMENT ON COLUMN recon.console_users.password_set_at IS 'When its password was last set';
COMMENT ON COLUMN recon.console_users.disabled IS 'A disabled account cannot sign in, and a signed-in session of it stops acting';
COMMENT ON COLUMN recon.console_users.disabled_at IS 'When it was disabled; NULL while enabled';

COMMENT ON TABLE recon.sign_in_attempts IS 'Every console sign-in attempt (the audit trail, and the failed-attempt lock: 5 failures in 15 min)';
COMMENT ON COLUMN recon.sign_in_attempts.id IS 'Attempt number';
COMMENT ON COLUMN recon.sign_in_attempts.at IS 'When it was tried';
COMMENT ON COLUMN recon.sign_in_attempts.username IS 'The username as typed (trimmed, lower case, at most 64 characters)';
COMMENT ON COLUMN recon.sign_in_attempts.ok IS 'Whether it signed in';
COMMENT ON COLUMN recon.sign_in_attempts.reason IS 'Why it failed: unknown, wrong_password, disabled or rate_limited; NULL on success';

COMMENT ON TABLE recon.console_sessions IS 'Signed-in console sessions (a reload or a new tab stays signed in): the browser holds the token, recon its SHA-256';
COMMENT ON COLUMN recon.console_sessions.token_sha256 IS 'SHA-256 (hex) of the random session token kept in the browser''s cookie';
COMMENT ON COLUMN recon.console_sessions.name IS 'The account signed in';
COMMENT ON COLUMN recon.console_sessions.created_at IS 'When it signed in';
COMMENT ON COLUMN recon.console_sessions.expires_at IS 'When the session ends by itself (12 h after sign-in)';
COMMENT ON COLUMN recon.console_sessions.revoked_at IS 'When it signed out; NULL while live';

-- Columns added after 0008 without a comment (test_every_recon_table_and_column_has_a_comment).
COMMENT ON COLUMN recon.check_results.reason IS 'Why the check is unavailable on this platform (its profile''s reason); NULL otherwise';
COMMENT ON COLUMN recon.check_runs.profile IS 'Which platform profile the run read (contract, sge, or a profile file''s name)';
