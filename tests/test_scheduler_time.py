"""The scheduler's time semantics: what drives the ticks, clock jumps, boundary instants."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

from sge_recon.context import Recon
from sge_recon.scheduling import Cadence, JobSpec, ManualClock, Scheduler

from .conftest import settings_for
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
