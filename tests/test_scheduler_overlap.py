"""Two things at once: the long nightly reconciliation while the per-minute monitor goes on;
the monthly catch-up export while an operator exports the same month by hand.

The nightly run's full catalogue can take many minutes; meanwhile the monitor opens and refreshes
incidents. What the nightly run then writes must be dated when it writes it, never when its slot
started (an incident seen at 02:05 must not read "last seen 02:00")."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest

from sge_recon.context import Recon
from sge_recon.exports import ExportService
from sge_recon.scheduling import ManualClock, Scheduler, default_jobs

from .conftest import settings_for

UTC = timezone.utc


class _LongFullRun:
    """The real check service, whose full run lasts ``minutes`` of the scheduler's clock; the
    per-minute monitor runs ``monitor_after`` minutes into it (a real run, same database)."""

    def __init__(self, real, clock: ManualClock, start: datetime, monitor: Scheduler,
                 monitor_after: int, minutes: int):
        self.real, self.clock, self.start = real, clock, start
        self.monitor, self.monitor_after, self.minutes = monitor, monitor_after, minutes
        self.monitor_outcomes: list = []

    def run(self, **kw):
        result = self.real.run(**kw)
        self.clock.set(self.start + timedelta(minutes=self.monitor_after))
        self.monitor_outcomes = self.monitor.tick()
        self.clock.set(self.start + timedelta(minutes=self.minutes))
        return result

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_the_nightly_run_dates_its_incident_updates_at_its_end_not_its_start(db_url, factory):
    recon = Recon(settings_for(db_url, DAILY_CHECK_ENGINE="sql"))
    p = factory.program()
    factory.journal(p["id"], [("treasury", "debit", "50.00"), ("user:x", "credit", "49.00")])
    start = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    clock = ManualClock(start)
    jobs = {s.name: s for s in default_jobs()}
    monitor = Scheduler(recon.job_services, [jobs["monitor"]], clock)
    long_run = _LongFullRun(recon.job_services.checks, clock, start, monitor, monitor_after=5,
                            minutes=20)
    services = dataclasses.replace(recon.job_services, checks=long_run)

    [nightly] = Scheduler(services, [jobs["daily_reconciliation"]], clock).tick()

    assert [o.status for o in long_run.monitor_outcomes] == ["succeeded"]
    assert nightly.status == "succeeded", nightly.error
    incident = recon.db.fetch_one("SELECT opened_at, last_seen_at FROM recon.incidents "
                                  "WHERE kind = 'ledger_imbalance'")
    # opened by the monitor at 02:05; the nightly run saw it again when it ended, at 02:20
    assert incident["opened_at"] == start + timedelta(minutes=5)
    assert incident["last_seen_at"] == start + timedelta(minutes=20), \
        "the nightly run moved last_seen_at back to its slot's start, before the incident opened"


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("other_publishes", [True, False])
def test_the_catch_up_export_waits_for_an_operator_exporting_the_same_month(
        db_url, factory, tmp_path, other_publishes):
    """An operator runs `sge-recon export --period 2026-09` by hand while the scheduler's
    catch-up reaches 2026-09: the job waits for that export (a process holding the period's
    lock), then exports the month only if it is still missing; it does not fail."""
    recon = Recon(settings_for(db_url))
    out = tmp_path / "exports"
    out.mkdir()
    recon.exports.out_dir = out
    p = factory.program()
    factory.journal(p["id"], [("treasury", "debit", "10.00"), ("user:9", "credit", "10.00")],
                    created_at=datetime(2026, 9, 15, tzinfo=UTC))
    monthly = [s for s in default_jobs() if s.name == "monthly_audit_export"]
    sched = Scheduler(recon.job_services, monthly, ManualClock(datetime(2026, 10, 1, 3, 5,
                                                                        tzinfo=UTC)))
    operator = subprocess.Popen([sys.executable, "-c", HOLD, str(out / ".2026-09.lock")],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert operator.stdout.readline().strip() == "held"
        outcomes: list = []
        job = threading.Thread(target=lambda: outcomes.extend(sched.tick()), daemon=True)
        job.start()
        job.join(timeout=8)  # the job reached the month and waits for the operator's export
        assert job.is_alive() and not outcomes, outcomes
        if other_publishes:  # the operator's export publishes its folder, then ends
            recon.exports.export("2026-09", out_dir=tmp_path / "operator")
            (tmp_path / "operator" / "2026-09").rename(out / "2026-09")
    finally:
        operator.kill()  # its lock is dropped with it (published, or killed mid-way)
        operator.wait()
    job.join(timeout=120)
    [outcome] = outcomes
    assert outcome.status == "succeeded", outcome.error
    if other_publishes:
        assert outcome.details["exported"] == []
        assert outcome.details["exported_elsewhere"] == ["2026-09"]
        assert not list(out.glob("2026-09.replaced-*"))  # the operator's export is kept as is
    else:
        assert outcome.details["exported"] == ["2026-09"]
    assert ExportService.verify(out / "2026-09").ok
