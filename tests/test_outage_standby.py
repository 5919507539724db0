"""Outages of the platform-read standby (PLATFORM_READ_URL) and of the primary, as the exporter,
the CLI and the scheduler meet them: each says what went wrong, and alerting never goes blind."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import sql as pgsql

from sge_recon.context import Recon
from sge_recon.metrics import MetricsServer, ReconCollector
from sge_recon.scheduling import ManualClock

from .conftest import settings_for
from .test_config_mistakes import assert_error_line
from .test_metrics import plant_faults, scrape

UTC = timezone.utc


def _unreachable_url() -> tuple[str, str]:
    """A standby that is down: a socket folder where no server listens (a stopped server's)."""
    gone = tempfile.mkdtemp(prefix="sgr-gone-", dir="/tmp")
    return f"postgresql://postgres@/postgres?host={gone}", gone


def test_a_standby_that_is_down_is_reported_stale_and_metrics_read_the_primary(db_url, factory,
                                                                                db):
    """The standby of PLATFORM_READ_URL stopped: the signal checks fall back to the primary (the
    facts say so), but the processing-time histogram still read the standby, so every refresh
    failed as a whole: sge_recon_up 0, every gauge frozen at its last value and
    sge_recon_replica_stale never 1 (ReplicaStale never fired; a new ledger imbalance never
    showed). Now the refresh reads where the facts were read and reports the standby stale."""
    now = datetime.now(UTC).replace(microsecond=0)
    plant_faults(factory, db, now)
    url, gone = _unreachable_url()
    recon = Recon(settings_for(db_url, PLATFORM_READ_URL=url))
    collector = ReconCollector(recon.settings, recon.databases, ttl=60, clock=ManualClock(now))
    srv = MetricsServer(collector, port=0).start()
    try:
        m = scrape(srv.url)
    finally:
        srv.stop()
        shutil.rmtree(gone, ignore_errors=True)
    assert m["sge_recon_up"][()] == 1.0
    assert m["sge_recon_replica_stale"][()] == 1.0  # docs/prometheus-alerts.yml ReplicaStale
    assert "sge_recon_replica_lag_seconds" not in m  # unknown, not 0
    # read on the primary meanwhile: the planted imbalance and the two completions of the hour
    assert m["sge_ledger_balance_difference_cents"] == {
        (("currency", "USD"), ("program_id", "prog_a")): 1.0}
    assert m["sge_intent_processing_duration_seconds_count"][()] == 2.0


# -- the CLI: the database's state is said as such, never "a bug in sge-recon" --------------------
def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sge_recon", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_database_url_on_a_read_only_server_is_named(cli_env, db_url):
    """DATABASE_URL and PLATFORM_READ_URL swapped (DATABASE_URL on the hot standby), or a server
    in default_transaction_read_only: the check ran, then storing it failed with "unexpected
    ReadOnlySqlTransaction … (a bug in sge-recon …)" and no word of what to change."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(pgsql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on")
                     .format(pgsql.Identifier(name)))
    proc = _cli(["check"], cli_env)
    out, err = proc.communicate(timeout=120)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert_error_line(result, "Error: the database refused a write (cannot execute INSERT in a "
                      "read-only transaction): DATABASE_URL points at a read-only server")
    assert "PLATFORM_READ_URL" in err and "a bug in sge-recon" not in err


def test_a_session_ended_mid_command_is_said_to_be_the_database(cli_env, db_url):
    """pg_terminate_backend (or PostgreSQL stopped) while a command reads: "unexpected
    AdminShutdown … (a bug in sge-recon …)"; now the lost connection is named as such."""
    locker = psycopg.connect(db_url)
    try:
        locker.execute("LOCK TABLE recon.schema_version IN ACCESS EXCLUSIVE MODE")
        proc = _cli(["check", "--no-store"], cli_env)
        deadline = time.monotonic() + 60
        with psycopg.connect(db_url, autocommit=True) as watcher:
            while True:
                waiting = watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND application_name LIKE 'sge-recon%%' AND pid <> pg_backend_pid()"
                ).fetchall()
                if waiting or proc.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert waiting, proc.communicate()
            watcher.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
    finally:
        locker.rollback()
        locker.close()
    out, err = proc.communicate(timeout=60)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert_error_line(result, "Error: the connection to PostgreSQL was lost mid-command "
                      "(terminating connection due to administrator command)")
    assert "a bug in sge-recon" not in err


# -- the export folder turned read-only mid-export --------------------------------------------------
def test_an_export_folder_made_read_only_mid_export_says_why_and_a_rerun_verifies(recon, factory,
                                                                                 tmp_path):
    """The destination made read-only (chattr +i: a remount read-only, an immutable folder) while
    the export writes: the export could not move its result into place and said so, but the
    period lock's removal then failed in a `finally` and replaced that with "unexpected
    PermissionError … (a bug in sge-recon …)". Now the move's error is the one raised (and
    recorded); once the folder is writable again the next export verifies."""
    from sge_recon.errors import ExportError
    from sge_recon.exports import ExportService

    from .test_exports_lock_disk import PERIOD, _month

    _month(factory)
    out = tmp_path / "exports"
    out.mkdir()
    frozen = []

    def freeze_the_folder(step) -> None:
        if step.done and not frozen:  # the first table written: freeze the destination
            subprocess.run(["chattr", "+i", str(out)], check=True)
            frozen.append(step.table)

    try:
        with pytest.raises(ExportError) as raised:
            recon.exports.export(PERIOD, out_dir=out, progress=freeze_the_folder)
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)
    assert frozen
    assert raised.value.message == (f"could not move the export into {out / PERIOD} "
                                    "(Operation not permitted)")
    assert not (out / PERIOD).exists()  # nothing published
    failed = recon.db.fetch_one("SELECT status, error FROM recon.export_runs "
                                "WHERE period = %s ORDER BY started_at DESC LIMIT 1", (PERIOD,))
    assert failed["status"] == "failed" and "could not move the export" in failed["error"]
    result = recon.exports.export(PERIOD, out_dir=out)  # writable again: leftovers removed
    assert ExportService.verify(result.directory).ok
    assert sorted(p.name for p in out.iterdir()) == [PERIOD]


# -- PLATFORM_READ_URL naming another database ------------------------------------------------------
def test_platform_reads_in_another_database_of_the_same_server_are_refused(db_url, factory,
                                                                           new_database):
    """PLATFORM_READ_URL on DATABASE_URL's own server but another database (a typo, a staging copy
    beside production): the replica guard took it for "DATABASE_URL's own server under another
    URL, level by definition", so the checks read the other database and a ledger imbalance on
    the platform's was reported PASS. Now every check errors and says which databases differ."""
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "10.00"), ("user:1", "credit", "9.00")])
    elsewhere = new_database()  # initialised, a balanced (empty) ledger
    primary = Recon(settings_for(db_url))
    assert primary.checks.run(only=["ledger_balance"], store=False).status == "fail"
    recon = Recon(settings_for(db_url, PLATFORM_READ_URL=elsewhere))
    run = recon.checks.run(only=["ledger_balance"], store=False)
    [result] = run.checks
    assert result.status == "error", result
    other, ours = (urlparse(u).path.lstrip("/") for u in (elsewhere, db_url))
    assert f"database {other}" in result.error and f"DATABASE_URL's {ours}" in result.error
    assert "checks refuse to call stale data green" in result.error
