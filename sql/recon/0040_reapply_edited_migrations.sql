-- Migrations 0010, 0015, 0028 and 0036 were edited after they had first been applied: a database
-- that applied an earlier text keeps it (`db init` never re-runs an applied migration), so it
-- lacked what was added later. This brings such a database to what the files say today; on one
-- that already has it, every statement changes nothing (IF NOT EXISTS; a comment only where
-- none is set, so a later migration's text is never overwritten; the function as 0028 defines it
-- now). Since this release `db init` records each migration's sha256 and refuses a file changed
-- after it was applied (sge_recon/db/schema.py).

-- 0036 (added with the weekly reminder's once-per-slot notice): without it enqueueing the
-- reminder failed (column "dedup_key" does not exist) and the reminder was never sent.
ALTER TABLE recon.alert_deliveries ADD COLUMN IF NOT EXISTS dedup_key text NULL;
CREATE UNIQUE INDEX IF NOT EXISTS alert_deliveries_dedup_idx
    ON recon.alert_deliveries (channel, dedup_key);

-- 0010 (console sessions, added after the accounts): without it no console sign-in was kept.
CREATE TABLE IF NOT EXISTS recon.console_sessions (
    token_sha256  text PRIMARY KEY,
    name          text NOT NULL REFERENCES recon.console_users(name) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_expires_idx ON recon.console_sessions (expires_at);

-- 0028 (the bound computed in one unrolled expression: the first text rebuilt it per row).
CREATE OR REPLACE FUNCTION recon.ledger_cuid_floor(watermark bigint)
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN watermark <= 0 THEN '' ELSE 'c'
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 78364164096 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 2176782336 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 60466176 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 1679616 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 46656 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 1296 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 36 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 1 % 36)::integer + 1, 1)
    END
$$;

DO $$
DECLARE
    item text[];
BEGIN
    FOREACH item SLICE 1 IN ARRAY ARRAY[
        ['alert_deliveries', 'dedup_key', 'For a notice of a job slot, ''<job>:<slot>'' (e.g. weekly_payout_reminder:2026-11-30T09:00:00+00:00): unique per channel, so re-running the slot never queues it twice; NULL for incident messages'],
        ['console_sessions', NULL, 'Signed-in console sessions (a reload or a new tab stays signed in): the browser holds the token, recon its SHA-256'],
        ['console_sessions', 'token_sha256', 'SHA-256 (hex) of the random session token kept in the browser''s cookie'],
        ['console_sessions', 'name', 'The account signed in'],
        ['console_sessions', 'created_at', 'When it signed in'],
        ['console_sessions', 'expires_at', 'When the session ends by itself (12 h after sign-in)'],
        ['console_sessions', 'revoked_at', 'When it signed out; NULL while live'],
        ['console_users', NULL, 'Console accounts (sge-recon users add): who may sign in to the console, and with which role'],
        ['console_users', 'name', 'Username typed at sign-in (lower case); recorded as the operator of every action, tick and note'],
        ['console_users', 'role', 'viewer (reads), operator (routine actions), approver (operator + approves payouts), admin (operator + executes payouts, corrections)'],
        ['console_users', 'approver_slot', 'Approvers only: which payout approver key (PAYOUT_APPROVER_1 or _2) the console uses for their approvals; one active account per key'],
        ['console_users', 'password_hash', 'scrypt$n$r$p$salt$hash of the password (per-user random salt); the password itself is never stored'],
        ['console_users', 'created_at', 'When the account was created'],
        ['console_users', 'password_set_at', 'When its password was last set'],
        ['console_users', 'disabled', 'A disabled account cannot sign in, and a signed-in session of it stops acting'],
        ['console_users', 'disabled_at', 'When it was disabled; NULL while enabled'],
        ['sign_in_attempts', NULL, 'Every console sign-in attempt (the audit trail, and the failed-attempt lock: 5 failures in 15 min)'],
        ['sign_in_attempts', 'id', 'Attempt number'],
        ['sign_in_attempts', 'at', 'When it was tried'],
        ['sign_in_attempts', 'username', 'The username as typed (trimmed, lower case, at most 64 characters)'],
        ['sign_in_attempts', 'ok', 'Whether it signed in'],
        ['sign_in_attempts', 'reason', 'Why it failed: unknown, wrong_password, empty_password, disabled or rate_limited; NULL on success'],
        ['check_results', 'reason', 'Why the check is unavailable on this platform (its profile''s reason); NULL otherwise'],
        ['check_runs', 'profile', 'Which platform profile the run read (contract, sge, or a profile file''s name)']
    ] LOOP
        IF item[2] IS NULL THEN
            IF obj_description(format('recon.%I', item[1])::regclass, 'pg_class') IS NULL THEN
                EXECUTE format('COMMENT ON TABLE recon.%I IS %L', item[1], item[3]);
            END IF;
        ELSIF col_description(format('recon.%I', item[1])::regclass,
                              (SELECT attnum FROM pg_attribute
                               WHERE attrelid = format('recon.%I', item[1])::regclass
                                 AND attname = item[2])) IS NULL THEN
            EXECUTE format('COMMENT ON COLUMN recon.%I.%I IS %L', item[1], item[2], item[3]);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION recon.ledger_cuid_floor(bigint) IS
    'The smallest cuid id whose time lies above the watermark (epoch microseconds): the checkpoint''s range bound on a ledger ordered by cuid ids';
