"""Least privilege in use: sge-recon's own library — the console's reads and actions, a check run,
the monitor job, an export — connected as a login user in `sge_recon_app` (what `db init`
creates), while only the admin API connects as the platform writer.

tests/test_privileges.py proves the grants with raw SQL; this proves the product works under them:
everything it needs succeeds, and a platform write through the same library connection is refused.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from sge_recon.console.runbook import ITEMS
from sge_recon.context import Recon
from sge_recon.db import DriverError
from sge_recon.scheduling import ManualClock, Scheduler, default_jobs

from .conftest import settings_for
from .factories import ago, now
from .platform_helpers import ADMIN_KEY, payable_batch, running_api
from .test_console_actions import acting_as
from .test_privileges import login_url

PLATFORM_WRITES = [
    "INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount,"
    " currency) VALUES ('p', 't', 'treasury', 'debit', 1, 'USD')",
    "UPDATE public.payout_batches SET status = 'executed'",
    "UPDATE public.settlement_intents SET status = 'completed'",
    "DELETE FROM public.jobs",
    "INSERT INTO public.queue_control (queue, paused) VALUES ('x', true)",
    "TRUNCATE public.commissions",
]


@pytest.fixture
def console_user(db_url):
    name = f"recon_console_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE sge_recon_app")
    yield name, login_url(db_url, name)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {name}")
        conn.execute(f"DROP ROLE {name}")


@pytest.fixture
def platform(factory):
    setup = payable_batch(factory)
    program = setup["program"]
    user = factory.user(program["id"])
    factory.intent(program["id"], user["id"], status="processing", status_changed_at=ago(minutes=30),
                   id="int_lp_stuck")
    factory.journal(program["id"], [("treasury", "debit", Decimal("10.00")),
                                    (f"user:{user['id']}", "credit", Decimal("10.00"))],
                    created_at=ago(days=1))
    factory.heartbeat("worker-1", last_seen_at=now())
    return setup


def test_the_console_checks_jobs_and_exports_run_as_the_app_role(console_user, platform, db,
                                                                db_url, tmp_path):
    name, app_url = console_user
    with running_api(db_url) as api_url:  # the API alone connects as the platform writer
        recon = Recon(settings_for(app_url, SGE_ADMIN_API_URL=api_url, ADMIN_API_KEY=ADMIN_KEY))
        assert recon.db.fetch_one("SELECT current_user AS u")["u"] == name

        # the checks: full run and the incremental fast run, both stored in recon
        full = recon.checks.run(trigger="least-privilege")
        assert all(c.status != "error" for c in full.checks), [(c.name, c.error)
                                                                for c in full.checks if c.error]
        fast = recon.checks.run(fast_only=True, trigger="least-privilege")
        assert all(c.status != "error" for c in fast.checks)
        stuck = {c.name: c for c in full.checks}["stuck_intents"]
        assert stuck.failing_rows == 1

        # the console's reads
        console = recon.console
        assert console.overview() is not None
        assert [r["intent_id"] for r in console.stuck_intents()] == ["int_lp_stuck"]
        for read in (console.ledger_balances, console.open_payout_batches, console.queue_state,
                     console.failing_deliveries, console.endpoint_health, console.programs,
                     console.recent_actions, console.incidents):
            read()
        console.slos(7)
        # the console's own writes (recon only) and an action through the admin API
        acting_as(db_url, ada="operator")  # the library checks the account at write time
        console.set_runbook_tick("ada", next(iter(ITEMS)), True, date.today())
        outcome = console.actions.retry_intent("ada", "int_lp_stuck")
        assert outcome.ok and outcome.logged, outcome
        assert db.fetch_one("SELECT count(*) AS n FROM public.jobs WHERE intent_id = "
                            "'int_lp_stuck'")["n"] == 1  # written by the API, not by the console

        # the monitor job (incidents, alert queue) and an audit export
        monitor = [j for j in default_jobs() if j.name == "monitor"]
        [run] = Scheduler(recon.job_services, monitor, ManualClock(now())).tick()
        assert run.status == "succeeded", run
        month = now().strftime("%Y-%m")
        result = recon.exports.export(month, out_dir=tmp_path / "exports", force=True)
        assert (tmp_path / "exports" / month / "manifest.json").exists(), result

        # and not one platform write through the same library connection
        refused = 0
        for statement in PLATFORM_WRITES:
            with pytest.raises(DriverError) as denied:
                recon.db.execute(statement)
            assert "permission denied" in str(denied.value)
            refused += 1
        assert refused == len(PLATFORM_WRITES)

    logged = db.fetch_all("SELECT action, result FROM recon.action_log ORDER BY id")
    assert ("retry_intent", "ok") in [(r["action"], r["result"]) for r in logged]
    # full + fast + the monitor job's fast run, all stored by the app role
    assert db.fetch_one("SELECT count(*) AS n FROM recon.check_runs")["n"] == 3


def test_checks_run_as_the_read_only_role_even_for_a_superuser(recon, tmp_path):
    """In the embedded default the login is the superuser; a check still runs as
    sge_recon_readonly inside a read-only transaction, so what a superuser alone may do (read a
    server file, write through a function) fails as the check's `error`, and the run goes on."""
    import shutil

    from sge_recon.context import Recon

    from .conftest import settings_for

    catalogue = tmp_path / "checks"
    shutil.copytree(recon.settings.checks_dir, catalogue)
    # (with the columns its checks.yml `totals:` reads, so the query plans and the role is
    # what stops it, not a missing column)
    (catalogue / "ledger_balance.sql").write_text(
        "SELECT pg_read_file('/etc/hostname') AS leaked, 'USD' AS currency, 0 AS difference")
    run = Recon(settings_for(recon.db.url, CHECKS_DIR=str(catalogue))).checks.run(
        only=["ledger_balance", "transaction_balance"], store=False)
    results = run.by_name()
    assert results["ledger_balance"].status == "error"
    assert "permission denied" in results["ledger_balance"].error
    assert results["transaction_balance"].status == "pass"
    assert recon.db.fetch_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")[
        "rolsuper"]  # the login itself is the superuser: the role is what stopped it


def test_the_app_role_still_waits_for_a_session_it_may_not_inspect(console_user, factory, db_url):
    """The per-minute run advances the checkpoint as the app role, which pg_stat_activity shows
    only the database of another role's session, not its kind: such a session of this database,
    open while a candidate is recorded, must still hold the watermark (the filter of what
    cannot write here drops only what it knows)."""
    from sge_recon.db import Database
    from sge_recon.db import ledger_checkpoint as checkpoint

    from .checkpoint_support import settle_checkpoint

    _, app_url = console_user
    app_db = Database(app_url)
    program = factory.program(id="prog_lp")["id"]
    factory.journal(program, [("treasury", "debit", "5.00"), ("user:1", "credit", "5.00")])
    settle_checkpoint(app_db)
    factory.journal(program, [("treasury", "debit", "7.00"), ("user:1", "credit", "7.00")])
    other_role = psycopg.connect(db_url)  # the superuser: the app role may not see its details
    try:
        other_role.execute("SELECT 1")  # its transaction stays open
        seen = app_db.fetch_one(
            "SELECT datname, backend_type FROM pg_stat_activity WHERE pid = %s",
            (other_role.info.backend_pid,))
        assert seen["datname"] and seen["backend_type"] is None  # what the filter works with
        recorded = checkpoint.advance(app_db)  # a candidate, recorded while it runs
        assert recorded.pending is not None
        held = checkpoint.advance(app_db)
        assert held.note == checkpoint.WAITING_NOTE and held.watermark == recorded.watermark
    finally:
        other_role.close()
    assert settle_checkpoint(app_db).watermark == recorded.pending


def test_without_the_sequence_grant_the_per_minute_run_says_why_and_stays_exact(
        console_user, factory, db, caplog):
    """A database whose grants predate the ledger sequence's (db init not re-run as the owner):
    the watermark cannot move, the per-minute run reads the whole ledger (still exact) and the
    log says what is wrong and what to run."""
    import logging

    db.execute("REVOKE SELECT ON SEQUENCE public.ledger_entries_id_seq FROM sge_recon_app")
    _, app_url = console_user
    program = factory.program(id="prog_nogrant")["id"]
    factory.journal(program, [("treasury", "debit", "5.00")])  # unbalanced
    recon = Recon(settings_for(app_url))
    with caplog.at_level(logging.WARNING, logger="sge_recon.checks.incremental"):
        fast = recon.checks.run(fast_only=True, store=False).by_name()
    assert fast["transaction_balance"].status == "fail"
    assert fast["ledger_balance"].rows[0]["difference"] == Decimal("5.000000")
    [warning] = [r.getMessage() for r in caplog.records if "not advanced" in r.getMessage()]
    assert "permission denied for sequence" in warning and "sge-recon db init" in warning
