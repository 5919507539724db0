"""Grouping (issue 19): the findings of one check in one run page once, listing every
program/currency and its money; a set that changes while open updates the evidence, no new page.
Real local HTTP receiver, real scheduler (monitor job), ManualClock."""

from __future__ import annotations

import json
from decimal import Decimal

from .test_console_actions import acting_as
from .test_alerts import (DISCORD, SLACK, alerting_recon, monitor_only, receiver,  # noqa: F401
                          start_clock)

PLANTED = [("prog_a", "USD", "0.25"), ("prog_a", "EUR", "1.50"), ("prog_b", "USD", "2.00"),
           ("prog_c", "GBP", "10.000001")]


def test_four_imbalances_in_one_run_open_one_incident_and_one_message_per_channel(
        db_url, db, factory, receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    for pid in ("prog_a", "prog_b", "prog_c"):
        factory.program(id=pid)
    for pid, currency, gap in PLANTED:
        factory.journal(pid, [("treasury", "debit", "100.000001"),
                              ("user:u1", "credit", str(Decimal("100.000001") - Decimal(gap)))],
                        currency=currency)

    assert sched.tick()[0].status == "succeeded"
    [incident] = recon.incidents.incidents()
    assert (incident["kind"], incident["priority"], incident["key"]) == ("ledger_imbalance",
                                                                         "P0", "")
    details = incident["details"]
    assert details["items_total"] == 4
    assert sorted(i["key"] for i in details["items"]) == sorted(f"{p}/{c}" for p, c, _ in PLANTED)
    assert details["money"] == {"USD": "2.250000", "EUR": "1.500000", "GBP": "10.000001"}
    assert details["programs"] == ["prog_a", "prog_b", "prog_c"]
    assert details["evidence_at_open"]["money"] == details["money"]
    slack, discord = receiver.delivered(SLACK), receiver.delivered(DISCORD)
    assert len(slack) == len(discord) == 1
    text = json.dumps(slack[0])
    for key in ("prog_a/EUR", "prog_a/USD", "prog_b/USD", "prog_c/GBP"):
        assert key in text
    # exact: every stored decimal, never rounded to cents (tests/test_money_text_exact.py)
    assert "2.25 USD" in text and "1.50 EUR" in text and "10.000001 GBP" in text

    # the set changes while open (one more imbalance, then one fixed): evidence updated, no page
    clock.advance(minutes=1)
    factory.journal("prog_b", [("treasury", "debit", "5.00"), ("user:u2", "credit", "4.00")],
                    currency="EUR")
    sched.tick()
    clock.advance(minutes=1)
    factory.journal("prog_c", [("user:u1", "credit", "10.000001")], currency="GBP")
    sched.tick()
    [same] = recon.incidents.incidents()
    assert same["id"] == incident["id"] and same["status"] == "open"
    d = same["details"]
    assert sorted(d["keys"]) == ["prog_a/EUR", "prog_a/USD", "prog_b/EUR", "prog_b/USD"]
    assert d["money"] == {"USD": "2.250000", "EUR": "2.500000"}
    assert d["evidence_at_open"]["money"]["GBP"] == "10.000001"  # frozen at open
    assert [c["keys"] for c in d["evidence_changes"]][-1] == sorted(d["keys"])
    assert len(d["evidence_changes"]) == 2
    assert len(receiver.delivered(SLACK)) == len(receiver.delivered(DISCORD)) == 1


def test_one_imbalance_keeps_its_program_details(db_url, db, factory, receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    clock = start_clock()
    factory.program(id="prog_one")
    factory.journal("prog_one", [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.75")])
    monitor_only(recon, clock).tick()
    [incident] = recon.incidents.incidents()
    assert incident["details"]["program_id"] == "prog_one"
    assert incident["details"]["items_total"] == 1
    assert "Ledger of program prog_one (USD) is off by 0.25 USD" == incident["title"]


def test_incidents_page_shows_the_evidence_at_open_and_how_it_changed(db_url, db, factory,
                                                                      receiver, monkeypatch,
                                                                      tmp_path):  # noqa: F811
    from .console_support import app, console_env, open_page, texts

    recon = alerting_recon(db_url, receiver)

    acting_as(db_url, ada="operator")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    factory.program(id="prog_a")
    for pid, currency, gap in PLANTED[:2]:
        factory.journal(pid, [("treasury", "debit", "100.00"),
                              ("user:u1", "credit", str(Decimal("100.00") - Decimal(gap)))],
                        currency=currency)
    recon.checks.run(fast_only=True, trigger="test")
    sched.tick()
    clock.advance(minutes=1)
    factory.journal("prog_a", [("user:u1", "credit", "1.50")], currency="EUR")  # EUR corrected
    sched.tick()
    [incident] = recon.incidents.incidents()

    console_env(monkeypatch, db_url, "http://127.0.0.1:9", tmp_path)
    at = open_page(app(operator="ada"), "incidents")
    at.selectbox(key="incident_choice").select(str(incident["id"])).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "Evidence when it opened" in shown and "How the evidence changed" in shown
    then = next(line for line in shown.splitlines() if line.startswith("At stake then:"))
    now = next(line for line in shown.splitlines() if line.startswith("At stake now:"))
    assert "EUR" in then and "USD" in then   # frozen at open
    assert "EUR" not in now and "USD" in now  # the EUR ledger was corrected since


def test_accept_with_a_note_mutes_reminders_but_stays_open_reported_and_resolves(
        db_url, db, factory, receiver):  # noqa: F811
    import pytest

    from sge_recon.db import incidents as incident_rows
    from sge_recon.errors import UsageError

    recon = alerting_recon(db_url, receiver)

    acting_as(db_url, ada="operator")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    factory.program(id="prog_known")
    factory.journal("prog_known", [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.75")])
    sched.tick()
    [incident] = recon.incidents.incidents()
    actions = recon.console.actions
    with pytest.raises(UsageError, match="needs a note"):
        actions.accept_incident("ada", incident["id"], "  ", clock.now())
    done = actions.accept_incident("ada", incident["id"], "fee booking; correction awaiting "
                                   "finance sign-off", clock.now())
    assert done.ok, done.message
    again = actions.accept_incident("ada", incident["id"], "twice", clock.now())
    assert not again.ok

    clock.advance(hours=5)  # past the 4 h reminder interval: an accepted incident is not re-paged
    sched.tick()
    assert len(receiver.delivered(SLACK)) == len(receiver.delivered(DISCORD)) == 1
    [row] = recon.incidents.incidents()
    assert (row["status"], row["accepted_by"]) == ("accepted", "ada")
    assert row["accept_note"].startswith("fee booking")
    assert [(r["kind"], r["n"]) for r in incident_rows.open_incident_counts(recon.db)] == \
        [("ledger_imbalance", 1)]  # still reported
    assert "incidents" in {r["source"] for r in db.fetch_all(
        "SELECT source FROM recon.journal WHERE event LIKE '%%accepted%%'")}

    factory.journal("prog_known", [("user:u1", "credit", "0.25")])  # the correction lands
    clock.advance(minutes=1)
    sched.tick()
    [resolved] = recon.incidents.incidents()
    assert resolved["status"] == "resolved"
    slack = receiver.delivered(SLACK)
    assert len(slack) == 2 and slack[1]["text"].startswith("Resolved:")


def test_money_weighted_order_never_adds_currencies():
    from datetime import datetime, timezone

    from sge_recon.console import ConsoleService

    at = datetime(2026, 11, 1, tzinfo=timezone.utc)

    def inc(i, priority, money, status="open"):
        return {"id": i, "priority": priority, "status": status, "opened_at": at,
                "details": {"money": money}, "money_at_stake": None}
    rows = [inc(1, "P1", {"USD": "5000.00"}), inc(2, "P0", {"USD": "0.25"}),
            inc(3, "P0", {"EUR": "100.00", "USD": "90.00"}), inc(4, "P0", {"GBP": "99999"},
                                                               status="resolved"),
            inc(5, "P0", {"USD": "150.00"})]
    assert [r["id"] for r in ConsoleService.by_money_at_stake(rows)] == [5, 3, 2, 1, 4]


def _silence_quiet(recon, clock, hours=24):
    from datetime import timedelta

    acting_as(recon.settings.DATABASE_URL, ada="operator")
    done = recon.console.actions.add_silence(
        "ada", kind="ledger_imbalance", program_id="prog_quiet", reason="maintenance of prog_quiet",
        owner="ops", starts_at=clock.now(), ends_at=clock.now() + timedelta(hours=hours))
    assert done.ok, done.message


def _imbalance(factory, pid, gap):
    factory.program(id=pid)
    factory.journal(pid, [("treasury", "debit", "10000.00"),
                          ("user:u1", "credit", str(Decimal("10000.00") - Decimal(gap)))])


def test_a_program_silence_never_mutes_a_grouped_incident_of_other_programs(
        db_url, db, factory, receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    _silence_quiet(recon, clock)
    _imbalance(factory, "prog_quiet", "0.25")
    _imbalance(factory, "prog_loud", "5000.00")  # same minute: one grouped P0 incident

    monitor_only(recon, clock).tick()
    [incident] = recon.incidents.incidents()
    assert incident["details"]["programs"] == ["prog_loud", "prog_quiet"]
    assert "silenced" not in incident["details"]
    slack, discord = receiver.delivered(SLACK), receiver.delivered(DISCORD)
    assert len(slack) == len(discord) == 1 and "prog_loud" in json.dumps(slack[0])


def test_an_unsilenced_program_joining_a_silenced_incident_pages_at_once(
        db_url, db, factory, receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    _silence_quiet(recon, clock)
    _imbalance(factory, "prog_quiet", "0.25")
    sched.tick()
    [incident] = recon.incidents.incidents()
    assert incident["details"]["silenced"]["paged"] is False
    assert receiver.delivered(SLACK) == []  # only the silenced program: muted

    clock.advance(minutes=60)
    _imbalance(factory, "prog_loud", "5000.00")
    sched.tick()
    [same] = recon.incidents.incidents()
    assert same["id"] == incident["id"] and "silenced" not in same["details"]
    [slack] = receiver.delivered(SLACK)
    assert slack["text"].startswith(f"[unnamed] P0 incident #{incident['id']}")
    assert "prog_loud" in json.dumps(slack) and len(receiver.delivered(DISCORD)) == 1

    clock.advance(minutes=1)  # paged once; no message per minute after it
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 1


def test_silences_that_cover_every_program_of_the_incident_mute_it():
    from datetime import datetime, timedelta, timezone

    from sge_recon.alerts.silences import matching

    now = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)

    def s(i, program, kind="ledger_imbalance"):
        return {"id": i, "kind": kind, "program_id": program, "weekly_day": None,
                "ends_at": now + timedelta(hours=i)}
    grouped = {"programs": ["a", "b"]}
    assert matching([s(1, "a")], "ledger_imbalance", grouped, now) is None
    assert matching([s(2, "a"), s(1, "b")], "ledger_imbalance", grouped, now)["id"] == 1
    assert matching([s(1, None)], "ledger_imbalance", grouped, now)["id"] == 1
    assert matching([s(1, "a", kind="queue_depth")], "ledger_imbalance",
                    {"programs": ["a"]}, now) is None
    assert matching([s(1, "a")], "ledger_imbalance", {"program_id": "a"}, now)["id"] == 1
    assert matching([s(1, "a")], "worker_down", {}, now) is None  # no program: not this one
