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
            assert outcome.details["incidents"]["open"] == 1
        assert len(receiver.delivered(SLACK)) == 1
        for minutes in (241, 242, 300, 481):  # one reminder per interval, none in between
            clock.set(opened + timedelta(minutes=minutes))
            sched.tick()
        [incident] = recon.incidents.incidents()
        assert incident["status"] == "open" and "clear_since" not in incident["details"]
        slack = [m["text"] for m in receiver.delivered(SLACK)]
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
    [incident] = recon.incidents.incidents()
    assert incident["status"] == "resolved"
    assert receiver.delivered(SLACK)[-1]["text"].startswith("Resolved:")
