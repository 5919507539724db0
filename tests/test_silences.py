"""Silences (issue 19): mandatory reason, owner and expiry; a matching incident is recorded and
counted but not messaged; when the silence expires with the fault still there, the opening
message goes out then; a fault that ends inside the silence never pages. Real HTTP receiver,
real monitor job, ManualClock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sge_recon.errors import UsageError

from .test_console_actions import acting_as
from .test_alerts import (DISCORD, SLACK, alerting_recon, monitor_only, receiver,  # noqa: F401
                          start_clock)


def plant(factory, pid):
    factory.program(id=pid)
    factory.journal(pid, [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.75")])

    def fix():
        factory.journal(pid, [("user:u1", "credit", "0.25")])
    return fix


def test_a_silence_needs_reason_owner_and_expiry(db_url, receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    now = start_clock().now()
    actions = recon.console.actions
    base = {"kind": "ledger_imbalance", "program_id": None, "starts_at": now,
            "ends_at": now + timedelta(hours=1)}
    with pytest.raises(UsageError, match="reason"):
        actions.add_silence("ada", **{**base, "reason": " ", "owner": "ops"})
    with pytest.raises(UsageError, match="owner"):
        actions.add_silence("ada", **{**base, "reason": "maintenance", "owner": ""})
    with pytest.raises(UsageError, match="expiry"):
        actions.add_silence("ada", **{**base, "reason": "maintenance", "owner": "ops",
                                      "ends_at": now})
    with pytest.raises(UsageError, match="unknown incident kind"):
        actions.add_silence("ada", **{**base, "kind": "nope", "reason": "m", "owner": "ops"})


def test_silence_suppresses_then_expires_and_pages_once(db_url, db, factory,
                                                         receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    done = recon.console.actions.add_silence(
        "ada", kind="ledger_imbalance", program_id="prog_quiet",
        reason="platform maintenance: ledger migration", owner="Grace (platform on-call)",
        starts_at=clock.now(), ends_at=clock.now() + timedelta(minutes=60))
    assert done.ok, done.message
    fix_quiet = plant(factory, "prog_quiet")

    sched.tick()
    [incident] = recon.incidents.incidents()
    assert incident["status"] == "open"  # recorded and counted
    assert incident["details"]["silenced"]["owner"] == "Grace (platform on-call)"
    assert receiver.delivered(SLACK) == [] and receiver.delivered(DISCORD) == []

    clock.advance(minutes=30)
    sched.tick()
    assert receiver.delivered(SLACK) == []

    clock.advance(minutes=31)  # expired, the fault is still there: it pages now, once
    sched.tick()
    clock.advance(minutes=1)
    sched.tick()
    slack, discord = receiver.delivered(SLACK), receiver.delivered(DISCORD)
    assert len(slack) == len(discord) == 1
    assert slack[0]["text"].startswith(f"[unnamed] P0 incident #{incident['id']}")
    assert "silenced" not in recon.incidents.incidents()[0]["details"]

    fix_quiet()
    clock.advance(minutes=1)
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 2  # the resolution is announced
    actions = db.fetch_all("SELECT operator, action, result FROM recon.action_log")
    assert [(a["operator"], a["action"], a["result"]) for a in actions] == \
        [("ada", "add_silence", "ok")]
    journaled = db.fetch_one("SELECT count(*) AS n FROM recon.journal WHERE source = 'silences'")
    assert journaled["n"] == 1


def test_a_fault_that_ends_inside_the_silence_never_pages_and_others_still_do(
        db_url, db, factory, receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    recon.console.actions.add_silence(
        "ada", kind=None, program_id="prog_quiet", reason="maintenance", owner="ops",
        starts_at=clock.now(), ends_at=clock.now() + timedelta(hours=2))
    fix = plant(factory, "prog_quiet")
    sched.tick()
    fix()
    clock.advance(minutes=1)
    sched.tick()
    [incident] = recon.incidents.incidents()
    assert incident["status"] == "resolved"
    assert receiver.delivered(SLACK) == []

    plant(factory, "prog_loud")  # another program: not silenced
    clock.advance(minutes=1)
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 1

    ended = recon.console.actions.end_silence("ada", 1, clock.now())
    assert ended.ok and not recon.console.actions.end_silence("ada", 1, clock.now()).ok


def test_incidents_page_lists_and_creates_silences(db_url, db, monkeypatch, tmp_path):
    from .console_support import app, console_env, open_page, texts
    from .test_console_actions import confirm

    console_env(monkeypatch, db_url, "http://127.0.0.1:9", tmp_path)
    at = open_page(app(operator="ada"), "incidents")
    assert "No silence." in texts(at)
    at.selectbox(key="silence_kind").select("worker_down")
    at.text_input(key="silence_reason").input("Sundays 02:00-03:00 platform maintenance")
    at.text_input(key="silence_owner").input("platform on-call")
    at.number_input(key="silence_hours").set_value(1.0)
    next(b for b in at.button if b.label == "Silence…").click().run()
    confirm(at)
    [row] = db.fetch_all("SELECT kind, reason, owner, created_by FROM recon.silences")
    assert row == {"kind": "worker_down", "reason": "Sundays 02:00-03:00 platform maintenance",
                   "owner": "platform on-call", "created_by": "ada"}
    assert "Silence #1 until" in texts(at)

    at.checkbox(key="silence_weekly").check()
    at.text_input(key="silence_reason").input("platform maintenance window")
    next(b for b in at.button if b.label == "Silence…").click().run()
    confirm(at)
    weekly = db.fetch_one("SELECT weekly_day, weekly_start::text AS start, weekly_minutes, "
                          "ends_at - starts_at AS span FROM recon.silences WHERE id = 2")
    assert (weekly["weekly_day"], weekly["start"], weekly["weekly_minutes"]) == \
        (7, "02:00:00", 60)
    assert weekly["span"] == timedelta(weeks=4)


def test_weekly_window_silences_only_inside_it_and_expiry_is_reminded(db_url, db, factory,
                                                                      receiver):  # noqa: F811
    from datetime import datetime, time, timezone

    from sge_recon.alerts.silences import in_window
    from sge_recon.scheduling import ManualClock

    sunday_0230 = datetime(2026, 11, 22, 2, 30, tzinfo=timezone.utc)  # a Sunday
    window = {"weekly_day": 7, "weekly_start": time(2, 0), "weekly_minutes": 60}
    assert in_window(window, sunday_0230)
    assert not in_window(window, sunday_0230.replace(hour=3, minute=0))
    assert not in_window(window, sunday_0230 + timedelta(days=1))
    late = {"weekly_day": 7, "weekly_start": time(23, 30), "weekly_minutes": 60}
    assert in_window(late, sunday_0230.replace(hour=0, minute=15) + timedelta(days=1))  # Mon

    recon = alerting_recon(db_url, receiver)

    acting_as(db_url, ada="operator")
    clock = ManualClock(datetime.now(timezone.utc).replace(second=5, microsecond=0))
    sched = monitor_only(recon, clock)
    now = clock.now()
    # a weekly window that is NOT in force now (it opens tomorrow): incidents still page
    tomorrow = now + timedelta(days=1)
    done = recon.console.actions.add_silence(
        "ada", kind=None, program_id=None, reason="platform maintenance", owner="platform",
        starts_at=now, ends_at=now + timedelta(minutes=50),
        weekly=(tomorrow.isoweekday(), time(tomorrow.hour, 0), 60))
    assert done.ok
    plant(factory, "prog_loud")
    sched.tick()
    texts = [m["text"] for m in receiver.delivered(SLACK)]
    assert len(texts) == 1 and "P0 incident" in texts[0]  # outside its window: it pages
    clock.advance(minutes=40)  # 10 min left of 50: the last quarter, reminded once
    sched.tick()
    texts = [m["text"] for m in receiver.delivered(SLACK)]
    assert texts[-1].startswith("[unnamed] Silence #1 expires at")
    assert "platform maintenance" in str(receiver.delivered(SLACK)[-1])
    clock.advance(minutes=1)
    sched.tick()
    assert sum("Silence #1 expires" in m["text"] for m in receiver.delivered(SLACK)) == 1


def test_one_operator_cannot_mute_the_p0_page_for_a_year(db_url, db, factory,
                                                         receiver):  # noqa: F811
    """The 7-day cap is measured from now, and weekly windows that mute the same alerts add up
    to at most 24 h a week: seven 24-hour windows (one per weekday, 52 weeks) or silences queued
    one after another would otherwise mute every alert, the P0 ledger page included, for a
    year. Each refusal is recorded."""
    from datetime import time

    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    actions, now = recon.console.actions, clock.now()
    tomorrow = now + timedelta(days=1)
    windows = [actions.add_silence("ada", kind=None, program_id=None, reason="maintenance",
                                   owner="ops", starts_at=now, ends_at=now + timedelta(weeks=52),
                                   weekly=(day, time(0, 0), 1440))
               for day in [now.isoweekday()] + [d for d in range(1, 8) if d != now.isoweekday()]]
    assert windows[0].ok and not any(w.ok for w in windows[1:]), windows
    assert "at most 24 hours a week" in windows[1].message
    assert not actions.add_silence("ada", kind="ledger_imbalance", program_id="prog_a",
                                   reason="m", owner="ops", starts_at=now, ends_at=now +
                                   timedelta(weeks=52),
                                   weekly=(tomorrow.isoweekday(), time(0, 0), 60)).ok
    queued = actions.add_silence("ada", kind="ledger_imbalance", program_id=None, reason="m",
                                 owner="ops", starts_at=now + timedelta(days=7),
                                 ends_at=now + timedelta(days=14), now=now)
    assert not queued.ok and "at most 7 days from now" in queued.message
    assert [(a["action"], a["result"]) for a in db.fetch_all(
        "SELECT action, result FROM recon.action_log ORDER BY id")] == \
        [("add_silence", "ok")] + [("add_silence", "failed")] * 8

    plant(factory, "prog_a")  # a P0 imbalance tomorrow, outside the one window allowed
    clock.advance(days=1)
    clock.advance(hours=1)
    sched.tick()
    assert any("P0 incident" in m["text"] for m in receiver.delivered(SLACK))


def _prog_a_paged_and_accepted(db_url, factory, receiver):
    """prog_a's P0 imbalance paged once, then accepted by ada (an operator) as a known fault."""
    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant(factory, "prog_a")
    sched.tick()
    [incident] = recon.incidents.incidents()
    assert recon.console.actions.accept_incident("ada", incident["id"], "known, fix pending",
                                                 clock.now()).ok
    return recon, clock, sched, incident


def test_an_accepted_or_acknowledged_incident_that_gets_worse_pages_again(db_url, db, factory,
                                                                         receiver):  # noqa: F811
    """Accepting prog_a's known 0.25 USD is no decision about prog_b: its 999,999 USD joined
    the grouped P0 incident and never paged. Now the incident is reopened and paged with what
    is new; the reminders resume. A fault that does not get worse stays quiet."""
    recon, clock, sched, incident = _prog_a_paged_and_accepted(db_url, factory, receiver)
    clock.advance(minutes=1)
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 1  # accepted: quiet while nothing changes
    factory.program(id="prog_b")
    factory.journal("prog_b", [("treasury", "debit", "1000000.00"), ("user:u2", "credit", "1.00")])
    clock.advance(minutes=1)
    sched.tick()
    slack = [m["text"] for m in receiver.delivered(SLACK)]
    assert len(slack) == 2 and slack[1].startswith(
        f"Reopened, worse since acknowledged/accepted: [unnamed] P0 incident #{incident['id']}")
    assert "prog_b" in str(receiver.delivered(SLACK)[1])
    [now] = recon.incidents.incidents()
    assert now["status"] == "open" and "reopened by the alerting" in now["notes"]
    clock.advance(minutes=1)
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 2  # paged once, not every minute

    assert recon.console.actions.acknowledge_incident("ada", incident["id"]).ok
    factory.journal("prog_b", [("treasury", "debit", "5.00")])  # more money, same program
    clock.advance(minutes=1)
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 3
    assert recon.incidents.incidents()[0]["status"] == "open"


def test_an_accepted_incident_pages_again_when_an_amount_that_is_not_a_number_joins_it(
        db_url, db, factory, receiver):  # noqa: F811
    """A NaN is counted apart from the finite money at stake (details.money_apart), so the
    finite sum alone did not grow: one more amount counted apart is worse too, and ordering a
    NaN (Decimal refuses to) is never tried."""
    recon, clock, sched, incident = _prog_a_paged_and_accepted(db_url, factory, receiver)
    factory.journal("prog_a", [("treasury", "debit", "NaN"), ("user:u3", "credit", "1.00")])
    clock.advance(minutes=1)
    sched.tick()
    slack = [m["text"] for m in receiver.delivered(SLACK)]
    assert len(slack) == 2 and slack[1].startswith("Reopened, worse since acknowledged/accepted")
    assert "not a number" in str(receiver.delivered(SLACK)[1])
    assert recon.incidents.incidents()[0]["status"] == "open"
    clock.advance(minutes=1)
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 2  # paged once
