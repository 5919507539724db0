"""A check that flaps (fail, pass, fail … every minute) is one incident and one page, not a
resolution and a new PagerDuty incident per flap: an incident resolves only once its fault has
stayed away ALERT_RESOLVE_AFTER_MINUTES (hysteresis), dated from when it cleared. Real receiver,
real monitor job, ManualClock."""

from __future__ import annotations

from datetime import timedelta

from .test_alerts import (SLACK, alerting_recon, monitor_only, receiver,  # noqa: F401
                          start_clock)

PD = "/v2/enqueue"
KEY = "R0uting-key-0123456789"


def _backlog(db, waiting: bool) -> None:
    db.execute("UPDATE public.jobs SET status = %s WHERE id IN "
               "(SELECT id FROM public.jobs ORDER BY id LIMIT 100)",
               ("waiting" if waiting else "completed",))


def test_a_check_flapping_every_minute_pages_once_then_resolves_once(db_url, db, receiver):
    recon = alerting_recon(db_url, receiver, PAGERDUTY_ROUTING_KEY=KEY,
                           PAGERDUTY_EVENTS_URL=receiver.base + PD,
                           ALERT_RESOLVE_AFTER_MINUTES=5)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    db.execute("INSERT INTO public.jobs (queue, status) "
               "SELECT 'settlement', 'waiting' FROM generate_series(1, 501)")
    opened_at = clock.now()
    for minute in range(60):  # 501 waiting (fail), 401 (pass), 501, 401 … for an hour
        _backlog(db, waiting=minute % 2 == 0)
        assert sched.tick()[0].status == "succeeded"
        clock.advance(minutes=1)

    [incident] = recon.incidents.incidents()
    assert incident["status"] == "open"
    assert len(receiver.delivered(SLACK)) == 1
    assert [(e["event_action"], e["dedup_key"]) for e in receiver.delivered(PD)] == [
        ("trigger", str(incident["id"]))]

    # fixed for good (the last tick, minute 59, saw it pass): resolved once it has stayed away
    # 5 minutes, dated from when it cleared
    cleared_at = opened_at + timedelta(minutes=59)
    for _ in range(3):
        sched.tick()
        clock.advance(minutes=1)
    assert recon.incidents.incidents()[0]["status"] == "open"
    for _ in range(3):
        sched.tick()
        clock.advance(minutes=1)
    [incident] = recon.incidents.incidents()
    assert (incident["status"], incident["resolved_at"]) == ("resolved", cleared_at)
    slack = receiver.delivered(SLACK)
    assert len(slack) == 2 and slack[1]["text"].startswith(
        f"Resolved: [unnamed] P2 incident #{incident['id']} after 59 min")
    assert [(e["event_action"], e["dedup_key"]) for e in receiver.delivered(PD)] == [
        ("trigger", str(incident["id"])), ("resolve", str(incident["id"]))]


def test_a_fault_back_within_the_hold_keeps_its_incident_and_pages_nothing(db_url, db,
                                                                           receiver):
    recon = alerting_recon(db_url, receiver, ALERT_RESOLVE_AFTER_MINUTES=5)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    db.execute("INSERT INTO public.jobs (queue, status) "
               "SELECT 'settlement', 'waiting' FROM generate_series(1, 501)")
    sched.tick()
    _backlog(db, waiting=False)
    for _ in range(4):  # clear for 4 minutes: still open, no message
        clock.advance(minutes=1)
        sched.tick()
    [incident] = recon.incidents.incidents()
    assert incident["status"] == "open" and "clear_since" in incident["details"]
    _backlog(db, waiting=True)  # back: the same incident, the clearing forgotten
    clock.advance(minutes=1)
    sched.tick()
    [incident] = recon.incidents.incidents()
    assert incident["status"] == "open" and "clear_since" not in incident["details"]
    assert len(receiver.delivered(SLACK)) == 1
