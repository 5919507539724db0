"""/metrics over real HTTP, parsed with prometheus_client's own parser, on a planted-fault database."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sge_recon.context import Recon
from sge_recon.metrics import MetricsServer, ReconCollector
from sge_recon.scheduling import ManualClock, Scheduler, default_jobs

from .conftest import settings_for, with_dbname
from .test_alerts import SLACK, receiver  # noqa: F401 - fixture

UTC = timezone.utc


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """name -> {sorted label items: value}, via prometheus_client's text parser."""
    text = httpx.get(url, timeout=10).text
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def plant_faults(factory, db, now: datetime) -> None:
    a = factory.program(id="prog_a", currency="USD")
    b = factory.program(id="prog_b", currency="EUR")
    factory.journal(a["id"], [("treasury", "debit", "100.00"), ("user:1", "credit", "99.99")])
    factory.journal(b["id"], [("treasury", "debit", "5.00"), ("user:2", "credit", "5.00")],
                    currency="EUR")
    u = factory.user(a["id"])
    for n in range(7):
        factory.job(status="waiting")
    factory.job(status="completed")
    factory.heartbeat("w1", last_seen_at=now - timedelta(minutes=10))
    for minutes, status in ((20, "processing"), (25, "verifying"), (12, "payment_pending")):
        factory.intent(a["id"], u["id"], status=status,
                       status_changed_at=now - timedelta(minutes=minutes))
    # the last two completed: 4 s and 6 s -> mean 5 s (over a minute ago: the histogram counts a
    # completion once it is HISTOGRAM_LAG_SECONDS old)
    for took, ago in ((4, 70), (6, 80)):
        factory.intent(a["id"], u["id"], status="completed",
                       created_at=now - timedelta(seconds=ago),
                       completed_at=now - timedelta(seconds=ago - took))
    e = factory.endpoint(a["id"])
    factory.delivery(e["id"], status="failed", attempt_count=5)
    factory.delivery(e["id"], status="retry_scheduled", attempt_count=2)
    factory.delivery(e["id"], status="retry_scheduled", attempt_count=1)


@pytest.fixture
def planted(recon, factory, db):
    now = datetime.now(UTC).replace(microsecond=0)
    plant_faults(factory, db, now)
    monitor = [s for s in default_jobs() if s.name == "monitor"]
    [outcome] = Scheduler(recon.job_services, monitor, ManualClock(now)).tick()
    assert outcome.status == "succeeded", outcome.error
    return recon, now


@pytest.fixture
def server(planted):
    recon, now = planted
    collector = ReconCollector(recon.settings, recon.databases, ttl=60, clock=ManualClock(now))
    srv = MetricsServer(collector, port=0).start()
    yield srv
    srv.stop()


def test_metrics_of_a_planted_fault_database(server):
    m = scrape(server.url)
    # a histogram: the two completions of the last hour, 4 s and 6 s
    assert m["sge_intent_processing_duration_seconds_count"][()] == 2.0
    assert m["sge_intent_processing_duration_seconds_sum"][()] == 10.0
    buckets = m["sge_intent_processing_duration_seconds_bucket"]
    assert buckets[(("le", "2"),)] == 0.0 and buckets[(("le", "5"),)] == 1.0
    assert buckets[(("le", "10"),)] == 2.0 and buckets[(("le", "+Inf"),)] == 2.0
    # the ledgers ledger_balance flags (its failing rows), and only those: prog_b balances, so
    # it has no series (the check is the one definition of an imbalance, tolerance included)
    assert m["sge_ledger_balance_difference_cents"] == {
        (("currency", "USD"), ("program_id", "prog_a")): 1.0}
    assert m["sge_queue_depth_total"][()] == 7.0 and m["sge_queue_depth"][()] == 7.0
    assert m["sge_ledger_balance_difference"] == {
        (("currency", "USD"), ("program_id", "prog_a")): 0.01}
    assert m["sge_worker_status"] == {(("status", "healthy"),): 0.0,
                                      (("status", "degraded"),): 0.0,
                                      (("status", "down"),): 1.0}
    assert m["sge_worker_down_seconds"][()] == 600.0
    assert m["sge_intents_stuck"] == {(("threshold", "timeout"),): 3.0,
                                      (("threshold", "fail"),): 2.0}
    assert m["sge_intents_stuck_oldest_seconds"][()] == 25 * 60.0
    assert m["sge_webhook_deliveries_exhausted"][()] == 1.0
    assert m["sge_webhook_deliveries_retry_scheduled"][()] == 2.0
    assert m["sge_webhook_endpoints_failing"][()] == 0.0
    assert m["sge_recon_up"][()] == 1.0


def test_per_check_status_and_incident_counts(server):
    m = scrape(server.url)
    status = m["sge_check_status"]
    assert status[(("check", "ledger_balance"), ("priority", "P0"), ("status", "fail"))] == 1.0
    assert status[(("check", "ledger_balance"), ("priority", "P0"), ("status", "pass"))] == 0.0
    assert status[(("check", "queue_depth"), ("priority", "P2"), ("status", "pass"))] == 1.0
    assert m["sge_check_failing_rows"][(("check", "ledger_balance"),)] == 1.0
    incidents = m["sge_incidents_open"]
    assert incidents[(("kind", "ledger_imbalance"), ("priority", "P0"))] == 1.0
    assert incidents[(("kind", "worker_down"), ("priority", "P1"))] == 1.0
    assert incidents[(("kind", "stuck_intents"), ("priority", "P1"))] == 1.0  # checks.yml
    assert incidents[(("kind", "webhook_exhausted"), ("priority", "P3"))] == 1.0
    assert (("scheduled_job", "monitor"),) in m["sge_job_last_success_timestamp_seconds"]


def test_scrapes_are_served_from_a_short_cache(planted, factory):
    recon, now = planted
    cached = ReconCollector(recon.settings, recon.databases, ttl=60, clock=ManualClock(now))
    live = ReconCollector(recon.settings, recon.databases, ttl=0, clock=ManualClock(now))
    servers = [MetricsServer(c, port=0).start() for c in (cached, live)]
    try:
        assert scrape(servers[0].url)["sge_queue_depth_total"][()] == 7.0
        factory.job(status="waiting")
        for _ in range(5):
            assert scrape(servers[0].url)["sge_queue_depth_total"][()] == 7.0
        assert cached.refreshes == 1  # six scrapes, one round of queries
        assert scrape(servers[1].url)["sge_queue_depth_total"][()] == 8.0
    finally:
        for s in servers:
            s.stop()


def test_the_ledger_checkpoints_candidate_and_last_move_are_served(planted):
    """The monitor job's per-minute run recorded a watermark candidate (it waits a minute for the
    transactions running then); once it moves, its time is served and no candidate waits."""
    from .checkpoint_support import settle_checkpoint

    recon, now = planted

    def fresh_scrape() -> dict:
        collector = ReconCollector(recon.settings, recon.databases, ttl=0, clock=ManualClock(now))
        srv = MetricsServer(collector, port=0).start()
        try:
            return scrape(srv.url)
        finally:
            srv.stop()

    cp = recon.db.fetch_one("SELECT pending_at, advanced_at FROM recon.ledger_checkpoint")
    m = fresh_scrape()
    assert m["sge_recon_ledger_checkpoint_candidate_timestamp_seconds"][()] == \
        cp["pending_at"].timestamp()
    assert cp["advanced_at"] is None
    assert "sge_recon_ledger_checkpoint_advanced_timestamp_seconds" not in m
    settle_checkpoint(recon.db)  # no new entries: the watermark moves, no new candidate
    cp = recon.db.fetch_one("SELECT pending_at, advanced_at FROM recon.ledger_checkpoint")
    m = fresh_scrape()
    assert m["sge_recon_ledger_checkpoint_advanced_timestamp_seconds"][()] == \
        cp["advanced_at"].timestamp()
    assert cp["pending_at"] is None
    assert "sge_recon_ledger_checkpoint_candidate_timestamp_seconds" not in m


def test_metric_samples_are_stored_every_minute_for_trends(planted):
    recon, now = planted
    rows = recon.db.fetch_all("SELECT metric, labels, value FROM recon.metric_samples "
                              "WHERE sampled_at = %s", (now,))
    values = {(r["metric"], tuple(sorted(r["labels"].items()))): r["value"] for r in rows}
    assert values[("sge_queue_depth_total", ())] == 7
    assert values[("sge_ledger_balance_difference_cents",
                   (("currency", "USD"), ("program_id", "prog_a")))] == Decimal("1")
    assert values[("sge_worker_status", (("status", "down"),))] == 1
    assert values[("sge_intent_processing_duration_seconds", ())] == 5


def test_a_scrape_answers_when_the_database_is_down(pg_url):
    recon = Recon(settings_for(with_dbname(pg_url, "no_such_database")))
    srv = MetricsServer(ReconCollector(recon.settings, recon.databases, ttl=0), port=0).start()
    try:
        m = scrape(srv.url)
        assert m["sge_recon_up"][()] == 0.0 and "sge_queue_depth_total" not in m
    finally:
        srv.stop()


def test_metrics_port_in_use_is_a_clear_error(recon):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        from sge_recon.errors import ReconError
        with pytest.raises(ReconError, match="--metrics-port"):
            MetricsServer(ReconCollector(recon.settings, recon.databases), port=port).start()


@pytest.mark.parametrize("host", ["::1", "::"])
def test_metrics_are_served_on_an_ipv6_address(recon, host):
    """`scheduler --metrics-host ::1` (an IPv6-only cluster's Prometheus) was refused with
    'cannot serve /metrics on ::1:9108 (Address family for hostname not supported)': the server
    was IPv4 only. It listens on the address's own family and names it [::1]:port."""
    srv = MetricsServer(ReconCollector(recon.settings, recon.databases, ttl=0), port=0,
                        host=host).start()
    try:
        assert srv.url == f"http://[{host}]:{srv.port}/metrics"
        m = scrape(f"http://[::1]:{srv.port}/metrics")
        assert m["sge_recon_up"][()] == 1.0
    finally:
        srv.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_scheduler_command_serves_metrics_and_alerts_once(cli_env, factory, db, receiver,  # noqa: F811
                                                          tmp_path):
    """`sge-recon scheduler`: a planted P0 gives the right metrics at once and exactly one
    message per channel; Ctrl-C stops it cleanly."""
    now = datetime.now(UTC)
    plant_faults(factory, db, now)
    port = _free_port()
    env = {**cli_env, "SLACK_WEBHOOK_URL": receiver.base + SLACK}
    proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "scheduler", "--metrics-port",
                             str(port), "--cache-seconds", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)  # a due monthly export lands in tmp_path/exports
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 60
        metrics = None
        while time.monotonic() < deadline:
            try:
                metrics = scrape(url)
                if receiver.delivered(SLACK) and "sge_check_status" in metrics:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert metrics is not None, "no /metrics"
        assert metrics["sge_ledger_balance_difference_cents"][
            (("currency", "USD"), ("program_id", "prog_a"))] == 1.0
        assert metrics["sge_queue_depth_total"][()] == 7.0
        time.sleep(2)
        slack = receiver.delivered(SLACK)
        assert len([s for s in slack if "Ledger of program prog_a" in s["text"]]) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"Metrics: http://127.0.0.1:{port}/metrics" in out and "Scheduler stopped." in out
    assert "UTC monitor: succeeded in " in out and "incidents opened [" in out
    assert "secret-token" not in out + err


@pytest.mark.slow
def test_a_database_outage_keeps_the_last_values_with_up_0():
    """PostgreSQL really stopped: /metrics keeps the last values read (the P0 stays visible, so
    Alertmanager does not "resolve" it), says sge_recon_up 0, and the freshness timestamp stays
    at the last successful read; once the server is back everything moves again."""
    from refplatform.setup import ddl_files
    from sge_recon.db import Database, init_db

    from .factories import PlatformFactory
    from .test_faults_postgres import RestartablePostgres, _answers

    pg = RestartablePostgres()
    srv = None
    try:
        url = pg.url
        db = Database(url)
        init_db(db, platform_ddl=ddl_files())
        factory = PlatformFactory(db)
        program = factory.program(id="prog_o", currency="USD")
        factory.journal(program["id"], [("treasury", "debit", "10.00"), ("user:1", "credit", "9.50")])
        for _ in range(3):
            factory.job(status="waiting")
        clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        recon = Recon(settings_for(url))
        srv = MetricsServer(ReconCollector(recon.settings, recon.databases, ttl=0, clock=clock),
                            port=0).start()
        before = scrape(srv.url)
        assert before["sge_recon_up"][()] == 1.0
        read_at = before["sge_recon_last_success_timestamp_seconds"][()]
        assert read_at == clock.now().timestamp()
        key = (("currency", "USD"), ("program_id", "prog_o"))
        assert before["sge_ledger_balance_difference"][key] == 0.5

        pg.stop()
        assert not _answers(url)
        clock.advance(minutes=5)
        during = scrape(srv.url)
        assert during["sge_recon_up"][()] == 0.0
        assert during["sge_recon_last_success_timestamp_seconds"][()] == read_at
        assert during["sge_ledger_balance_difference"][key] == 0.5
        assert during["sge_ledger_balance_difference_cents"][key] == 50.0
        assert during["sge_queue_depth_total"][()] == during["sge_queue_depth"][()] == 3.0
        assert "sge_intent_processing_duration_seconds_count" in during

        pg.start()
        clock.advance(minutes=1)
        after = scrape(srv.url)
        assert after["sge_recon_up"][()] == 1.0
        assert after["sge_recon_last_success_timestamp_seconds"][()] == read_at + 360
    finally:
        if srv:
            srv.stop()
        pg.close()


def test_a_table_lock_never_hangs_a_scrape(db_url):
    """A lock on a platform table makes the refresh fail fast (lock_timeout): /metrics serves
    the last values with sge_recon_up 0 instead of hanging."""
    import time as _time

    import psycopg

    from sge_recon.context import Recon
    from sge_recon.metrics.collector import ReconCollector

    from .conftest import settings_for

    recon = Recon(settings_for(db_url, MONITOR_STATEMENT_TIMEOUT_SECONDS=20))
    collector = ReconCollector(recon.settings, recon.databases, ttl=0)
    list(collector.collect())  # a first good read
    locker = psycopg.connect(db_url)
    try:
        locker.execute("LOCK TABLE public.ledger_entries IN ACCESS EXCLUSIVE MODE")
        started = _time.monotonic()
        families = {f.name: f for f in collector.collect()}
        elapsed = _time.monotonic() - started
    finally:
        locker.rollback()
        locker.close()
    assert elapsed < 15, elapsed  # the 5 s lock timeout, not the 20 s statement timeout
    assert families["sge_recon_up"].samples[0].value == 0
    assert "sge_queue_depth_total" in families  # the last values are still served


def test_worker_down_seconds_keeps_counting_past_a_day(recon, factory):
    """WorkersDown (sge_worker_down_seconds > 300) keeps firing while the last heartbeat is
    older than the 24 h retirement window: the workers are still down."""
    now = datetime.now(UTC).replace(microsecond=0)
    factory.heartbeat("w1", last_seen_at=now - timedelta(hours=30))
    collector = ReconCollector(recon.settings, recon.databases, ttl=60, clock=ManualClock(now))
    srv = MetricsServer(collector, port=0).start()
    try:
        m = scrape(srv.url)
    finally:
        srv.stop()
    assert m["sge_worker_status"][(("status", "down"),)] == 1.0
    assert m["sge_worker_down_seconds"][()] >= 30 * 3600
    assert m["sge_workers"] == {(("state", "live"),): 0.0, (("state", "seen_24h"),): 0.0}


def test_a_slow_refresh_never_holds_scrapes_past_prometheus_scrape_timeout(planted, db_url):
    """A lock on webhook_deliveries makes a refresh take 30 s (three checks each wait out the 5 s
    lock timeout, twice), and concurrent scrapes queued behind it for 30, 60, 90 s: Prometheus
    (scrape_timeout 10 s by default) then got nothing, marked every series stale and RESOLVED
    LedgerImbalance and the others. A scrape answers within ANSWER_WITHIN_SECONDS (5 s) with the
    last values and sge_recon_up 0, while the refresh goes on in the background."""
    import threading

    import psycopg

    recon, now = planted
    collector = ReconCollector(recon.settings, recon.databases, ttl=0, clock=ManualClock(now))
    srv = MetricsServer(collector, port=0).start()
    key = (("currency", "USD"), ("program_id", "prog_a"))
    answers: list = []

    def timed_scrape() -> None:
        started = time.monotonic()
        try:
            answers.append((time.monotonic() - started, scrape(srv.url)))
        except httpx.HTTPError as exc:
            answers.append((time.monotonic() - started, exc))

    try:
        assert scrape(srv.url)["sge_recon_up"][()] == 1.0  # a first good read
        locker = psycopg.connect(db_url)
        try:
            locker.execute("LOCK TABLE public.webhook_deliveries IN ACCESS EXCLUSIVE MODE")
            scrapers = [threading.Thread(target=timed_scrape) for _ in range(3)]
            for t in scrapers:
                t.start()
            for t in scrapers:
                t.join(timeout=60)
        finally:
            locker.rollback()
            locker.close()
        assert len(answers) == 3
        for elapsed, m in answers:
            assert not isinstance(m, Exception), m
            assert elapsed < 9, elapsed  # within Prometheus's default scrape_timeout
            assert m["sge_recon_up"][()] == 0.0
            assert m["sge_ledger_balance_difference"][key] == 0.01  # the last values
        deadline = time.monotonic() + 30  # once the lock is gone the next refresh reads again
        while scrape(srv.url)["sge_recon_up"][()] != 1.0:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    finally:
        srv.stop()


def test_a_check_no_longer_in_the_catalogue_is_not_served(recon, factory):
    """A check removed from the catalogue (a CHECKS_DIR edit, a rename on upgrade) keeps its
    last stored result for ever: served, its `fail` made CheckFailing page for ever, with no way
    to clear it. Only the catalogue's checks are served."""
    now = datetime.now(UTC).replace(microsecond=0)
    run = factory.check_run(status="fail")
    factory.check_result(run["run_id"], "retired_check", status="fail", priority="P2",
                         failing_rows=3, created_at=now)
    factory.check_result(run["run_id"], "ledger_balance", status="pass", priority="P0",
                         created_at=now)
    collector = ReconCollector(recon.settings, recon.databases, ttl=0, clock=ManualClock(now))
    srv = MetricsServer(collector, port=0).start()
    try:
        m = scrape(srv.url)
    finally:
        srv.stop()
    checks = {dict(k)["check"] for k in m["sge_check_status"]}
    assert "ledger_balance" in checks and "retired_check" not in checks
    assert (("check", "retired_check"),) not in m["sge_check_failing_rows"]


def test_a_completion_committed_after_a_scrape_is_still_counted(recon, factory):
    """completed_at is written before the row commits, and by the platform's clock: a completion
    dated just before a refresh but visible only after it (a commit a moment later, a platform
    clock a second behind) fell below the histogram's watermark and was never counted."""
    now = datetime.now(UTC).replace(microsecond=0)
    program = factory.program(id="prog_h", currency="USD")
    user = factory.user(program["id"])
    clock = ManualClock(now)
    collector = ReconCollector(recon.settings, recon.databases, ttl=0, clock=clock)
    srv = MetricsServer(collector, port=0).start()
    try:
        first = scrape(srv.url)["sge_intent_processing_duration_seconds_count"][()]
        # committed now, dated a second before that scrape read
        factory.intent(program["id"], user["id"], status="completed",
                       created_at=now - timedelta(seconds=4), completed_at=now - timedelta(seconds=1))
        counts = []
        for _ in range(3):
            clock.advance(minutes=1)
            counts.append(scrape(srv.url)["sge_intent_processing_duration_seconds_count"][()])
    finally:
        srv.stop()
    assert counts[-1] == first + 1, (first, counts)


def test_concurrent_scrapes_of_a_healthy_database_all_say_up(planted):
    """Thirty scrapes at once with --cache-seconds 0: each is answered with values read, never
    with sge_recon_up 0 because another scrape started a newer refresh meanwhile."""
    import threading

    recon, now = planted
    collector = ReconCollector(recon.settings, recon.databases, ttl=0, clock=ManualClock(now))
    srv = MetricsServer(collector, port=0).start()
    ups: list = []

    def one() -> None:
        m = scrape(srv.url)
        ups.append((m["sge_recon_up"][()], m["sge_queue_depth_total"][()]))

    try:
        scrapers = [threading.Thread(target=one) for _ in range(30)]
        for t in scrapers:
            t.start()
        for t in scrapers:
            t.join(timeout=60)
    finally:
        srv.stop()
    assert ups == [(1.0, 7.0)] * 30


def test_one_errored_signal_check_never_blinds_the_others(db_url, factory, tmp_path):
    """A signal check that errors on its own (here webhook_retries reads a column the platform
    renamed; a budget cut does the same) made the whole refresh fail: /metrics froze at the last
    values, or served only `sge_recon_up 0` when it had none, so a new ledger imbalance never
    reached LedgerImbalance. The other checks' values are fresh; the errored one keeps its last
    values; sge_recon_up 0 and the freshness timestamp, which stays, say that some are old."""
    import shutil

    catalogue = tmp_path / "checks"
    shutil.copytree(Path(__file__).resolve().parents[1] / "checks", catalogue)
    now = datetime.now(UTC).replace(microsecond=0)
    a = factory.program(id="prog_a", currency="USD")
    endpoint = factory.endpoint(a["id"])
    factory.delivery(endpoint["id"], status="retry_scheduled", attempt_count=2)
    recon = Recon(settings_for(db_url, CHECKS_DIR=str(catalogue)))
    clock = ManualClock(now)
    collector = ReconCollector(recon.settings, recon.databases, ttl=0, clock=clock)
    srv = MetricsServer(collector, port=0).start()
    try:
        before = scrape(srv.url)
        assert before["sge_recon_up"][()] == 1.0
        assert before["sge_webhook_deliveries_retry_scheduled"][()] == 1.0
        sql = catalogue / "webhook_retries.sql"
        sql.write_text(sql.read_text().replace("last_error,", "last_error_renamed,"))
        factory.journal(a["id"], [("treasury", "debit", "100.00"), ("user:1", "credit", "99.00")])
        clock.advance(minutes=1)
        after = scrape(srv.url)
        types = [line for line in httpx.get(srv.url, timeout=10).text.splitlines()
                 if line.startswith("# TYPE ")]
    finally:
        srv.stop()
    assert len(types) == len(set(types))  # one family each: kept values never doubled
    assert after["sge_ledger_balance_difference"] == {
        (("currency", "USD"), ("program_id", "prog_a")): 1.0}
    assert after["sge_webhook_deliveries_retry_scheduled"][()] == 1.0  # its last value
    assert after["sge_recon_up"][()] == 0.0
    assert after["sge_recon_last_success_timestamp_seconds"][()] == now.timestamp()


def test_check_status_is_the_newest_runs_result_as_on_the_overview(recon, factory):
    """sge_check_status took the newest result by storage time over the whole history (a full
    sort of ~13 k rows a day: 1.1 s a refresh at 12 weeks, growing for ever) and so disagreed
    with the Overview and the alert rules, which take the newest run's: a daily run started at
    02:00 and stored at 02:10 is older than a per-minute run of 02:05."""
    daily_start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    daily = factory.check_run(started_at=daily_start,
                              finished_at=daily_start + timedelta(minutes=10))
    minute = factory.check_run(started_at=daily_start + timedelta(minutes=5),
                               finished_at=daily_start + timedelta(minutes=5, seconds=1))
    factory.check_result(minute["run_id"], "ledger_balance", status="pass", priority="P0",
                         created_at=daily_start + timedelta(minutes=5, seconds=1))
    factory.check_result(daily["run_id"], "ledger_balance", status="fail", priority="P0",
                         failing_rows=2, created_at=daily_start + timedelta(minutes=10))
    collector = ReconCollector(recon.settings, recon.databases, ttl=0)
    srv = MetricsServer(collector, port=0).start()
    try:
        m = scrape(srv.url)
    finally:
        srv.stop()
    assert recon.checks.latest_results()["ledger_balance"].status == "pass"  # the Overview's
    status = m["sge_check_status"]
    assert status[(("check", "ledger_balance"), ("priority", "P0"), ("status", "pass"))] == 1.0
    assert status[(("check", "ledger_balance"), ("priority", "P0"), ("status", "fail"))] == 0.0
    assert m["sge_check_failing_rows"][(("check", "ledger_balance"),)] == 0.0
