"""The console dates what it writes by the database server's clock, the one the scheduler's jobs
read (scheduling.clock.DatabaseClock), not by its host's.

A silence made on the Incidents page starts at the console's "now" and ends some hours later;
the per-minute monitor judges it by the scheduler's (database) clock. With the console's host a
few hours behind the server, a one-hour silence for a maintenance window lay wholly in the past
(the P0 page went out during the maintenance), and the longest silence the page offers (168 h)
was refused as "more than 7 days from now"; with the host ahead, the silence muted nothing now
and muted hours later instead. The embedded server's clock is the host's, so the test moves the
host's clock as the modules under test see it (their ``datetime``) and keeps the real server.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import sge_recon.console as console_module
from sge_recon.console import silence_actions
from sge_recon.scheduling import DatabaseClock
from sge_recon.scheduling import clock as clock_module

from .test_alerts import SLACK, alerting_recon, monitor_only, receiver  # noqa: F401
from .test_console_actions import acting_as
from .test_silences import plant


def _host_clock_off_by(monkeypatch, offset: timedelta) -> None:
    class ShiftedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + offset

    for module in (console_module, silence_actions, clock_module):
        monkeypatch.setattr(module, "datetime", ShiftedDatetime)


@pytest.mark.parametrize("offset", [timedelta(hours=-3), timedelta(hours=3)],
                         ids=["host_behind", "host_ahead"])
def test_a_silence_made_in_the_console_mutes_the_page_now_whatever_the_hosts_clock(
        db_url, factory, receiver, monkeypatch, offset):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    _host_clock_off_by(monkeypatch, offset)
    # as the Incidents page does: from the console's now, for one hour
    start = recon.console.now()
    done = recon.console.actions.add_silence(
        "ada", kind="ledger_imbalance", program_id="prog_quiet", reason="ledger migration",
        owner="platform on-call", starts_at=start, ends_at=start + timedelta(hours=1))
    assert done.ok, done.message
    plant(factory, "prog_quiet")

    # the scheduler keeps the database's time (its host clock is off the same way)
    monitor_only(recon, DatabaseClock(recon.db)).tick()  # type: ignore[arg-type]

    [incident] = recon.incidents.incidents()
    assert incident["details"].get("silenced", {}).get("owner") == "platform on-call"
    assert receiver.delivered(SLACK) == []  # muted: nobody paged during the maintenance
    [shown] = recon.console.silences()
    assert shown["active"] is True


def test_the_longest_silence_the_page_offers_is_not_refused_on_a_host_behind_the_server(
        db_url, receiver, monkeypatch):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    _host_clock_off_by(monkeypatch, timedelta(hours=-3))
    start = recon.console.now()
    done = recon.console.actions.add_silence(
        "ada", kind=None, program_id=None, reason="platform upgrade week", owner="ops lead",
        starts_at=start, ends_at=start + timedelta(hours=168))
    assert done.ok, done.message
