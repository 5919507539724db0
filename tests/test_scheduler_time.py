"""The scheduler's time semantics: what drives the ticks, clock jumps, boundary instants."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sge_recon.context import Recon
from sge_recon.scheduling import Cadence, JobSpec, ManualClock, Scheduler, default_jobs

from .conftest import settings_for
from .test_alerts import SLACK, alerting_recon, receiver  # noqa: F401 - fixture
from .test_scheduler import Recorder

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wait_for(predicate, seconds: float = 8.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def test_run_forever_ticks_on_its_clock_through_a_dst_change_and_a_step_back(db_url):
    """The real loop ticks whenever the scheduler's (UTC) clock enters a new minute. Before, the
    trigger ran on the host's local wall time (the schedule library): on a host with
    TZ=Europe/Berlin it made no tick from 00:59 to 02:00 UTC on 2026-10-25 (local 03:00 CEST
    back to 02:00 CET): an hour without the per-minute alerting, every autumn. A wall clock
    stepped back (NTP) is a new minute too: the loop ticks at once, it does not wait for the
    old time to come back."""
    probe = Recorder(seconds=0)
    spec = JobSpec("probe", Cadence.every_minute(), probe, timedelta(seconds=90))
    clock = ManualClock(utc(2026, 10, 25, 0, 58, 30))
    sched = Scheduler(Recon(settings_for(db_url)).job_services, [spec], clock)
    stop = threading.Event()
    thread = threading.Thread(target=sched.run_forever, args=(stop,))
    thread.start()
    try:
        expected = [utc(2026, 10, 25, 0, 58)]  # the start-up tick
        assert wait_for(lambda: probe.calls == expected), probe.calls
        # minute by minute across 01:00 UTC, the Berlin fall-back instant
        for minute in (59, 60, 61):
            clock.set(utc(2026, 10, 25, 0, 0) + timedelta(minutes=minute))
            expected.append(utc(2026, 10, 25, 0, 0) + timedelta(minutes=minute))
            assert wait_for(lambda: probe.calls == expected), (minute, probe.calls)
        # the wall clock is stepped back an hour: the next tick comes at once, not in an hour
        clock.set(utc(2026, 10, 25, 0, 1, 30))
        expected.append(utc(2026, 10, 25, 0, 1))
        assert wait_for(lambda: probe.calls == expected), probe.calls
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    rows = sched.services.db.fetch_all(
        "SELECT scheduled_for, status FROM recon.job_runs ORDER BY scheduled_for")
    assert [(r["scheduled_for"], r["status"]) for r in rows] == sorted(
        (s, "succeeded") for s in expected)


# -- a failed slot is tried again within its grace ------------------------------------------------
def test_a_weekly_reminder_that_failed_at_nine_is_retried_not_lost_for_a_week(
        db_url, factory, receiver):  # noqa: F811
    """A platform migration rebuilds payout_batches at Monday 09:00: the reminder fails (a real
    PostgreSQL error). Before, the slot was not run again before the next Monday: the week's
    reminder was lost. Now it is tried again 15 min later (within its 12 h grace), at most 3
    runs in all, and the previous attempt's error stays in the row."""
    recon = alerting_recon(db_url, receiver)
    p = factory.program(currency="USD")
    monday = utc(2026, 11, 30, 9, 0)
    factory.payout_batch(p["id"], id="batch_a", total_amount=Decimal("10.00"),
                         created_at=monday - timedelta(hours=30))
    weekly = [s for s in default_jobs() if s.name == "weekly_payout_reminder"]
    clock = ManualClock(monday + timedelta(seconds=20))
    sched = Scheduler(recon.job_services, weekly, clock)
    recon.db.execute("ALTER TABLE public.payout_batches RENAME TO payout_batches_rebuilt")
    try:
        [first] = sched.tick()
    finally:
        recon.db.execute("ALTER TABLE public.payout_batches_rebuilt RENAME TO payout_batches")
    assert first.status == "failed" and "payout_batches" in first.error
    clock.advance(minutes=5)
    assert sched.tick()[0].status == "skipped"  # not in a loop: RETRY_AFTER first
    clock.advance(minutes=11)
    [retried] = sched.tick()
    assert retried.status == "succeeded", retried.error
    assert len(receiver.delivered(SLACK)) == 1 and "batch_a" in str(receiver.delivered(SLACK))
    [row] = recon.db.fetch_all("SELECT scheduled_for, status, attempts, details "
                               "FROM recon.job_runs")
    assert (row["scheduled_for"], row["status"], row["attempts"]) == (monday, "succeeded", 2)
    assert "payout_batches" in row["details"]["resumed"]["left_as"]
    clock.advance(hours=1)
    assert sched.tick()[0].status == "skipped"  # it succeeded: once


def test_a_failing_slot_is_tried_max_attempts_times_within_its_grace_only(db_url):
    recorder = Recorder(seconds=0, fail_times=10)
    spec = JobSpec("nightly", Cadence.daily("02:00"), recorder, timedelta(hours=1),
                   retry_after=timedelta(minutes=15), max_attempts=3)
    clock = ManualClock(utc(2026, 5, 1, 2, 0))
    sched = Scheduler(Recon(settings_for(db_url)).job_services, [spec], clock)
    statuses = []
    while clock.now() <= utc(2026, 5, 1, 4, 0):
        statuses += [o.status for o in sched.tick()]
        clock.advance(minutes=1)
    assert statuses.count("failed") == 3 and len(recorder.calls) == 3
    assert "succeeded" not in statuses
    [row] = sched.services.db.fetch_all("SELECT status, attempts, error FROM recon.job_runs")
    assert (row["status"], row["attempts"]) == ("failed", 3) and "boom" in row["error"]
    # the next day, past the slot's grace: nothing runs it again
    late = Scheduler(sched.services, [spec], ManualClock(utc(2026, 5, 2, 3, 30)))
    assert late.tick() == []


# -- whose clock ----------------------------------------------------------------------------------
def test_a_host_clock_a_day_ahead_or_stepped_back_does_not_move_the_slots(db_url):
    """`sge-recon scheduler` keeps the database's time. Before, it read the host's clock: a host
    a day ahead (NTP broken, a VM resumed) ran tomorrow's nightly reconciliation today and
    stamped its success in the future; tomorrow the real 02:00 slot was 'skipped' (already run)
    and sge_job_last_success_timestamp_seconds, a day ahead, kept NightlyReconciliationMissing
    quiet."""
    from sge_recon.db import Database
    from sge_recon.db.job_runs import database_now
    from sge_recon.scheduling import DatabaseClock

    recon = Recon(settings_for(db_url))
    assert isinstance(recon.scheduler.clock, DatabaseClock)  # what the command runs
    real = database_now(recon.db)
    host = ManualClock(real + timedelta(days=1, hours=1))  # the host's wrong clock
    clock = DatabaseClock(recon.db, source=host, refresh_seconds=0)
    assert abs(clock.now() - database_now(recon.db)) < timedelta(seconds=5)
    nightly = Recorder(seconds=0)
    spec = JobSpec("nightly", Cadence.daily("02:00"), nightly, timedelta(hours=23, minutes=59))
    sched = Scheduler(recon.job_services, [spec], clock)
    [outcome] = sched.tick()
    assert outcome.scheduled_for == Cadence.daily("02:00").latest_slot(real)  # today's, per the DB
    [row] = recon.db.fetch_all("SELECT finished_at FROM recon.job_runs")
    assert row["finished_at"] <= database_now(recon.db)  # no success stamped in the future
    # the host's clock is stepped back two days: the scheduler's time does not move
    host.set(real - timedelta(days=1))
    assert abs(clock.now() - database_now(recon.db)) < timedelta(seconds=5)
    # the database cannot be read: the last offset is kept
    offline = DatabaseClock(Database("postgresql://nobody@127.0.0.1:18119/none"),
                            source=host, refresh_seconds=0)
    offline.offset = clock.offset
    assert abs(offline.now() - database_now(recon.db)) < timedelta(seconds=5)


# -- a job that would hang ------------------------------------------------------------------------
def test_a_lock_on_payout_batches_fails_the_reminder_with_its_reason_not_hangs_it(
        db_url, factory, receiver):  # noqa: F811
    """A session holds payout_batches (ACCESS EXCLUSIVE: a platform migration, a stuck
    transaction) at Monday 09:00. Before, the reminder waited on it without end: its row stayed
    'running' (beating), and every later Monday was 'busy' as long as the lock lasted. Now its
    reads are bounded like the monitor's: recorded failed with the reason, tried again later."""
    import psycopg

    recon = alerting_recon(db_url, receiver)
    p = factory.program(currency="USD")
    factory.payout_batch(p["id"], id="batch_a", total_amount=Decimal("10.00"))
    weekly = [s for s in default_jobs() if s.name == "weekly_payout_reminder"]
    clock = ManualClock(utc(2026, 11, 30, 9, 0, 20))
    sched = Scheduler(recon.job_services, weekly, clock)
    outcomes: list = []
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE public.payout_batches IN ACCESS EXCLUSIVE MODE")
        thread = threading.Thread(target=lambda: outcomes.extend(sched.tick()), daemon=True)
        thread.start()
        thread.join(30)
        hung = thread.is_alive()
        holder.rollback()
    thread.join(30)
    assert not hung, "the weekly reminder waited on the lock for 30 s and more"
    [outcome] = outcomes
    assert outcome.status == "failed" and "lock timeout" in outcome.error
    [row] = recon.db.fetch_all("SELECT status, error FROM recon.job_runs")
    assert row["status"] == "failed" and "lock timeout" in row["error"]
    assert receiver.delivered(SLACK) == []
    clock.advance(minutes=15)  # the lock is gone: the retry posts the week's reminder
    assert sched.tick()[0].status == "succeeded"
    assert "batch_a" in str(receiver.delivered(SLACK))


# -- the monitor's steps --------------------------------------------------------------------------
def test_a_locked_trend_table_does_not_silence_the_incident_rules(db_url, factory, receiver):  # noqa: F811
    """REINDEX/VACUUM FULL of recon.metric_samples (a 90-day per-minute table) holds a lock that
    blocks its inserts. The trend sample and the incident rules shared one step: the sample's
    lock timeout skipped the rules, so a ledger imbalance opened no P0 and paged nobody for as
    long as the maintenance lasted. Now the sample is a step of its own."""
    import psycopg

    from .test_alerts import monitor_only, plant_ledger_imbalance, start_clock

    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    plant_ledger_imbalance(factory, recon.db, clock)
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE recon.metric_samples IN SHARE MODE")  # as REINDEX TABLE does
        [outcome] = monitor_only(recon, clock).tick()
        holder.rollback()
    assert outcome.status == "failed" and "metric samples" in outcome.error
    assert "lock timeout" in outcome.error
    assert len(outcome.details["incidents"]["opened"]) == 1
    [slack] = receiver.delivered(SLACK)
    assert "P0 incident" in slack["text"]
    assert recon.db.fetch_one("SELECT count(*) AS n FROM recon.incidents "
                              "WHERE status = 'open'")["n"] == 1
