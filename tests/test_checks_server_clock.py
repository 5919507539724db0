"""A stored check run is dated by the database server's clock, not the host's.

The run's ``started_at`` is read beside times the database writes: the results' ``created_at``
(the standing status of each check takes the newest run's result, looking back from its
``created_at`` one hour "for clock skew"), and the scheduler's and the alert rules' now (the
database's clock: scheduling.clock.DatabaseClock). The run was dated by the host's clock: with the
host more than an hour ahead of the server, no stored result stood any more (the Overview,
``/metrics`` and the alert rules lost every check's standing status); with workers that never
sent a heartbeat (or BullMQ's, which keep none), the outage is dated from the first stored
worker_status failure, so a host ahead kept it at 0 s (worker_down never paged) and a host behind
dated it hours back (it paged on the first minute instead of after WORKER_DOWN_ALERT_MINUTES).
The embedded server's clock is the host's, so the tests move the host's clock as the check
service sees it (its module's ``datetime``) and keep the real server; the scheduler's clock
stands for the database's.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from urllib.parse import urlparse

import pytest

from sge_recon.checks import service as service_module
from sge_recon.db import checks as check_store

from .test_alerts import SLACK, alerting_recon, monitor_only, receiver, start_clock  # noqa: F401
from .host_clock import host_clock_off_by


def _host_clock_off_by(monkeypatch, offset: timedelta) -> None:
    host_clock_off_by(monkeypatch, service_module, offset)


def test_a_run_stored_by_a_host_ahead_of_the_server_still_stands(recon, factory, monkeypatch):
    program = factory.program(id="prog_a")
    factory.journal(program["id"], [("treasury", "debit", "100.00"), ("user:1", "credit", "99.75")])
    _host_clock_off_by(monkeypatch, timedelta(hours=3))

    run = recon.checks.run(only=["ledger_balance"])

    standing = {r["name"]: r for r in check_store.latest_results(recon.db)}
    assert standing["ledger_balance"]["status"] == "fail"
    assert str(standing["ledger_balance"]["run_id"]) == run.run_id


@pytest.mark.parametrize("offset", [timedelta(hours=-3), timedelta(hours=3)],
                         ids=["host_behind", "host_ahead"])
def test_workers_that_never_sent_a_heartbeat_page_after_the_delay_whatever_the_hosts_clock(
        db_url, receiver, monkeypatch, offset):  # noqa: F811
    recon = alerting_recon(db_url, receiver, live_worker=False)
    _host_clock_off_by(monkeypatch, offset)
    clock = start_clock()  # the scheduler's: the database's time
    sched = monitor_only(recon, clock)
    sched.tick()
    assert recon.incidents.incidents() == []  # found just now: not yet 5 minutes
    clock.advance(minutes=3)
    sched.tick()
    assert recon.incidents.incidents() == []
    clock.advance(minutes=3)
    sched.tick()
    [incident] = recon.incidents.incidents()
    assert (incident["kind"], incident["priority"]) == ("worker_down", "P1")
    assert 5 * 60 < int(incident["details"]["down_seconds"]) <= 7 * 60
    assert len(receiver.delivered(SLACK)) == 1


def test_a_run_is_dated_in_utc_on_a_server_in_another_time_zone(db_url, db, recon):
    from sge_recon.checks.render import run_table

    # the database's clock comes back in the session's TimeZone; the run's header says UTC
    db.execute(f"ALTER DATABASE {urlparse(db_url).path.lstrip('/')} SET TimeZone = 'Asia/Kolkata'")
    run = recon.checks.run(only=["ledger_balance"], store=False)
    assert run.started_at.utcoffset() == timedelta(0)
    assert f"{run.started_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC" in run_table(run)
