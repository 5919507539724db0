"""Checks are read-only in both engines and bounded in time: a check's SQL cannot write (a
`setval` fails), the per-minute run has a time budget (an overrunning check is cut and reported
error), and the monitor job's queries give up on a table lock instead of hanging the minute."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.scheduling import ManualClock
from sge_recon.scheduling.jobs import JobFailed, monitor
from sge_recon.scheduling.scheduler import JobContext

from .conftest import settings_for
from .test_checks_runner import ENTRY, make_catalogue

SETVAL = {"writes": "SELECT setval('public.ledger_entries_id_seq', 424242) AS value"}


def sequence_value(db: Database) -> int:
    return db.fetch_one("SELECT last_value FROM public.ledger_entries_id_seq")["last_value"]


def test_the_sql_engine_cannot_write(tmp_path, db_url):
    make_catalogue(tmp_path, SETVAL)
    recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path))
    before = sequence_value(recon.db)
    (result,) = recon.checks.run(store=False).checks
    # refused twice over: the transaction is read-only and the check runs as sge_recon_readonly
    assert result.status == "error" and ("read-only transaction" in result.error
                                         or "permission denied" in result.error)
    assert sequence_value(recon.db) == before


@pytest.mark.slow  # imports Great Expectations (~5 s)
def test_the_gx_engine_cannot_write(tmp_path, db_url):
    make_catalogue(tmp_path, SETVAL)
    recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path))
    before = sequence_value(recon.db)
    (result,) = recon.checks.run(engine="gx", store=False).checks
    assert result.status == "error" and ("read-only" in result.error
                                         or "permission denied" in result.error)
    assert sequence_value(recon.db) == before != 424242


FAST = ENTRY.replace("  kind: rows\n", "  kind: rows\n  fast: true\n")


def test_a_fast_check_that_overruns_the_budget_is_cut_and_the_rest_not_run(tmp_path, db_url):
    checks = {"a_quick": "SELECT 1 WHERE false", "b_slow": "SELECT pg_sleep(30)",
              "c_after": "SELECT 1 WHERE false"}
    make_catalogue(tmp_path, checks, "".join(FAST.format(name=n) for n in checks))
    recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path))
    started = time.monotonic()
    run = recon.checks.run(fast_only=True, budget_seconds=2, store=False)
    assert time.monotonic() - started < 6
    by_name = run.by_name()
    assert by_name["a_quick"].status == "pass"
    assert by_name["b_slow"].status == "error" and "time budget" in by_name["b_slow"].error
    assert by_name["c_after"].status == "error" and "not run" in by_name["c_after"].error
    assert run.status == "error" and run.exit_code() == 3


@pytest.mark.slow  # waits for lock timeouts
def test_the_monitor_job_finishes_in_its_minute_under_a_table_lock(db_url):
    settings = settings_for(db_url, FAST_RUN_BUDGET_SECONDS=3,
                            MONITOR_STATEMENT_TIMEOUT_SECONDS=5)
    recon = Recon(settings)
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with Database(db_url).transaction() as conn:
            conn.execute("LOCK TABLE public.ledger_entries, public.settlement_intents, "
                         "public.jobs, public.worker_heartbeats IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(120)

    holder = threading.Thread(target=hold_lock, daemon=True)
    holder.start()
    assert locked.wait(30)
    now = datetime.now(timezone.utc)
    started = time.monotonic()
    try:
        with pytest.raises(JobFailed) as failed:
            monitor(JobContext(recon.job_services, "monitor", now, now, ManualClock(now)))
    finally:
        release.set()
        holder.join(30)
    assert time.monotonic() - started < 45
    assert "lock" in str(failed.value) or "timeout" in str(failed.value)
    assert failed.value.details["checks"]["status"] == "error"
