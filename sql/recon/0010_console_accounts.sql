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
