"""Least privilege: sge-recon's own database user reads the platform and writes only `recon`."""

import uuid
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest


def login_url(url: str, user: str) -> str:
    parsed = urlparse(url)
    host = parsed.hostname or ""
    return urlunparse(parsed._replace(netloc=f"{user}:pw@{host}" if host else f"{user}:@"))


@pytest.fixture
def app_user(db_url):
    name = f"recon_console_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE sge_recon_app")
    yield login_url(db_url, name)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {name}")
        conn.execute(f"DROP ROLE {name}")


def test_app_role_reads_platform_and_writes_recon(app_user, factory):
    program = factory.program()
    with psycopg.connect(app_user, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM public.programs").fetchone()[0] == 1
        conn.execute("INSERT INTO recon.action_log (operator, action, result) "
                     "VALUES ('ops', 'test', 'ok')")
        conn.execute("SELECT last_value FROM public.ledger_entries_id_seq")
        for statement in [
            "INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount,"
            " currency) VALUES ('p', 't', 'treasury', 'debit', 1, 'USD')",
            f"UPDATE public.programs SET name = 'x' WHERE id = '{program['id']}'",
            "DELETE FROM public.settlement_intents",
            "TRUNCATE public.jobs",
            "CREATE TABLE public.sneaky (id int)",
            # the ledger's id sequence is read (the checkpoint's watermark), never drawn from
            "SELECT nextval('public.ledger_entries_id_seq')",
            "SELECT setval('public.ledger_entries_id_seq', 1)",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_readonly_role_writes_nothing(db_url):
    name = f"auditor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE sge_recon_readonly")
    try:
        with psycopg.connect(login_url(db_url, name), autocommit=True) as conn:
            conn.execute("SELECT count(*) FROM recon.check_runs")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO recon.action_log (operator, action, result) "
                             "VALUES ('ops', 'x', 'ok')")
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {name}")


def test_app_role_reads_the_migration_record_and_never_edits_it(app_user):
    with psycopg.connect(app_user, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM recon.schema_version").fetchone()[0] > 0
        for statement in [
            "UPDATE recon.schema_version SET sha256 = NULL",
            "DELETE FROM recon.schema_version WHERE version = 36",
            "INSERT INTO recon.schema_version (version, name) VALUES (9999, 'x')",
            "TRUNCATE recon.schema_version",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_app_role_cannot_erase_or_rewrite_the_audit_trail(app_user, db):
    """The console's own login writes recon.action_log (a row, then its answer) and, through
    the trigger, recon.journal; it never deletes either, nor changes who did what. With those
    rights, whoever holds the console's database password could delete an action's row and
    re-append the (keyless) hash chain after it, and `export verify` would not see it."""
    with psycopg.connect(app_user, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO recon.action_log (operator, action, target, result) "
            "VALUES ('ada', 'execute_payout_batch', 'b1', 'pending') RETURNING id").fetchone()
        # completing the attempt with its answer is what the app does: allowed
        conn.execute("UPDATE recon.action_log SET result = 'ok', status_code = 200, "
                     "response = '{}', error = NULL, completed_at = now() WHERE id = %s", row)
        for statement in [
            "DELETE FROM recon.action_log",
            "TRUNCATE recon.action_log",
            "UPDATE recon.action_log SET operator = 'bob'",
            "UPDATE recon.action_log SET action = 'retry_intent', target = 'x', at = now()",
            "DELETE FROM recon.journal",
            "TRUNCATE recon.journal",
            "UPDATE recon.journal SET hash = 'x'",
            # nor the other records an auditor reads (and a lifted sign-in lock)
            "DELETE FROM recon.sign_in_attempts", "DELETE FROM recon.incidents",
            "DELETE FROM recon.silences", "DELETE FROM recon.breaker_overrides",
            "DELETE FROM recon.correction_requests", "DELETE FROM recon.check_runs",
            "TRUNCATE recon.check_results",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # the answer is recorded once: the columns it may write, it writes on a pending row only
        # (migration 0045), for any login
        for login in (conn, db):
            with pytest.raises(psycopg.errors.RestrictViolation, match="recorded once"):
                login.execute("UPDATE recon.action_log SET result = 'failed', "
                              "completed_at = now() - interval '1 day' WHERE id = %s", row)
    assert db.fetch_one("SELECT operator, action, result FROM recon.action_log") == {
        "operator": "ada", "action": "execute_payout_batch", "result": "ok"}
    assert db.fetch_one("SELECT count(*) AS n FROM recon.journal WHERE source = 'action_log'"
                        )["n"] == 2  # the attempt and its answer
