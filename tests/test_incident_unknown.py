"""An incident whose check errors (broken SQL, a timeout) is not resolved — an error is not a
pass — and it is not forgotten either: its reminders keep their cadence, saying that its state is
unknown now. Real database (the ledger table renamed away), real receiver, ManualClock."""

from __future__ import annotations

from datetime import timedelta

from .test_alerts import (SLACK, alerting_recon, monitor_only, plant_ledger_imbalance,  # noqa: F401
                          receiver, start_clock)


def test_a_p0_whose_check_errors_stays_open_and_keeps_its_reminders(db_url, db, factory,
                                                                    receiver):
    recon = alerting_recon(db_url, receiver, ALERT_RESOLVE_AFTER_MINUTES=5)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    fix = plant_ledger_imbalance(factory, db, clock)
    sched.tick()
    [incident] = recon.incidents.incidents()
    opened = incident["opened_at"]
    db.execute("ALTER TABLE public.ledger_entries RENAME TO ledger_entries_away")
    try:
        for minutes in (1, 2, 239):  # errors: no resolution, no message within the interval
            clock.set(opened + timedelta(minutes=minutes))
            [outcome] = sched.tick()
            # (at 239: the ledger check's own check_error incident too)
            assert outcome.details["incidents"]["open"] == (1 if minutes < 5 else 2)
        # (the check erroring for minutes also pages once on its own: check_error, below)
        ours = f"P0 incident #{incident['id']}"
        assert len([m for m in receiver.delivered(SLACK) if ours in m["text"]]) == 1
        for minutes in (241, 242, 300, 481):  # one reminder per interval, none in between
            clock.set(opened + timedelta(minutes=minutes))
            sched.tick()
        [incident] = [i for i in recon.incidents.incidents() if i["kind"] == "ledger_imbalance"]
        assert incident["status"] == "open" and "clear_since" not in incident["details"]
        slack = [m["text"] for m in receiver.delivered(SLACK) if ours in m["text"]]
        assert len(slack) == 3
        for text in slack[1:]:
            assert text.startswith(f"Reminder: [unnamed] P0 incident #{incident['id']}")
            assert "state unknown now: its check errored" in text
    finally:
        db.execute("ALTER TABLE public.ledger_entries_away RENAME TO ledger_entries")
    fix()  # the check runs again and passes: resolved once the hold is over
    for minutes in (482, 488):
        clock.set(opened + timedelta(minutes=minutes))
        sched.tick()
    assert {i["kind"]: i["status"] for i in recon.incidents.incidents()} == {
        "ledger_imbalance": "resolved", "check_error": "resolved"}
    assert receiver.delivered(SLACK)[-1]["text"].startswith("Resolved:")


def test_a_signal_check_that_keeps_erroring_with_no_incident_open_pages(db_url, db, receiver):
    """The P0 ledger check broken (its table renamed by a platform migration) while no incident
    is open: before, the rules found nothing, so the monitor sent nothing, minute after minute —
    a ledger imbalance could no longer page. Now, once it has errored for
    CHECK_ERROR_ALERT_MINUTES, one P1 incident pages naming the check and its error, and it
    resolves (one message) when the check runs again."""
    from sge_recon.alerts.rules import CHECK_ERROR_ALERT_MINUTES

    recon = alerting_recon(db_url, receiver, ALERT_RESOLVE_AFTER_MINUTES=0)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    start = clock.now()
    db.execute("ALTER TABLE public.ledger_entries RENAME TO ledger_entries_away")
    try:
        for minute in range(0, CHECK_ERROR_ALERT_MINUTES):  # a blip pages nobody
            clock.set(start + timedelta(minutes=minute))
            sched.tick()
        assert receiver.delivered(SLACK) == []
        for minute in range(CHECK_ERROR_ALERT_MINUTES, CHECK_ERROR_ALERT_MINUTES + 3):
            clock.set(start + timedelta(minutes=minute))
            sched.tick()
        slack = [m["text"] for m in receiver.delivered(SLACK)]
        assert len(slack) == 1, slack  # one page, not one per minute
        assert "ledger_balance" in slack[0] and "P1" in slack[0]
        [incident] = [i for i in recon.incidents.incidents() if i["status"] == "open"]
        assert incident["kind"] == "check_error"
    finally:
        db.execute("ALTER TABLE public.ledger_entries_away RENAME TO ledger_entries")
    clock.set(start + timedelta(minutes=CHECK_ERROR_ALERT_MINUTES + 4))
    sched.tick()
    assert [i["status"] for i in recon.incidents.incidents()] == ["resolved"]
    assert receiver.delivered(SLACK)[-1]["text"].startswith("Resolved:")
