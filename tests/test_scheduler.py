"""The scheduler: UTC slots, exactly-once across schedulers, failures, catch-up, the real jobs."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sge_recon.context import Recon
from sge_recon.errors import UsageError
from sge_recon.scheduling import Cadence, JobSpec, ManualClock, Scheduler, default_jobs

from .conftest import settings_for
from .test_alerts import DISCORD, SLACK, alerting_recon, receiver  # noqa: F401 - fixture

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- when -----------------------------------------------------------------------------------------
def test_default_schedule_slots_over_a_week_and_a_month_boundary(recon):
    """Walk minute by minute from Sun 2026-11-29 00:00 to Tue 2026-12-01 12:00 UTC and record
    the first minute each (job, slot) becomes due: that is when a running scheduler starts it."""
    sched = Scheduler(recon.job_services, default_jobs(), ManualClock(utc(2026, 11, 29)))
    first_due: dict[tuple[str, datetime], datetime] = {}
    now = utc(2026, 11, 29)
    while now <= utc(2026, 12, 1, 12):
        for spec, slot in sched.due(now):
            first_due.setdefault((spec.name, slot), now)
        now += timedelta(minutes=1)
    by_job: dict[str, list[datetime]] = {}
    for (job, slot), started in first_due.items():
        if slot >= utc(2026, 11, 29):
            assert started == slot, f"{job} slot {slot} started late at {started}"
        by_job.setdefault(job, []).append(slot)
    assert sorted(s for s in by_job["daily_reconciliation"] if s >= utc(2026, 11, 29)) == [
        utc(2026, 11, 29, 2), utc(2026, 11, 30, 2), utc(2026, 12, 1, 2)]
    assert [s for s in by_job["weekly_payout_reminder"] if s >= utc(2026, 11, 29)] == [
        utc(2026, 11, 30, 9)]  # 2026-11-30 is a Monday
    assert utc(2026, 11, 30, 9).weekday() == 0
    assert [s for s in by_job["monthly_audit_export"] if s >= utc(2026, 11, 29)] == [
        utc(2026, 12, 1, 3)]
    minutes = sorted(s for s in by_job["monitor"] if s >= utc(2026, 11, 29))
    assert len(minutes) == 60 * 60 + 1 and all(
        b - a == timedelta(minutes=1) for a, b in zip(minutes, minutes[1:]))


@pytest.mark.parametrize("cadence,now,latest,next_", [
    (Cadence.daily("02:00"), utc(2026, 3, 1, 1, 59), utc(2026, 2, 28, 2), utc(2026, 3, 1, 2)),
    (Cadence.daily("02:00"), utc(2026, 3, 1, 2, 0), utc(2026, 3, 1, 2), utc(2026, 3, 2, 2)),
    (Cadence.weekly("monday", "09:00"), utc(2026, 11, 30, 8, 59), utc(2026, 11, 23, 9),
     utc(2026, 11, 30, 9)),
    (Cadence.weekly("monday", "09:00"), utc(2026, 12, 6, 23), utc(2026, 11, 30, 9),
     utc(2026, 12, 7, 9)),
    (Cadence.monthly(1, "03:00"), utc(2027, 1, 1, 2, 59), utc(2026, 12, 1, 3), utc(2027, 1, 1, 3)),
    (Cadence.monthly(1, "03:00"), utc(2026, 1, 15), utc(2026, 1, 1, 3), utc(2026, 2, 1, 3)),
    (Cadence.every_minute(), utc(2026, 1, 1, 0, 0, 59), utc(2026, 1, 1), utc(2026, 1, 1, 0, 1)),
])
def test_cadence_latest_and_next_slot(cadence, now, latest, next_):
    assert cadence.latest_slot(now) == latest
    assert cadence.next_slot(now) == next_


def test_naive_and_non_utc_times_are_read_as_utc():
    tz = timezone(timedelta(hours=5))
    assert Cadence.daily("02:00").latest_slot(datetime(2026, 1, 2, 7, 30, tzinfo=tz)) == \
        utc(2026, 1, 2, 2)
    assert Cadence.daily("02:00").latest_slot(datetime(2026, 1, 2, 1)) == utc(2026, 1, 1, 2)


@pytest.mark.parametrize("make", [lambda: Cadence.daily("25:00"), lambda: Cadence.daily("2pm"),
                                  lambda: Cadence.weekly("mondai", "09:00"),
                                  lambda: Cadence.monthly(31, "03:00")])
def test_bad_cadences_are_clear_errors(make):
    with pytest.raises(UsageError) as err:
        make()
    assert "use" in err.value.message or "must" in err.value.message


def test_a_missed_slot_runs_late_within_its_grace_only(recon):
    sched = Scheduler(recon.job_services, default_jobs(), ManualClock(utc(2026, 11, 24)))
    due = {s.name for s, _ in sched.due(utc(2026, 11, 24, 2, 40))}
    assert "daily_reconciliation" in due  # started 40 min late: tonight's run still happens
    assert "daily_reconciliation" not in {s.name for s, _ in sched.due(utc(2026, 11, 24, 23))}
    assert "weekly_payout_reminder" not in {s.name for s, _ in sched.due(utc(2026, 11, 24, 2))}


# -- exactly once ---------------------------------------------------------------------------------
class Recorder:
    """A job body that records each execution (and is slow enough for schedulers to overlap)."""

    def __init__(self, seconds: float = 0.3, fail_times: int = 0):
        self.calls: list[datetime] = []
        self.seconds = seconds
        self.fail_times = fail_times
        self.lock = threading.Lock()

    def __call__(self, ctx):
        with self.lock:
            self.calls.append(ctx.scheduled_for)
            failing = self.fail_times > 0
            self.fail_times -= 1
        time.sleep(self.seconds)
        if failing:
            raise RuntimeError("boom: the job crashed")
        return {"slot": ctx.scheduled_for.isoformat()}


def recorded_jobs(recorders: dict[str, Recorder]) -> list[JobSpec]:
    return [JobSpec(s.name, s.cadence, recorders[s.name], s.grace) for s in default_jobs()]


def test_two_schedulers_run_each_job_slot_once(db_url):
    recorders = {s.name: Recorder() for s in default_jobs()}
    clock = ManualClock(utc(2026, 12, 7, 9, 0, 10))  # a Monday 09:00: every job is due
    schedulers = [Scheduler(Recon(settings_for(db_url)).job_services, recorded_jobs(recorders),
                            clock, host=f"scheduler-{n}") for n in (1, 2)]
    for _ in range(2):  # both tick concurrently, twice, at the same instant
        outcomes: list = []
        threads = [threading.Thread(target=lambda s=s: outcomes.extend(s.tick()))
                   for s in schedulers]
        [t.start() for t in threads]
        [t.join() for t in threads]
    for name, recorder in recorders.items():
        assert len(recorder.calls) == 1, f"{name} ran {len(recorder.calls)} times"
    rows = schedulers[0].services.db.fetch_all(
        "SELECT job, scheduled_for, status, host FROM recon.job_runs ORDER BY job")
    assert [(r["job"], r["status"]) for r in rows] == [
        ("daily_reconciliation", "succeeded"), ("monitor", "succeeded"),
        ("monthly_audit_export", "succeeded"), ("weekly_payout_reminder", "succeeded")]
    assert {r["scheduled_for"] for r in rows if r["job"] == "weekly_payout_reminder"} == {
        utc(2026, 12, 7, 9)}


def test_a_crashing_job_is_recorded_failed_and_retried_at_its_next_slot(db_url):
    recorder = Recorder(seconds=0, fail_times=1)
    spec = JobSpec("hourly_probe", Cadence.every_minute(), recorder, timedelta(seconds=90))
    clock = ManualClock(utc(2026, 5, 1, 10, 0, 5))
    recon = Recon(settings_for(db_url))
    sched = Scheduler(recon.job_services, [spec], clock)
    [first] = sched.tick()
    assert first.status == "failed" and "RuntimeError: boom" in first.error
    assert sched.tick()[0].status == "skipped"  # the failed slot is not re-run in a loop
    clock.advance(minutes=1)
    [second] = sched.tick()
    assert second.status == "succeeded"
    rows = recon.db.fetch_all("SELECT scheduled_for, status, error, started_at, finished_at "
                              "FROM recon.job_runs ORDER BY scheduled_for")
    assert [(r["status"], bool(r["error"])) for r in rows] == [("failed", True),
                                                               ("succeeded", False)]
    assert all(r["finished_at"] >= r["started_at"] for r in rows)


def test_a_run_left_by_a_dead_scheduler_is_marked_failed(db_url):
    recon = Recon(settings_for(db_url))
    recon.db.execute("INSERT INTO recon.job_runs (job, scheduled_for, status, host) "
                     "VALUES ('probe', %s, 'running', 'dead-host:1')", (utc(2026, 5, 1, 9, 59),))
    spec = JobSpec("probe", Cadence.every_minute(), Recorder(0), timedelta(seconds=90))
    Scheduler(recon.job_services, [spec], ManualClock(utc(2026, 5, 1, 10, 0, 1))).tick()
    rows = recon.db.fetch_all("SELECT host, status, error FROM recon.job_runs ORDER BY id")
    assert rows[0]["status"] == "failed" and "stopped" in rows[0]["error"]
    assert rows[1]["status"] == "succeeded"


def test_a_slot_whose_scheduler_was_killed_is_run_again_within_its_grace(db_url):
    """A scheduler killed (SIGKILL) inside the nightly run leaves the slot 'running' and its
    lock released; the next scheduler runs that night's slot instead of skipping it."""
    recon = Recon(settings_for(db_url))
    nightly = utc(2026, 5, 1, 2, 0)
    recon.db.execute("INSERT INTO recon.job_runs (job, scheduled_for, started_at, status, host) "
                     "VALUES ('nightly', %s, %s, 'running', 'dead-host:1')",
                     (nightly, nightly + timedelta(seconds=3)))
    probe = Recorder(0)
    spec = JobSpec("nightly", Cadence.daily("02:00"), probe, timedelta(hours=20))
    sched = Scheduler(recon.job_services, [spec], ManualClock(utc(2026, 5, 1, 2, 10)))
    [outcome] = sched.tick()
    assert outcome.status == "succeeded" and probe.calls == [nightly]
    [row] = recon.db.fetch_all("SELECT status, host, details FROM recon.job_runs")
    assert row["status"] == "succeeded" and row["host"] != "dead-host:1"
    assert sched.tick()[0].status == "skipped"  # and now it has run: once


STOPPED_MID_RUN = """
import signal, sys, threading, time
from datetime import datetime, timedelta, timezone
from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.scheduling import Cadence, JobSpec, ManualClock, Scheduler

def nightly(ctx):
    print("started", flush=True)
    time.sleep(120)  # still running when the scheduler is told to stop
    return {}

spec = JobSpec("nightly", Cadence.daily("02:00"), nightly, timedelta(hours=20))
clock = ManualClock(datetime(2026, 5, 1, 2, 1, tzinfo=timezone.utc))
sched = Scheduler(Recon(Settings.load()).job_services, [spec], clock, host="a")
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
sched.run_forever(stop)
"""


def test_a_slot_interrupted_by_a_stop_is_run_again_by_the_next_scheduler(db_url, cli_env):
    """A deploy at 02:01 stops the scheduler (SIGTERM, as `sge-recon scheduler` handles it) in
    the nightly run: recorded interrupted; the restarted one runs that night's slot again,
    within its grace."""
    child = subprocess.Popen([sys.executable, "-c", STOPPED_MID_RUN], env=cli_env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "started", child.stderr.read()
        child.send_signal(signal.SIGTERM)
        child.wait(30)
    finally:
        child.kill()
    recon = Recon(settings_for(db_url))
    [left] = recon.db.fetch_all("SELECT status, error FROM recon.job_runs")
    assert left["status"] == "failed" and "stopped during this run" in left["error"]
    probe = Recorder(0)
    spec = JobSpec("nightly", Cadence.daily("02:00"), probe, timedelta(hours=20))
    second = Scheduler(recon.job_services, [spec], ManualClock(utc(2026, 5, 1, 2, 3)), host="b")
    [outcome] = second.tick()
    assert outcome.status == "succeeded" and probe.calls == [utc(2026, 5, 1, 2)]
    [row] = recon.db.fetch_all("SELECT status, host, details FROM recon.job_runs")
    assert (row["status"], row["host"]) == ("succeeded", "b")


def test_a_job_still_running_makes_its_next_slot_wait_not_overlap(db_url):
    slow = Recorder(seconds=1.5)
    spec = JobSpec("slow", Cadence.every_minute(), slow, timedelta(seconds=90))
    clock = ManualClock(utc(2026, 5, 1, 10, 0, 59))
    a = Scheduler(Recon(settings_for(db_url)).job_services, [spec], clock)
    b = Scheduler(Recon(settings_for(db_url)).job_services, [spec], clock)
    thread = threading.Thread(target=a.tick)
    thread.start()
    deadline = time.monotonic() + 10  # until the first run is inside the job (a busy CI is slow)
    while not slow.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    clock.advance(seconds=2)  # the next minute's slot, while the first run is still going
    assert b.tick()[0].status == "busy"
    thread.join()
    assert b.tick()[0].status == "succeeded"
    assert slow.calls == [utc(2026, 5, 1, 10, 0), utc(2026, 5, 1, 10, 1)]


def test_run_forever_ticks_in_real_time_and_stops(db_url):
    probe = Recorder(seconds=0)
    spec = JobSpec("probe", Cadence.every_minute(), probe, timedelta(seconds=90))
    sched = Scheduler(Recon(settings_for(db_url)).job_services, [spec])
    stop = threading.Event()
    thread = threading.Thread(target=sched.run_forever, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 10
    while not probe.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    # the start-up tick ran the current minute's slot (and a minute boundary may add the next)
    assert 1 <= len(probe.calls) <= 2 and len(set(probe.calls)) == len(probe.calls)


def test_stopping_never_waits_for_a_long_job_and_records_it_interrupted(db_url):
    long_job = Recorder(seconds=30)
    spec = JobSpec("long", Cadence.every_minute(), long_job, timedelta(seconds=90))
    sched = Scheduler(Recon(settings_for(db_url)).job_services, [spec])
    stop = threading.Event()
    thread = threading.Thread(target=sched.run_forever, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 10
    while not long_job.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert long_job.calls
    stop.set()
    started = time.monotonic()
    thread.join(timeout=20)
    assert not thread.is_alive() and time.monotonic() - started < 10
    [run] = sched.services.db.fetch_all("SELECT status, error FROM recon.job_runs")
    assert run["status"] == "failed" and "stopped during this run" in run["error"]


# -- the real jobs --------------------------------------------------------------------------------
def test_monthly_export_catches_up_missing_months(db_url, factory, tmp_path):
    # The exporter refuses months that have not started in real time, so the story is told in
    # the past: the ledger starts in June 2026; June was exported by hand; the scheduler was down
    # on July 1st, August 1st and September 1st, and comes back on October 1st.
    recon = Recon(settings_for(db_url))
    recon.exports.out_dir = tmp_path / "exports"
    p = factory.program()
    for month in (6, 7, 8, 9, 10):
        factory.journal(p["id"], [("treasury", "debit", "10.00"),
                                  (f"user:{month}", "credit", "10.00")],
                        created_at=utc(2026, month, 15))
    recon.exports.export("2026-06", trigger="cli")
    monthly = [s for s in default_jobs() if s.name == "monthly_audit_export"]
    clock = ManualClock(utc(2026, 10, 1, 3, 5))
    sched = Scheduler(recon.job_services, monthly, clock)

    [outcome] = sched.tick()
    assert outcome.status == "succeeded", outcome.error
    assert outcome.details["exported"] == ["2026-07", "2026-08", "2026-09"]
    for period in ("2026-06", "2026-07", "2026-08", "2026-09"):
        assert (tmp_path / "exports" / period / "manifest.json").is_file()
    assert recon.exports.verify(tmp_path / "exports" / "2026-08").ok
    assert sched.tick()[0].status == "skipped"  # the same slot never runs twice

    # A month that a successful run exported is not redone when its folder was moved away
    # (archived by the auditors); the next 1st exports only the month that just ended.
    (tmp_path / "exports" / "2026-08").rename(tmp_path / "archived-2026-08")
    clock.set(utc(2026, 11, 1, 3, 1))
    [outcome] = sched.tick()
    assert outcome.details["exported"] == ["2026-10"]
    runs = recon.db.fetch_all("SELECT scheduled_for, status FROM recon.job_runs ORDER BY 1")
    assert [(r["scheduled_for"], r["status"]) for r in runs] == [
        (utc(2026, 10, 1, 3), "succeeded"), (utc(2026, 11, 1, 3), "succeeded")]


def test_weekly_payout_reminder_posts_batches_age_and_total(db_url, factory, receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    p = factory.program(currency="USD")
    now = utc(2026, 11, 30, 9, 1)  # a Monday, just after 09:00 UTC
    factory.payout_batch(p["id"], id="batch_a", total_amount=Decimal("1200.50"),
                         affiliate_count=3, created_at=now - timedelta(hours=30))
    factory.payout_batch(p["id"], id="batch_b", status="approved",
                         total_amount=Decimal("99.50"), created_at=now - timedelta(hours=2))
    factory.payout_batch(p["id"], id="batch_done", status="executed",
                         total_amount=Decimal("5000"))
    weekly = [s for s in default_jobs() if s.name == "weekly_payout_reminder"]
    clock = ManualClock(now)
    [outcome] = Scheduler(recon.job_services, weekly, clock).tick()
    assert outcome.status == "succeeded", outcome.error
    [slack] = receiver.delivered(SLACK)
    [discord] = receiver.delivered(DISCORD)
    assert "2 payout batches waiting (1,300.00 USD)" in slack["text"]
    text = str(slack["blocks"])
    assert "batch_a" in text and "batch_b" in text and "batch_done" not in text
    assert "pending_approval, 3 affiliates, 1,200.50 USD, 30.0 h old" in text
    fields = {f["name"]: f["value"] for f in discord["embeds"][0]["fields"]}
    assert fields["Older than 24 h (SLA)"] == "1" and fields["Total"] == "1,300.00 USD"
    assert "• batch_a (" in discord["embeds"][0]["description"]
    assert recon.incidents.deliveries()[0]["event"] == "payout_reminder"


@pytest.mark.slow  # imports Great Expectations (~5 s)
def test_daily_reconciliation_runs_the_catalogue_through_gx_and_alerts(db_url, factory,
                                                                       receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    p = factory.program()
    factory.journal(p["id"], [("treasury", "debit", "50.00"), ("user:x", "credit", "49.00")])
    daily = [s for s in default_jobs() if s.name == "daily_reconciliation"]
    # an hour after today's 02:00 run was due (datetime.now() failed after 22:00 UTC, when the
    # 02:00 run is beyond its 20 h catch-up window)
    now = datetime.now(UTC).replace(hour=3, minute=0, second=0, microsecond=0)
    [outcome] = Scheduler(recon.job_services, daily, ManualClock(now)).tick()
    assert outcome.status == "succeeded", outcome.error
    assert outcome.details["engine"] == "gx"
    assert outcome.details["not_passing"]["ledger_balance"] == "fail"
    run = recon.db.fetch_one("SELECT engine, trigger, status FROM recon.check_runs")
    assert dict(run) == {"engine": "gx", "trigger": "scheduler", "status": "fail"}
    assert recon.db.fetch_one("SELECT count(*) AS n FROM recon.check_results")["n"] == \
        len(recon.checks.catalogue())
    assert len(receiver.delivered(SLACK)) == 1
    assert "P0 incident" in receiver.delivered(SLACK)[0]["text"]


# -- the command ----------------------------------------------------------------------------------
@pytest.mark.slow  # whatever is due now runs: between 02:00 and 22:00 UTC the nightly GX run too
def test_scheduler_once_runs_what_is_due_and_records_it(cli_env, db_url, tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "sge_recon", "scheduler", "--once"],
                            env=cli_env, capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)  # the monthly export may be due: keep it out of exports/
    assert result.returncode == 0, result.stderr
    assert "monitor " in result.stdout and ": succeeded" in result.stdout
    assert "cannot fire" not in result.stderr  # the contract's queue is its jobs table
    rows = Recon(settings_for(db_url)).db.fetch_all(
        "SELECT job, status FROM recon.job_runs WHERE job = 'monitor'")
    assert [r["status"] for r in rows] == ["succeeded"]


def test_scheduler_on_an_uninitialised_database_says_what_to_do(cli_env, new_database):
    import subprocess
    import sys

    env = {**cli_env, "DATABASE_URL": new_database(empty=True)}
    result = subprocess.run([sys.executable, "-m", "sge_recon", "scheduler", "--no-metrics"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.startswith("Error: ") and "sge-recon db init" in result.stderr
    assert "Traceback" not in result.stderr
