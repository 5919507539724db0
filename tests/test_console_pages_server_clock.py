"""The console pages' "today" and "last month" are the console's clock (the database's), not the
host's.

The Webhooks page's time filter ran from seven days before the host's UTC day to the end of it,
and the Audit exports page offered the month before the host's month; the deliveries are dated
by the platform's database. With the console's host a few hours behind the server just after
midnight UTC, the filter ended at midnight: every delivery of the new day, the failures an ops
lead is looking for, was left out of the list and of the recovery range; on the 1st the export
page offered the month before last. The tests move the host's clock as the page scripts see it
(``datetime.datetime``) and keep the real server.
"""

from __future__ import annotations

import datetime as datetime_module
from datetime import datetime, timedelta, timezone

import pandas  # noqa: F401 - imported before the clock moves (its C code takes datetime.datetime)
import plotly.graph_objects  # noqa: F401 - the same

from sge_recon.exports.period import Period

from .console_support import app, console_env, open_page
from .host_clock import host_clock_off_by

UTC = timezone.utc


def _host_clock_off_by(monkeypatch, offset: timedelta) -> None:
    host_clock_off_by(monkeypatch, datetime_module, offset)


def test_the_webhooks_filter_ends_on_the_servers_day_on_a_host_still_in_yesterday(
        db_url, monkeypatch, tmp_path):
    console_env(monkeypatch, db_url, "http://127.0.0.1:9", tmp_path)
    at = app(operator="ada")
    now = datetime.now(UTC)
    # the host is still in yesterday (UTC): an hour before the server's midnight
    _host_clock_off_by(monkeypatch, -(now - now.replace(hour=0, minute=0, second=0,
                                                        microsecond=0) + timedelta(hours=1)))
    at = open_page(at, "webhooks")  # no delivery yet: nothing dated is cached (pickled)
    first, last = at.date_input(key="filter_days").value
    assert last == now.date() and first == now.date() - timedelta(days=7)


def test_the_export_page_offers_last_month_on_a_host_still_in_it(db_url, monkeypatch,
                                                                 tmp_path):
    console_env(monkeypatch, db_url, "http://127.0.0.1:9", tmp_path)
    at = app(operator="ada")
    now = datetime.now(UTC)
    this_month = Period.of(now)
    _host_clock_off_by(monkeypatch, -(now - this_month.start + timedelta(hours=1)))
    at = open_page(at, "exports")
    assert at.text_input(key="export_now_period").value == this_month.previous().label
