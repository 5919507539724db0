"""Platform reads on a real streaming standby (issue 20): a primary and a hot standby started from
the embedded PostgreSQL's own binaries (``pg_basebackup -R``), sge-recon's state on the primary,
the checks, the console's data and an export on the standby; faults planted on the primary are
found once they replay; a paused standby is never called green.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from sge_recon.alerts.rules import evaluate_rules
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.db.replica import ReplicaReading
from sge_recon.metrics.collector import exported_gauges
from sge_recon.metrics.facts import gather_facts
from sge_recon.replica import STALE_SUFFIX, lag_text, refusal

from .checkpoint_support import repeat_until_watermark
from .replica_pair import platform_pair
from .conftest import settings_for
from .factories import PlatformFactory

STALE = STALE_SUFFIX


@pytest.fixture(scope="module")
def pair():
    with platform_pair("sgr-rp-") as pair:
        yield pair


@pytest.fixture(scope="module")
def world(pair):
    """A small balanced platform written on the primary and replayed on the standby."""
    f = PlatformFactory(pair.primary.database())
    programs = [f.program()["id"] for _ in range(3)]
    for p in programs:
        for _ in range(3):
            f.journal(p, [("treasury", "debit", "10.00"), (f"user:{p}", "credit", "10.00")])
    f.heartbeat()
    pair.wait_for_replay()
    # the month its entries were written in: the module's tests run for minutes after, and the
    # export of "this month" read at export time held none of them once the month had turned
    [months] = pair.primary.database().fetch_all(
        "SELECT array_agg(DISTINCT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM')) AS m "
        "FROM public.ledger_entries")
    [period] = months["m"]
    return {"factory": f, "programs": programs, "period": period}


def _recon(pair, **overrides) -> Recon:
    return Recon(settings_for(pair.primary.url, PLATFORM_READ_URL=pair.standby.url, **overrides))


def _ledger_scans(db: Database) -> int:
    row = db.fetch_one("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n "
                       "FROM pg_stat_user_tables WHERE relname = 'ledger_entries'")
    return int(row["n"])


def _stored(recon: Recon, run_id: str) -> dict:
    return recon.db.fetch_one("SELECT status, platform_read, replica_lag_seconds, replica_paused, "
                              "replica_behind_bytes FROM recon.check_runs WHERE run_id = %s",
                              (run_id,))


@pytest.mark.slow
def test_checks_console_and_export_read_the_standby_state_stays_on_the_primary(pair, world,
                                                                              tmp_path):
    recon = _recon(pair)
    assert recon.platform_db.url == pair.standby.url and recon.db.url == pair.primary.url
    primary_scans = _ledger_scans(pair.primary.database())
    standby_scans = _ledger_scans(pair.standby.database())

    run = recon.checks.run(trigger="test")
    assert run.by_name()["ledger_balance"].status == "pass"
    assert run.by_name()["transaction_balance"].status == "pass"
    assert "error" not in {c.status for c in run.checks}, [c.error for c in run.checks]
    stored = _stored(recon, run.run_id)  # the evidence is on the primary, with where it read
    assert stored["platform_read"] == pair.standby.database().where
    assert stored["replica_lag_seconds"] == 0 and stored["replica_paused"] is False

    overview = recon.console.overview()
    assert overview.platform_read == pair.standby.database().where
    assert overview.replica_lag_seconds == 0 and overview.replica_warning is None
    assert "behind the primary" in overview.replica_text
    assert recon.console.ledger_balances()  # a platform page, read on the standby

    period = world["period"]  # the world's month (usually still running: --force)
    result = recon.exports.export(period, out_dir=tmp_path, force=True)
    manifest = json.loads((result.directory / "manifest.json").read_text())
    assert manifest["source"]["database"] == pair.standby.database().where
    assert manifest["source"]["replica"]["lag_seconds"] == "0"
    assert sum(t["entry_count"] for t in manifest["control_totals"]) == 18
    assert recon.exports.runs(period)[0]["status"] == "succeeded"  # recorded on the primary

    # the checks, the console and the export scanned the ledger on the standby, never the primary
    deadline = time.monotonic() + 5
    while _ledger_scans(pair.standby.database()) == standby_scans and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ledger_scans(pair.standby.database()) > standby_scans
    assert _ledger_scans(pair.primary.database()) == primary_scans


@pytest.mark.slow
def test_the_check_command_says_where_it_read(pair, world, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    env.update(DATABASE_URL=pair.primary.url, PLATFORM_READ_URL=pair.standby.url,
               SGE_RECON_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "sge_recon", "check", "--only", "ledger_balance"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode in (0, 2), done.stderr
    assert f"Platform read on the replica {pair.standby.database().where}" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "sge_recon", "check"], capture_output=True,
                         text=True, env={**env, "PLATFORM_READ_URL": "mysql://x/y"}, timeout=60)
    assert bad.returncode != 0 and "PLATFORM_READ_URL" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_an_idle_primary_is_not_lag(pair, world):
    """No WAL to replay is not lag, however old the last replayed commit is."""
    pair.wait_for_replay()
    recon = _recon(pair, REPLICA_MAX_LAG_SECONDS=1)
    age = "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp()) AS age"
    deadline = time.monotonic() + 15  # (a background commit, e.g. autovacuum, restarts the wait)
    while pair.standby.database().fetch_one(age)["age"] <= 1.5 and time.monotonic() < deadline:
        time.sleep(0.25)
    # what a naive now() - pg_last_xact_replay_timestamp() would call lag beyond the limit
    assert pair.standby.database().fetch_one(age)["age"] > 1.5
    run = recon.checks.run(only=["ledger_balance"], trigger="test")
    assert run.status == "pass" and run.replica["replica_lag_seconds"] == 0


@pytest.mark.slow
def test_faults_found_after_replay_and_a_paused_standby_is_never_green(pair, world):
    recon = _recon(pair)
    f, (p1, p2, _) = world["factory"], world["programs"]

    # a fault on the primary is found on the standby once it has replayed
    f.journal(p1, [("treasury", "debit", "5.00"), (f"user:{p1}", "credit", "4.00")])
    pair.wait_for_replay()
    run = recon.checks.run(trigger="test")
    assert run.by_name()["ledger_balance"].status == "fail"
    assert {r["program_id"] for r in run.by_name()["ledger_balance"].rows} == {p1}

    # replay paused, another fault on the primary: the run refuses to call stale data green
    pair.pause_replay()
    try:
        f.journal(p2, [("treasury", "debit", "7.00"), (f"user:{p2}", "credit", "6.00")])
        time.sleep(0.3)
        run = recon.checks.run(trigger="test")
        assert run.status == "error" and run.exit_code() == 3
        evaluated = [c for c in run.checks if c.status != "unavailable"]
        assert evaluated and {c.status for c in evaluated} == {"error"}
        assert all("paused" in c.error and STALE in c.error for c in evaluated)
        stored = _stored(recon, run.run_id)
        assert stored["status"] == "error" and stored["replica_paused"] is True
        assert stored["replica_lag_seconds"] > 0 and stored["replica_behind_bytes"] > 0

        overview = recon.console.overview()  # the Overview says so and is not green
        assert overview.replica_warning and "paused" in overview.replica_warning
        assert overview.replica_lag_seconds > 0 and not overview.all_green

        now = datetime.now(timezone.utc)
        facts = gather_facts(recon.db, recon.settings, now, recon.platform_db)
        assert facts.replica_paused and facts.replica_lag_seconds > 0
        gauges = {g.name: g for g in exported_gauges(facts)}
        assert gauges["sge_recon_replica_lag_seconds"].samples[0][1] > 0
        assert gauges["sge_recon_replica_replay_paused"].samples[0][1] == 1
        # the live facts were read on the primary for this round: the new fault shows
        assert {d.program_id for d in facts.ledger if d.difference} == {p1, p2}
        replica = [x for x in evaluate_rules(facts, recon.settings) if x.kind == "replica_lag"]
        assert len(replica) == 1 and replica[0].priority == "P1"
        assert "replay paused" in replica[0].title

        with pytest.raises(Exception, match="paused"):
            recon.exports.export(datetime.now(timezone.utc).strftime("%Y-%m"),
                                 out_dir=tempfile.mkdtemp(prefix="sgr-ex-"), force=True)
    finally:
        pair.resume_replay()

    # resumed: it catches up, and both faults are found
    pair.wait_for_replay()
    run = recon.checks.run(trigger="test")
    assert run.by_name()["ledger_balance"].status == "fail"
    assert {r["program_id"] for r in run.by_name()["ledger_balance"].rows} == {p1, p2}
    assert run.replica["replica_lag_seconds"] == 0 and run.replica["replica_paused"] is False


@pytest.mark.slow
def test_the_fast_run_advances_the_watermark_on_the_primary_and_reads_the_standby(pair, world):
    """The per-minute run: the checkpoint watermark moves on the primary (pg_locks there), the
    incremental checks read the checkpoint and the new entries on the standby."""
    recon = _recon(pair)
    # the first builds the checkpoint, a later one confirms the candidate
    watermark = repeat_until_watermark(lambda: recon.checks.run(fast_only=True, trigger="test"),
                                       recon.db, lambda w: w > 0)
    pair.wait_for_replay()
    assert pair.standby.database().fetch_one(
        "SELECT watermark FROM recon.ledger_checkpoint")["watermark"] == watermark
    run = recon.checks.run(fast_only=True, trigger="test")
    assert run.replica["platform_read"] == pair.standby.database().where
    full = recon.checks.run(only=["ledger_balance", "transaction_balance"], trigger="test")
    for name in ("ledger_balance", "transaction_balance"):
        assert run.by_name()[name].failing_rows == full.by_name()[name].failing_rows


def test_the_refusal_sentences():
    def reading(**kw):
        base = dict(where="db1:5432/sge", standby=True, lag_seconds=Decimal(0), paused=False,
                    behind_bytes=None, last_replay_at=None, receiver="streaming",
                    same_cluster=True, compared_with_primary=True)
        return ReplicaReading(**{**base, **kw})

    assert refusal(reading(), 60) is None
    assert refusal(reading(lag_seconds=Decimal(59)), 60) is None
    text = refusal(reading(lag_seconds=Decimal(840), behind_bytes=123456), 60)
    assert text.startswith("the replica db1:5432/sge is 14 min behind the primary "
                           "(123,456 bytes of WAL not replayed)")
    assert text.endswith(STALE) and "REPLICA_MAX_LAG_SECONDS (60 s)" in text
    assert "paused" in refusal(reading(paused=True), 60)  # paused: refused even when level
    assert "another cluster" in refusal(reading(same_cluster=False), 60)
    assert "unknown time" in refusal(reading(lag_seconds=None), 60)
    assert refusal(reading(standby=False, same_server=True), 60) is None  # the primary itself
    for other in (False, None):  # promoted, another primary, or the primary could not be read
        assert "not in recovery (a promoted standby" in refusal(
            reading(standby=False, same_server=other), 60)
    assert [lag_text(s) for s in (3.25, 42, 840, 7500, None)] == [
        "3.2 s", "42 s", "14 min", "2 h 5 min", "an unknown time"]


@pytest.mark.slow
def test_the_gx_engine_reads_the_standby_too(pair, world):
    """GX builds its own SQLAlchemy URL from the platform-read Database: the standby's."""
    recon = _recon(pair)
    f, p3 = world["factory"], world["programs"][2]
    pair.pause_replay()
    try:
        f.journal(p3, [("treasury", "debit", "3.00"), (f"user:{p3}", "credit", "2.00")])
        time.sleep(0.2)
        off = pair.primary.database().fetch_one(
            "SELECT count(*) AS n FROM (SELECT 1 FROM ledger_entries GROUP BY program_id "
            "HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0) x")["n"]
        run = recon.checks.run(only=["ledger_balance"], engine="gx", trigger="test")
        assert run.status == "error" and "paused" in run.checks[0].error
        # the engine itself, behind the refusal, reads the standby: it misses the new fault
        [stale] = recon.checks._engine_run("gx", recon.checks.select(["ledger_balance"]))
        assert stale.engine == "gx" and stale.failing_rows == off - 1
    finally:
        pair.resume_replay()
    pair.wait_for_replay()
    run = recon.checks.run(only=["ledger_balance"], engine="gx", trigger="test")
    result = run.by_name()["ledger_balance"]
    assert result.engine == "gx" and result.status == "fail" and result.failing_rows == off


@pytest.mark.slow
def test_a_profile_on_a_replica_db_init_on_the_primary_views_replicate(pair):
    """DESIGN §3/§11: the sge profile's views are created by `db init` on the primary and reach
    the standby by replication; the checks then read them there."""
    from refplatform.sge_platform import create_sge_schema, load_sge_platform
    from sge_recon.db.connection import database_url_named, ensure_database

    primary_url = ensure_database(pair.primary.url, "sge")
    db = Database(primary_url)
    create_sge_schema(db)
    load_sge_platform(db, intents=300, seed=3, as_of=datetime.now(timezone.utc),
                      faults=["ledger_imbalance"])
    standby_url = database_url_named(pair.standby.url, "sge")
    recon = Recon(settings_for(primary_url, PLATFORM_PROFILE="sge",
                               PLATFORM_READ_URL=standby_url))
    pair.wait_for_replay()
    assert Database(standby_url).fetch_one(
        "SELECT to_regclass('recon_platform.ledger_entries') AS v")["v"] is None
    recon.init_db()  # on the primary: a standby is read-only
    pair.wait_for_replay()
    run = recon.checks.run(trigger="test")
    results = run.by_name()
    assert run.replica["platform_read"] == Database(standby_url).where
    assert results["ledger_balance"].status == "fail"
    assert results["webhook_retries"].status == "unavailable"
    assert not [n for n, r in results.items() if r.status == "error"], \
        {n: r.error for n, r in results.items() if r.status == "error"}


@pytest.mark.slow
def test_a_standby_further_behind_than_the_limit_is_an_error_not_a_pass(pair, world):
    """Not paused, just behind: recovery_min_apply_delay holds every commit back 4 s."""
    recon = _recon(pair, REPLICA_MAX_LAG_SECONDS=1)
    standby = pair.standby.database()
    with standby.connect(autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET recovery_min_apply_delay = '4s'")
        conn.execute("SELECT pg_reload_conf()")
    try:
        time.sleep(1.5)  # the last replayed commit is now older than the limit
        world["factory"].heartbeat()
        time.sleep(0.2)
        run = recon.checks.run(only=["ledger_balance", "stuck_intents"], trigger="test")
        assert run.status == "error"
        for c in run.checks:
            assert "behind the primary" in c.error and "more than REPLICA_MAX_LAG_SECONDS (1 s)" \
                in c.error and STALE in c.error and "paused" not in c.error
        assert run.replica["replica_lag_seconds"] > 1 and run.replica["replica_paused"] is False
    finally:
        with standby.connect(autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET recovery_min_apply_delay")
            conn.execute("SELECT pg_reload_conf()")
    pair.wait_for_replay()
    assert recon.checks.run(only=["stuck_intents"], trigger="test").status == "pass"


@pytest.mark.slow
def test_the_overview_page_shows_the_lag_and_a_paused_standby(pair, world, monkeypatch, tmp_path):
    import streamlit as st

    from .console_support import app, console_env, open_page, texts

    console_env(monkeypatch, pair.primary.url, "http://127.0.0.1:9", tmp_path,
                PLATFORM_READ_URL=pair.standby.url)
    pair.wait_for_replay()
    at = open_page(app(), "overview")
    shown = texts(at)
    assert f"Platform data read on the replica {pair.standby.database().where}" in shown
    assert "behind the primary" in shown and "is paused" not in shown
    pair.pause_replay()
    try:
        world["factory"].heartbeat()
        time.sleep(0.3)
        st.cache_data.clear()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        shown = texts(at)
        assert "is paused (pg_wal_replay_pause())" in shown and STALE in shown
        assert "Everything is green" not in shown
    finally:
        pair.resume_replay()
    pair.wait_for_replay()


@pytest.mark.slow
def test_lag_without_the_primary_to_compare_and_as_a_role_without_stats_privileges(pair, world):
    """When the primary cannot be read, 'caught up' is judged on the standby alone (replayed all
    it received, the WAL receiver streams); a role without pg_read_all_stats sees no receiver
    status and is not taken for lagging."""
    from sge_recon.db.replica import measure

    primary = pair.primary.database()
    primary.execute("DO $$ BEGIN CREATE ROLE recon_ro LOGIN; EXCEPTION WHEN duplicate_object "
                    "THEN NULL; END $$")
    pair.wait_for_replay()
    for user in ("postgres", "recon_ro"):
        standby = Database(pair.standby.url.replace("postgres:@", f"{user}:@", 1))
        reading = measure(standby, None)
        assert reading.standby and not reading.compared_with_primary
        assert reading.lag_seconds == 0 and not reading.paused, (user, reading)
        assert measure(standby, Database(pair.primary.url.replace(
            "postgres:@", f"{user}:@", 1))).lag_seconds == 0


@pytest.mark.slow
def test_a_server_that_is_not_a_standby_is_never_read_as_fresh(pair, world, db_url):
    """PLATFORM_READ_URL on another primary (here the test session's own server; a promoted
    standby is the same case: not in recovery, and it keeps the cluster's identifier) refuses
    every check; the primary itself under another URL is read as level."""
    other = Recon(settings_for(pair.primary.url, PLATFORM_READ_URL=db_url))
    run = other.checks.run(only=["ledger_balance"], trigger="test")
    assert run.status == "error" and "not in recovery" in run.checks[0].error, run.checks[0]
    primary = pair.primary.database()
    itself = Database(pair.primary.url.replace("postgres:@", "postgres@", 1))  # another URL
    assert itself.url != primary.url
    from sge_recon.db.replica import measure

    reading = measure(itself, primary)
    assert not reading.standby and reading.same_server and refusal(reading, 60) is None


@pytest.mark.slow
def test_signals_of_a_run_refused_on_a_standby_that_caught_up_since_are_read_again(pair, world):
    """The per-minute run was refused (replay paused; or the standby behind for the seconds its
    WAL receiver takes to reconnect after a primary restart), and when the live facts measured
    the standby it had caught up: the facts took the run's refused results as this round's
    verdicts, so every signal "errored" (the monitor recorded failed, no rule judged anything,
    a new imbalance not alerted that minute). Now a refused result is read again."""
    recon = _recon(pair)
    f = world["factory"]
    program = f.program()["id"]
    pair.pause_replay()
    try:
        f.journal(program, [("treasury", "debit", "3.00"), (f"user:{program}", "credit", "2.00")])
        time.sleep(0.3)
        run = recon.checks.run(fast_only=True, trigger="test", store=False)
        assert run.by_name()["ledger_balance"].status == "error"
        assert "paused" in run.by_name()["ledger_balance"].error
    finally:
        pair.resume_replay()
    pair.wait_for_replay()
    facts = gather_facts(recon.db, recon.settings, datetime.now(timezone.utc), recon.platform_db,
                         run.by_name())
    assert facts.replica_problem is None  # caught up by now
    assert not facts.errored, {n: facts.unavailable[n] for n in facts.errored}
    assert program in {d.program_id for d in facts.ledger if d.difference}
    assert facts.results["ledger_balance"].status == "fail"


@pytest.mark.slow
def test_another_database_on_the_standby_is_never_read_as_the_platform(pair, world):
    """PLATFORM_READ_URL on the right standby but another database of it (every database of the
    cluster replicates: a staging copy, a typo): level and streaming, it was read as the
    platform's. Now every check errors naming both databases."""
    with pair.primary.database().connect(autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'elsewhere'").fetchone() is None:
            conn.execute("CREATE DATABASE elsewhere")
    pair.wait_for_replay()
    standby_elsewhere = pair.standby.url.replace("/postgres?", "/elsewhere?", 1)
    recon = Recon(settings_for(pair.primary.url, PLATFORM_READ_URL=standby_elsewhere))
    run = recon.checks.run(only=["ledger_balance"], trigger="test", store=False)
    assert run.status == "error", run.checks
    assert "names database elsewhere, not DATABASE_URL's postgres" in run.checks[0].error
    assert recon.replica_freshness().refusal is not None


@pytest.mark.slow
def test_an_export_cut_by_a_recovery_conflict_says_so(pair, world, tmp_path):
    """A lock taken on the primary (a migration, a VACUUM truncation) replays on the standby while
    the export's snapshot holds a table there: past max_standby_streaming_delay the standby ends
    the export's session. The export said only psql's last line, "DETAIL: User was holding a
    relation lock for too long." Now it gives the server's error with that detail."""
    with pair.standby.database().connect(autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET max_standby_streaming_delay = 20")
        conn.execute("SELECT pg_reload_conf()")
    recon = _recon(pair)
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    locked = []

    def lock_on_the_primary(step) -> None:
        if step.done and step.table == "ledger_entries" and not locked:
            from sge_recon.db.recovery_conflicts import conflict_counts

            def ended(conn) -> int:
                return (conflict_counts(conn) or {})["confl_lock"]

            with pair.standby.database().connect(autocommit=True) as conn:
                before = ended(conn)
            with pair.primary.database().connect() as conn:
                conn.execute("LOCK TABLE public.ledger_entries IN ACCESS EXCLUSIVE MODE")
                time.sleep(1)  # replayed on the standby; held past the 20 ms it may wait
            locked.append(True)
            # the export's session is ended before it goes on: its next statement meets a closed
            # connection whose last message it may or may not still read (either way, the cause)
            with pair.standby.database().connect(autocommit=True) as conn:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and ended(conn) == before:
                    time.sleep(0.05)

    try:
        with pytest.raises(Exception) as raised:
            recon.exports.export(month, out_dir=tmp_path, force=True,
                                 progress=lock_on_the_primary)
    finally:
        with pair.standby.database().connect(autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET max_standby_streaming_delay")
            conn.execute("SELECT pg_reload_conf()")
    message = str(raised.value)
    assert locked and "conflict with recovery" in message, message
    assert "User was holding a relation lock for too long" in message
    assert not (tmp_path / month).exists()


def test_a_session_the_standby_ended_is_named_from_its_conflict_counts(pair, world):
    """When the standby's "terminating connection due to conflict with recovery" is lost (the
    client wrote after the backend had gone: the kernel's reset drops the unread message, and
    libpq says only "server closed the connection unexpectedly"), the export still names the
    cause, in the server's words, from pg_stat_database_conflicts."""
    import psycopg

    from sge_recon.db.recovery_conflicts import conflict_counts, lost_to_recovery_conflict

    standby = pair.standby.database()
    with standby.connect(autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET max_standby_streaming_delay = 20")
        conn.execute("SELECT pg_reload_conf()")
    try:
        with standby.connect(autocommit=True) as reader:
            before = conflict_counts(reader)
            assert before is not None and lost_to_recovery_conflict(standby, before, 0) is None
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM public.ledger_entries")  # holds its lock
            with pair.primary.database().connect() as conn:  # its WAL flushed at commit:
                conn.execute("LOCK TABLE public.ledger_entries IN ACCESS EXCLUSIVE MODE")
            deadline = time.monotonic() + 30  # replayed, then the reader's 20 ms are up
            with pytest.raises(psycopg.OperationalError):
                while time.monotonic() < deadline:
                    reader.execute("SELECT 1")  # until the session is gone
                    time.sleep(0.05)
        assert lost_to_recovery_conflict(standby, before) == (
            "terminating connection due to conflict with recovery (User was holding a relation "
            "lock for too long.)")
    finally:
        with standby.connect(autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET max_standby_streaming_delay")
            conn.execute("SELECT pg_reload_conf()")
    with pair.primary.database().connect(autocommit=True) as conn:  # a primary has no counts
        assert conflict_counts(conn) is None
