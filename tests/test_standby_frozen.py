"""A standby frozen mid-statement (SIGSTOP on its postmaster and backends: a hung host, a paused
VM). statement_timeout is enforced by the server, which a stopped server cannot do, and a stopped
process's kernel still answers TCP keepalives (a unix socket has none): every reader must give up
on its own, within a bounded time (DB_ANSWER_GRACE_SECONDS), with an error, never a pass."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from sge_recon.context import Recon
from sge_recon.metrics import MetricsServer, ReconCollector

from .replica_pair import platform_pair
from .conftest import settings_for
from .factories import PlatformFactory
from .test_metrics import scrape

GRACE = 3  # DB_ANSWER_GRACE_SECONDS in these tests
PLATFORM_READS = "sge-recon%(platform reads)%"  # the CLI's: sge-recon-cli (platform reads)[-copy]


@pytest.fixture(scope="module")
def pair():
    def prepare(primary) -> None:
        f = PlatformFactory(primary)
        program = f.program()["id"]
        f.journal(program, [("treasury", "debit", "10.00"), (f"user:{program}", "credit", "10.00")])
        f.heartbeat()

    with platform_pair("sgr-fz-", prepare) as pair:
        try:
            yield pair
        finally:
            with contextlib.suppress(Exception):
                _signal(pair.standby, signal.SIGCONT)


def _signal(server, sig) -> None:
    for pid in server.backend_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@contextlib.contextmanager
def frozen_mid_read(pair, start_reader, application_name: str = PLATFORM_READS,
                    within: float = 60):
    """Freeze the standby while a reader is mid-statement there: ACCESS EXCLUSIVE on
    ledger_entries is taken on the primary and replayed on the standby, ``start_reader()``
    starts the reader, and once a session of ``application_name`` waits on that lock on the
    standby, the standby's postmaster and every backend get SIGSTOP; the lock is then released
    on the primary (the primary is free to serve a fallback read). Yields what ``start_reader``
    returned; SIGCONT on the way out, always."""
    locker = psycopg.connect(pair.primary.url)
    stopped = False
    try:
        locker.execute("LOCK TABLE ledger_entries IN ACCESS EXCLUSIVE MODE")
        PlatformFactory(pair.primary.database()).heartbeat()  # a commit flushes the lock's WAL
        reader = start_reader()
        deadline = time.monotonic() + within
        with psycopg.connect(pair.standby.url, autocommit=True) as watcher:
            while time.monotonic() < deadline:
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND application_name LIKE %s", (application_name,)).fetchone()[0]
                if waiting:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"no {application_name} session waited on the standby")
        _signal(pair.standby, signal.SIGSTOP)
        stopped = True
        locker.rollback()
        yield reader
    finally:
        if stopped:
            _signal(pair.standby, signal.SIGCONT)
        locker.rollback()
        locker.close()


def _env(pair, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    env.update(DATABASE_URL=pair.primary.url, PLATFORM_READ_URL=pair.standby.url,
               SGE_RECON_HOME=str(tmp_path / "home"), DB_ANSWER_GRACE_SECONDS=str(GRACE))
    return env


@pytest.mark.slow
def test_a_full_check_on_a_standby_frozen_mid_query_gives_up_with_errors(pair, tmp_path):
    """Was: `sge-recon check` hung until the standby was resumed (SIGCONT)."""
    proc, out, err, took = _run_frozen(pair, tmp_path, ["check"])
    assert proc.returncode == 3, (out, err)
    assert "Overall: PASS" not in out and "Traceback" not in err
    # every check is an error that names the standby (the run's last look at it refuses it;
    # the checks cut mid-query said "no answer from the database at …")
    statuses = [line.split()[0] for line in out.splitlines() if line.startswith("  ")
                and line.split()[0] in ("PASS", "WARN", "FAIL", "ERROR")]
    assert statuses and set(statuses) == {"ERROR"}, out
    assert "(PLATFORM_READ_URL) cannot be read" in out, out
    # bounded: the grace, one probe's connect timeout (5 s), the reconnects' and the last
    # freshness measurement's connect timeouts
    assert took < 60, took
    print(f"gave up after {took:.1f} s")


@pytest.mark.slow
def test_a_gx_check_on_a_standby_frozen_mid_query_gives_up_with_errors(pair, tmp_path):
    """Was: `sge-recon check --engine gx` hung until SIGCONT: GX opens its own connections,
    out of reach of the watch on sge-recon's; now the run's sockets to the frozen server are
    shut, and the checks not yet begun are errors without a try."""
    proc, out, err, took = _run_frozen(pair, tmp_path, ["check", "--engine", "gx"],
                                       application_name="%")
    assert proc.returncode == 3, (out, err)
    assert "Overall: PASS" not in out and "Traceback" not in err
    statuses = [line.split()[0] for line in out.splitlines() if line.startswith("  ")
                and line.split()[0] in ("PASS", "WARN", "FAIL", "ERROR")]
    # every check an error, or (a lane that connects only after the freeze: GX tests each new
    # connection) the run refused as a whole, naming the standby's setting; never a verdict
    assert (statuses and set(statuses) == {"ERROR"}) or (
        not statuses and err.startswith("Error: ") and "PLATFORM_READ_URL" in err), (out, err)
    assert took < 90, took
    print(f"gave up after {took:.1f} s")


def _run_frozen(pair, tmp_path, args: list[str], application_name: str = PLATFORM_READS
                ) -> tuple[subprocess.Popen, str, str, float]:
    """``sge-recon ARGS`` with the standby frozen once one of its reads waits there."""
    def start():
        return subprocess.Popen([sys.executable, "-m", "sge_recon", *args],
                                env=_env(pair, tmp_path), text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    procs = []
    try:
        with frozen_mid_read(pair, lambda: procs.append(start()) or procs[0],
                             application_name) as proc:
            started = time.monotonic()
            out, err = proc.communicate(timeout=120)
            took = time.monotonic() - started
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return proc, out, err, took


def _recon(pair) -> Recon:
    return Recon(settings_for(pair.primary.url, PLATFORM_READ_URL=pair.standby.url,
                              DB_ANSWER_GRACE_SECONDS=GRACE))


@pytest.mark.slow
def test_the_console_on_a_standby_frozen_mid_read_turns_to_the_primary(pair):
    """Was: the page's read hung until the standby was resumed (the console's thread with it)."""
    recon = _recon(pair)
    assert recon.console.platform_notice() is None  # the standby is fine: read there
    with ThreadPoolExecutor(1) as pool:
        with frozen_mid_read(pair, lambda: pool.submit(recon.console.ledger_balances)) \
                as balances:
            started = time.monotonic()
            rows = balances.result(timeout=60)
            took = time.monotonic() - started
            notice = recon.console.platform_notice()
    assert rows and {r["currency"] for r in rows} == {"USD"}  # the primary's balances
    assert notice and "(PLATFORM_READ_URL) cannot be read" in notice, notice
    assert f"read on the primary, {pair.primary.database().where}" in notice
    assert took < 30, took


@pytest.mark.slow
def test_metrics_on_a_standby_frozen_mid_refresh_report_it_stale_and_read_the_primary(pair):
    """Was: the refresh hung for good, so every scrape served the last values with
    sge_recon_up 0 and sge_recon_replica_stale stayed 0 (ReplicaStale never fired)."""
    recon = _recon(pair)
    collector = ReconCollector(recon.settings, recon.databases, ttl=0, answer_within=1)
    srv = MetricsServer(collector, port=0).start()
    try:
        assert scrape(srv.url)["sge_recon_replica_stale"][()] == 0.0
        with ThreadPoolExecutor(1) as pool:
            # the scrape's refresh reads the ledger on the standby
            with frozen_mid_read(pair, lambda: pool.submit(scrape, srv.url)):
                deadline, m = time.monotonic() + 45, {}
                while time.monotonic() < deadline:
                    m = scrape(srv.url)
                    if m["sge_recon_up"][()] == 1.0 and \
                            m["sge_recon_replica_stale"][()] == 1.0:
                        break
                    time.sleep(0.5)
    finally:
        srv.stop()
    assert m["sge_recon_up"][()] == 1.0 and m["sge_recon_replica_stale"][()] == 1.0, m
