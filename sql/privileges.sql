-- Least privilege (applied by every `sge-recon db init`, after the schema; idempotent).
--   sge_recon_readonly  reads the platform and recon schemas: auditors, BI, read-only tooling.
--   sge_recon_app       sge-recon itself (checks, console, scheduler, exports): reads everything,
--                       writes ONLY the recon schema. Platform state changes go through the admin
--                       API, whose own database user is the only writer of platform tables.
-- Both are NOLOGIN group roles; grant them to login users:
--   CREATE ROLE recon_console LOGIN PASSWORD '…' IN ROLE sge_recon_app;
-- Roles belong to the whole server, while `db init`'s lock is per database: a `db init` on
-- another database of the same server may create them at the same moment. The one that loses
-- finds the role made by the other (duplicate_object, or unique_violation when it waited on the
-- other's uncommitted row) and goes on.
DO $$
DECLARE
    wanted text;
BEGIN
    FOREACH wanted IN ARRAY ARRAY['sge_recon_readonly', 'sge_recon_app'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = wanted) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', wanted);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created by a concurrent db init on another database of this server
            END;
        END IF;
    END LOOP;
END $$;

-- sge_recon_check: the login the checks take when DATABASE_URL's login is a superuser
-- (sge_recon/db/check_login.py). A superuser session may take its role back from inside a check
-- (set_config('role', …)); this login cannot. No password: it signs in only where the server
-- trusts the connection without one (the embedded server's private socket); no right of its own
-- beyond reading as sge_recon_readonly. Made only by a superuser's db init: only then is it used.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sge_recon_check') THEN
            BEGIN
                CREATE ROLE sge_recon_check LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE
                    NOREPLICATION NOBYPASSRLS;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created by a concurrent db init on another database of this server
            END;
        END IF;
        IF NOT pg_has_role('sge_recon_check', 'sge_recon_readonly', 'MEMBER') THEN
            GRANT sge_recon_readonly TO sge_recon_check;
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO sge_recon_check', current_database());
    END IF;
END $$;

GRANT USAGE ON SCHEMA public, recon TO sge_recon_readonly, sge_recon_app;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sge_recon_readonly, sge_recon_app;
GRANT SELECT ON ALL TABLES IN SCHEMA recon TO sge_recon_readonly;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recon TO sge_recon_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA recon TO sge_recon_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM sge_recon_app, sge_recon_readonly;
-- CREATE on public is taken from PUBLIC only where sge-recon made the platform's tables (the
-- contract profile). Under a platform profile, public is the platform's own schema: its
-- migration login may rely on PUBLIC's CREATE there (the default before PostgreSQL 15), and
-- taking it made the platform's next migration (a new table, a new index) fail with
-- "permission denied for schema public"; the platform's migrations must run as if sge-recon
-- were not there (docs/profiles.md).
DO $$
BEGIN
    IF to_regnamespace('recon_platform') IS NULL THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
END $$;
-- The migration record is db init's alone (the schema owner): the app reads it (is the schema
-- current?), never edits it: a row deleted, renamed or its sha256 cleared would make db init run
-- a migration again or accept an edited one.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON recon.schema_version FROM sge_recon_app;

-- The audit trail is append-only for the app: it adds a console action's row and then records
-- the answer on it (result, status code, answer, error, completed_at: db/action_log.py), and the
-- journal's trigger (running with the app's rights) appends entries. It never deletes either
-- or changes who did what, when, to what: without these rights, the console's database login
-- cannot erase an action's row or re-append the (keyless) hash chain after it.
REVOKE UPDATE, DELETE, TRUNCATE ON recon.action_log, recon.journal FROM sge_recon_app;
GRANT UPDATE (result, status_code, response, error, completed_at) ON recon.action_log
    TO sge_recon_app;
-- Nor does it delete the other records an auditor reads: sign-in attempts (deleting them
-- would also lift a password-guessing lock), incidents, silences, breaker overrides,
-- correction requests and check runs.
REVOKE DELETE, TRUNCATE ON recon.sign_in_attempts, recon.incidents, recon.silences,
    recon.breaker_overrides, recon.correction_requests, recon.check_runs, recon.check_results
    FROM sge_recon_app;

-- The per-minute run moves the ledger checkpoint's watermark to the last id the ledger's sequence
-- handed out (sge_recon/db/ledger_checkpoint.py), so sge_recon_app reads that sequence: SELECT
-- only (its last_value), never USAGE or UPDATE (nextval, setval). Without it the watermark never
-- moved for the app role: the per-minute run read the whole ledger and ledger_tamper had no
-- reconciled history to compare.
DO $$
DECLARE
    ledger_ids text := CASE WHEN to_regclass('public.ledger_entries') IS NOT NULL
                            THEN pg_get_serial_sequence('public.ledger_entries', 'id') END;
BEGIN
    IF ledger_ids IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON SEQUENCE %s TO sge_recon_app', ledger_ids);
    END IF;
END $$;

-- A platform profile's contract-shaped views (schema recon_platform, when a profile is in use):
-- read like the platform itself. Each view reads a SQL function (so that it records no dependency
-- on the platform's tables and never blocks the platform's migrations; db/profile_views.py); the
-- function runs with the reader's rights, so a reader needs SELECT on the platform tables the
-- profile reads (exactly those: granted below) and EXECUTE on the functions, which db init
-- revokes from PUBLIC: these two roles and the owner only.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'recon_platform') THEN
        GRANT USAGE ON SCHEMA recon_platform TO sge_recon_readonly, sge_recon_app;
        GRANT SELECT ON ALL TABLES IN SCHEMA recon_platform TO sge_recon_readonly, sge_recon_app;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA recon_platform
            TO sge_recon_readonly, sge_recon_app;
    END IF;
END $$;
DO $$
DECLARE
    name text;
BEGIN
    IF to_regprocedure('recon_platform.profile_platform_tables()') IS NOT NULL THEN
        -- under a profile public is the platform's schema: the readers read exactly the tables
        -- the profile reads (granted below), not the rest of it (SGE's "AuditLog": admins' IP
        -- addresses, user agents, before/after images), which the grant above gave them
        REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM sge_recon_readonly, sge_recon_app;
        FOR name IN SELECT * FROM recon_platform.profile_platform_tables() LOOP
            EXECUTE format('GRANT USAGE ON SCHEMA %s TO sge_recon_readonly, sge_recon_app',
                           (SELECT quote_ident(n.nspname) FROM pg_class c
                            JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE c.oid = name::regclass));
            EXECUTE format('GRANT SELECT ON %s TO sge_recon_readonly, sge_recon_app', name);
        END LOOP;
    END IF;
END $$;

-- Console accounts (recon 0010): readers see who has which role, never a password hash or a
-- session token hash. The platform id (0038) too: payout_approval_quorum maps an approval
-- recorded under an account name to the account's platform id.
-- The key under which a sign-in name that is no account is hashed (0047): an auditor who
-- read it could test guessed passwords against the recorded names.
REVOKE SELECT ON recon.console_users, recon.console_sessions, recon.sign_in_name_key
    FROM sge_recon_readonly;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON recon.sign_in_name_key FROM sge_recon_app;
GRANT SELECT (name, role, approver_slot, created_at, password_set_at, disabled, disabled_at,
               sso_identity, platform_id)
    ON recon.console_users TO sge_recon_readonly;
