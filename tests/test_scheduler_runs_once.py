"""A slot runs once while its first runner lives, and its notice goes out once per (job, slot).

* D1: the session holding a job's advisory lock can end under a live runner
  (idle_session_timeout, a pooler restart): a second scheduler must not take the slot over while
  the runner still beats; the runner takes its lock again; a runner whose slot was taken over
  (its heartbeat stale) records nothing.
* D2: re-running an interrupted weekly reminder slot queues nothing a channel already has; a
  message still pending is delivered by the normal outbox delivery, with its delivery id.

The lock's session is ended with pg_terminate_backend (what idle_session_timeout or a pooler
restart does to it), and a killed runner is a 'running' row whose heartbeat is old.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.db.job_runs import JOB_LOCK_NAMESPACE
from sge_recon.scheduling import Cadence, JobSpec, ManualClock, Scheduler, default_jobs

from .conftest import settings_for
from .test_alerts import DISCORD, SLACK, alerting_recon, receiver  # noqa: F401 - fixture

UTC = timezone.utc
MONDAY_0901 = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)  # the weekly reminder's slot is 09:00
WEEKLY = "weekly_payout_reminder"


def weekly() -> list[JobSpec]:
    return [s for s in default_jobs() if s.name == WEEKLY]


def lock_holders(db: Database, job: str) -> list[int]:
    """Backend pids holding ``job``'s advisory lock in this database."""
    return [r["pid"] for r in db.fetch_all(
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() "
        "AND l.classid = %s AND l.objid = (hashtext(%s)::bigint & 4294967295)::text::oid "
        "AND l.objsubid = 2", (JOB_LOCK_NAMESPACE, job))]


def end_lock_session(db: Database, job: str) -> int:
    """End the session holding ``job``'s lock, as idle_session_timeout or a pooler restart
    would; returns its pid once it is gone (the lock with it: free, unless its runner has
    already taken it again)."""
    [pid] = lock_holders(db, job)
    assert db.fetch_one("SELECT pg_terminate_backend(%s, 10000) AS ok", (pid,))["ok"]
    assert pid not in lock_holders(db, job)
    return pid


def wait_for(predicate, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def ticking(sched: Scheduler) -> tuple[threading.Thread, list]:
    outcomes: list = []
    thread = threading.Thread(target=lambda: outcomes.extend(sched.tick()))
    thread.start()
    return thread, outcomes


def waiting_batch(factory) -> None:
    p = factory.program(currency="USD")
    factory.payout_batch(p["id"], id="batch_a", total_amount=Decimal("1200.50"),
                         affiliate_count=3, created_at=MONDAY_0901 - timedelta(hours=30))


class Gate:
    """A job that waits inside its run until the test lets it finish."""

    def __init__(self):
        self.inside, self.go, self.calls = threading.Event(), threading.Event(), []

    def __call__(self, ctx):
        self.calls.append(ctx.scheduled_for)
        self.inside.set()
        assert self.go.wait(30)
        return {"ran": True}


# -- D1 -------------------------------------------------------------------------------------------
def test_a_second_scheduler_does_not_run_a_slot_whose_runner_lost_its_lock_session(
        db_url, factory, receiver):  # noqa: F811
    """The auditor's scenario: scheduler A is inside the weekly reminder (Slack hangs), the
    session holding its lock ends; B ticks the same minute. B must find the job busy: A's run
    still beats. One reminder, one run."""
    recon = alerting_recon(db_url, receiver)
    waiting_batch(factory)
    receiver.hold[SLACK] = slack_answers = threading.Event()
    # A beats rarely here: B's refusal rests on the heartbeat A wrote when it claimed the slot
    a = Scheduler(recon.job_services, weekly(), ManualClock(MONDAY_0901), host="A",
                  heartbeat_seconds=60, stale_after=timedelta(minutes=5))
    b = Scheduler(recon.job_services, weekly(), ManualClock(MONDAY_0901), host="B")
    thread, a_outcomes = ticking(a)
    try:
        wait_for(lambda: receiver.count(SLACK) == 1)  # A is inside the job, posting to Slack
        end_lock_session(recon.db, WEEKLY)
        assert lock_holders(recon.db, WEEKLY) == []  # the lock is free (A beats once a minute)
        [b_outcome] = b.tick()
        assert b_outcome.status == "busy", "B ran the slot that A is still running"
    finally:
        slack_answers.set()
        thread.join(30)
    [a_outcome] = a_outcomes
    assert a_outcome.status == "succeeded", a_outcome.error
    assert receiver.count(SLACK) == 1 and receiver.count(DISCORD) == 1
    runs = recon.db.fetch_all("SELECT scheduled_for, status, host FROM recon.job_runs")
    assert [(r["status"], r["host"]) for r in runs] == [("succeeded", "A")]
    assert len(recon.incidents.deliveries()) == 2  # one message per channel
    assert b.tick()[0].status == "skipped"  # and once A is done, the slot has run: once


def test_a_runner_takes_its_lock_again_and_keeps_its_job_busy(db_url):
    """The heartbeat notices that the lock's session ended and takes the lock again on a new
    connection; the next minute's slot waits for the run instead of overlapping it."""
    recon = Recon(settings_for(db_url))
    gate = Gate()
    spec = JobSpec("probe", Cadence.every_minute(), gate, timedelta(seconds=90))
    clock = ManualClock(datetime(2026, 5, 1, 10, 0, 5, tzinfo=UTC))
    a = Scheduler(recon.job_services, [spec], clock, host="A", heartbeat_seconds=0.1,
                  stale_after=timedelta(seconds=30))
    b = Scheduler(recon.job_services, [spec], clock, host="B")
    thread, a_outcomes = ticking(a)
    try:
        assert gate.inside.wait(20)
        first = recon.db.fetch_one("SELECT heartbeat_at FROM recon.job_runs")["heartbeat_at"]
        old_pid = end_lock_session(recon.db, "probe")
        wait_for(lambda: lock_holders(recon.db, "probe") not in ([], [old_pid]))
        later = recon.db.fetch_one("SELECT heartbeat_at FROM recon.job_runs")["heartbeat_at"]
        assert later > first  # the runner beats
        clock.advance(minutes=1)  # the next slot, while the first run is still going
        assert b.tick()[0].status == "busy"
    finally:
        gate.go.set()
        thread.join(30)
    [a_outcome] = a_outcomes
    assert a_outcome.status == "succeeded", a_outcome.error
    assert a_outcome.details == {"ran": True, "lock_sessions_lost": 1}
    assert lock_holders(recon.db, "probe") == []  # released at the end of the run
    assert gate.calls == [datetime(2026, 5, 1, 10, 0, tzinfo=UTC)]
    assert b.tick()[0].status == "succeeded"  # now the next minute runs
    assert gate.calls[-1] == datetime(2026, 5, 1, 10, 1, tzinfo=UTC)


def test_a_runner_whose_slot_was_taken_over_records_nothing(db_url):
    """A runner cut off from the database longer than stale_after (no heartbeat, lock session
    gone) is deemed gone: another scheduler runs the slot. When the first one comes back, its
    end is fenced: it records nothing over the run that took its place (outcome 'lost')."""
    recon = Recon(settings_for(db_url))
    gate = Gate()
    slot = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    clock = ManualClock(slot + timedelta(minutes=1))
    a = Scheduler(recon.job_services, [JobSpec("nightly", Cadence.daily("02:00"), gate,
                                               timedelta(hours=20))], clock, host="A",
                  heartbeat_seconds=3600, stale_after=timedelta(hours=3))
    thread, a_outcomes = ticking(a)
    try:
        assert gate.inside.wait(20)
        end_lock_session(recon.db, "nightly")
        assert lock_holders(recon.db, "nightly") == []
        recon.db.execute("UPDATE recon.job_runs SET heartbeat_at = now() - interval '1 hour'")
        b_calls: list = []
        b = Scheduler(recon.job_services, [JobSpec("nightly", Cadence.daily("02:00"),
                                                   lambda ctx: b_calls.append(1) or {"b": 1},
                                                   timedelta(hours=20))], clock, host="B")
        [b_outcome] = b.tick()
        assert b_outcome.status == "succeeded" and b_calls == [1]
    finally:
        gate.go.set()
        thread.join(30)
    [a_outcome] = a_outcomes
    assert a_outcome.status == "lost" and "taken over" in a_outcome.error
    [row] = recon.db.fetch_all("SELECT status, host, details FROM recon.job_runs")
    assert (row["status"], row["host"], row["details"]["b"]) == ("succeeded", "B", 1)


# -- D2 -------------------------------------------------------------------------------------------
def test_re_running_an_interrupted_reminder_slot_sends_nothing_twice(db_url, factory,
                                                                     receiver):  # noqa: F811
    """The reminder reached Slack; Discord failed once and waits for its retry; then the runner
    died before recording the run (its row left 'running', its heartbeat an hour old). The
    next scheduler re-runs the slot: no new message; Discord gets the one it was owed, with the
    same delivery id."""
    recon = alerting_recon(db_url, receiver)
    waiting_batch(factory)
    receiver.fail_next[DISCORD] = 1
    [first] = Scheduler(recon.job_services, weekly(), ManualClock(MONDAY_0901), host="A").tick()
    assert first.status == "succeeded", first.error
    assert (receiver.count(SLACK), receiver.count(DISCORD)) == (1, 1)
    recon.db.execute("UPDATE recon.job_runs SET status = 'running', finished_at = NULL, "
                     "details = NULL, heartbeat_at = now() - interval '1 hour'")
    again = Scheduler(recon.job_services, weekly(),
                      ManualClock(MONDAY_0901 + timedelta(minutes=4)), host="B")
    [second] = again.tick()
    assert second.status == "succeeded", second.error
    assert receiver.count(SLACK) == 1, "the same week's reminder reached Slack twice"
    assert second.details["already_queued"] == ["slack", "discord"]
    assert second.details["channels"] == 2 and second.details["alerts"]["sent"] == 1
    ids = [p["headers"]["X-SGE-Delivery"] for p in receiver.posts if p["path"] == DISCORD]
    assert len(ids) == 2 and len(set(ids)) == 1  # the retry of the one Discord message
    rows = recon.incidents.deliveries()
    assert [(r["channel"], r["status"], r["dedup_key"]) for r in rows] == [
        (c, "sent", "weekly_payout_reminder:2026-11-30T09:00:00+00:00")
        for c in ("slack", "discord")]
    [run] = recon.db.fetch_all("SELECT status, host FROM recon.job_runs")
    assert (run["status"], run["host"]) == ("succeeded", "B")


KILLED_IN_THE_REMINDER = """
from datetime import datetime, timezone
from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.scheduling import ManualClock, Scheduler, default_jobs
weekly = [s for s in default_jobs() if s.name == "weekly_payout_reminder"]
clock = ManualClock(datetime(2026, 11, 30, 9, 1, tzinfo=timezone.utc))
Scheduler(Recon(Settings.load()).job_services, weekly, clock, host="A").tick()
"""


def test_a_reminder_killed_mid_delivery_is_taken_over_once_its_runner_is_gone(
        db_url, factory, receiver, cli_env):  # noqa: F811
    """The auditor's kill: a scheduler process is SIGKILLed while Discord holds the reminder's
    POST (Slack has it). Right after, its slot is still busy (its heartbeat is fresh: the runner
    is not yet provably gone); once the heartbeat is stale the next scheduler runs the slot
    again, sends no second reminder, and delivers the in-flight Discord message once more."""
    recon = alerting_recon(db_url, receiver)
    waiting_batch(factory)
    receiver.hold[DISCORD] = discord_answers = threading.Event()
    env = {**cli_env, "SLACK_WEBHOOK_URL": receiver.base + SLACK,
           "DISCORD_WEBHOOK_URL": receiver.base + DISCORD}
    child = subprocess.Popen([sys.executable, "-c", KILLED_IN_THE_REMINDER], env=env)
    try:
        wait_for(lambda: receiver.count(DISCORD) == 1, 60)
        assert receiver.count(SLACK) == 1
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        discord_answers.set()
    b = Scheduler(recon.job_services, weekly(), ManualClock(MONDAY_0901 + timedelta(minutes=4)),
                  host="B", heartbeat_seconds=0.5, stale_after=timedelta(seconds=2))
    outcomes = b.tick()
    assert [o.status for o in outcomes] == ["busy"]  # killed a moment ago: not yet stale
    wait_for(lambda: (outcomes.extend(b.tick()) or outcomes[-1].status) != "busy", 30)
    assert outcomes[-1].status == "succeeded", outcomes[-1].error
    assert receiver.count(SLACK) == 1, "the same week's reminder reached Slack twice"
    assert outcomes[-1].details["already_queued"] == ["slack", "discord"]
    ids = [p["headers"]["X-SGE-Delivery"] for p in receiver.posts if p["path"] == DISCORD]
    assert len(ids) == 2 and len(set(ids)) == 1  # at-least-once for the in-flight POST
    assert [r["status"] for r in recon.incidents.deliveries()] == ["sent", "sent"]
