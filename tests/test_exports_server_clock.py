"""Whether a month is over is judged by the database server's clock, not the host's.

The scheduler's monthly job is timed by the database's clock (scheduling.clock.DatabaseClock) and
the manifest's ``complete_month`` by the snapshot's ``now()``; the export's "not over yet" refusal
must read the same clock. With the host's clock behind the server's, the job on the 1st was
refused on every attempt; with it ahead, an export of a month still running on the platform was
let through without --force. The embedded server's clock is the host's, so the test moves the
host's clock as the exporter sees it (its module's ``datetime``) and keeps the real server.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sge_recon.errors import ExportError
from sge_recon.exports import exporter as exporter_module
from sge_recon.exports.period import Period
from .host_clock import host_clock_off_by


def _host_clock_off_by(monkeypatch, offset: timedelta) -> None:
    host_clock_off_by(monkeypatch, exporter_module, offset)


def test_a_host_clock_behind_the_server_does_not_refuse_a_month_that_is_over(
        recon, factory, tmp_path, monkeypatch):
    last_month = Period.of(datetime.now(timezone.utc)).previous()
    program = factory.program(currency="USD")["id"]
    factory.journal(program, [("treasury", "debit", "10.50"), ("reserve", "credit", "10.50")],
                    created_at=last_month.start + timedelta(days=2))
    # the host still thinks it is inside last month: by its clock the month is not over
    _host_clock_off_by(monkeypatch, (last_month.start + timedelta(days=3))
                       - datetime.now(timezone.utc))
    assert exporter_module.datetime.now(timezone.utc) < last_month.end

    result = recon.exports.export(last_month.label, out_dir=tmp_path)

    assert result.manifest["complete_month"] is True
    assert (tmp_path / last_month.label / "manifest.json").exists()
    ledger = next(f for f in result.manifest["files"] if f["name"].startswith("ledger_entries"))
    assert ledger["rows"] == 2


def test_a_host_clock_ahead_of_the_server_does_not_let_a_running_month_through(
        recon, tmp_path, monkeypatch):
    this_month = Period.of(datetime.now(timezone.utc))
    # the host thinks this month ended a day ago; on the server it is still running
    _host_clock_off_by(monkeypatch, (this_month.end + timedelta(days=1))
                       - datetime.now(timezone.utc))

    with pytest.raises(ExportError, match=f"period {this_month.label} is not over yet"):
        recon.exports.export(this_month.label, out_dir=tmp_path)
    assert not (tmp_path / this_month.label).exists()
    assert list(tmp_path.iterdir()) == []  # refused before anything was written
