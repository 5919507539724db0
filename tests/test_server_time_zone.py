"""What sge-recon says in UTC is UTC whatever the database server's TimeZone setting.

The embedded PostgreSQL takes its TimeZone from the host it starts on (initdb reads TZ), and a
managed server may run in its region's zone; the session then hands timestamps back in that zone
and date_trunc/extract work on its wall clock. Texts and charts labelled UTC showed that zone's
wall time instead: a silence's expiry reminder and a paused queue's incident title said e.g.
"13:30 UTC" for 08:00 UTC, the Trends heatmap (axis "hour (UTC)") put each sample 5 h 30 off,
the hourly trends began their hours at :30 UTC. The tests set the database's TimeZone to
Asia/Kolkata (UTC+05:30), as a server started on a host in India has it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from urllib.parse import urlparse

import pytest

from sge_recon.scheduling import ManualClock

from .test_alerts import SLACK, alerting_recon, monitor_only, receiver  # noqa: F401
from .test_console_actions import acting_as

UTC = timezone.utc
ZONE = "Asia/Kolkata"


@pytest.fixture
def zoned_url(db_url, db) -> str:
    """This test's database, with sessions in ZONE by default (as its server's TimeZone)."""
    name = urlparse(db_url).path.lstrip("/")
    db.execute(f"ALTER DATABASE {name} SET TimeZone = '{ZONE}'")
    return db_url


def _utc_clock() -> ManualClock:
    # 08:10 UTC today (13:40 in Kolkata): the hours differ, and so would a :30 boundary
    return ManualClock(datetime.now(UTC).replace(hour=8, minute=10, second=5, microsecond=0))


def test_the_silence_expiry_reminder_names_the_utc_time(zoned_url, receiver):  # noqa: F811
    recon = alerting_recon(zoned_url, receiver)
    acting_as(zoned_url, ada="operator")
    clock = _utc_clock()
    ends = clock.now() + timedelta(minutes=50)
    assert recon.console.actions.add_silence(
        "ada", kind=None, program_id=None, reason="platform maintenance", owner="platform",
        starts_at=clock.now(), ends_at=ends,
        weekly=((clock.now() + timedelta(days=1)).isoweekday(), time(8, 0), 60)).ok
    clock.advance(minutes=40)  # the last quarter: reminded
    monitor_only(recon, clock).tick()
    [text] = [m["text"] for m in receiver.delivered(SLACK) if "expires at" in m["text"]]
    assert f"expires at {ends:%Y-%m-%d %H:%M} UTC" in text


def test_a_paused_queue_incident_says_since_when_in_utc(zoned_url, db, factory,
                                                          receiver):  # noqa: F811
    recon = alerting_recon(zoned_url, receiver)
    clock = _utc_clock()
    paused_at = clock.now() - timedelta(minutes=20)
    db.execute("INSERT INTO public.queue_control (queue, paused, changed_at, changed_by) "
               "VALUES ('settlement', true, %s, 'ada') ON CONFLICT (queue) DO UPDATE SET "
               "paused = true, changed_at = excluded.changed_at, changed_by = 'ada'",
               (paused_at,))
    monitor_only(recon, clock).tick()
    [incident] = [i for i in recon.incidents.incidents() if i["kind"] == "queue_paused"]
    assert f"since {paused_at:%Y-%m-%d %H:%M} UTC" in incident["title"]


def test_the_queue_heatmap_is_by_utc_weekday_and_hour(zoned_url, db, recon):
    from sge_recon.db import metric_samples

    at = datetime.now(UTC).replace(hour=22, minute=10, second=0, microsecond=0) \
        - timedelta(days=2)  # 03:40 the next day in Kolkata: another weekday and hour
    metric_samples.insert_metric_samples(db, at, [("sge_queue_depth_total", {}, 7)])
    cells, source = recon.console.queue_heatmap()
    assert source.startswith("the scheduler's")
    assert [(c["weekday"], c["hour"]) for c in cells] == [(at.isoweekday(), 22)]


def test_the_hourly_trends_start_on_the_utc_hour(zoned_url, factory, recon):
    program = factory.program(id="prog_a")
    user = factory.user(program["id"])
    done = datetime.now(UTC).replace(minute=10, second=0, microsecond=0) - timedelta(hours=2)
    factory.intent(program["id"], user["id"], status="completed",
                   created_at=done - timedelta(seconds=3), completed_at=done)
    factory.rpc_call(called_at=done)
    [row] = recon.console.processing_trend(days=1)
    assert row["hour"] == done.replace(minute=0)
    [rpc] = recon.console.rpc_health(days=1)
    assert rpc["hour"] == done.replace(minute=0)

