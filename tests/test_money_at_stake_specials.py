"""One NaN (or infinite) amount never hides the rest of a currency's money at stake.

A check's per-currency totals (checks.yml ``totals:``) summed every failing row: one NaN amount
made the whole currency's sum NaN, and the alerts (Slack, Discord, PagerDuty), the Overview, the
Intents and incident pages said "an unknown amount of USD" where 250,000 USD of finite
imbalances were also at stake. The finite part stays visible; the NaN and infinite amounts are
counted apart. An incident stored before (details.money {"USD": "NaN"}) still reads as it did.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from sge_recon.alerts.service import incident_message
from sge_recon.db import Database

from .console_support import app, open_page, texts
from .factories import ago
from .http_receiver import Receiver
from .test_alerts import alerting_recon, monitor_only, start_clock
from .test_numeric_specials import console, unconstrained, weekly_reminder_text  # noqa: F401

FINITE = "250,000.00 USD"
NAN_APART = "250,000.00 USD plus 1 amount that is not a number (NaN)"


def _ledger_off_by_nan_and_250k(factory) -> None:
    factory.program(id="prog_big")
    factory.program(id="prog_nan")
    factory.journal("prog_big", [("treasury", "debit", "250001"), ("user:u1", "credit", "1")])
    factory.journal("prog_nan", [("treasury", "debit", "NaN"), ("user:u1", "credit", "5")])


def _stuck_nan_infinite_and_1000(factory) -> None:
    program = factory.program()
    user = factory.user(program["id"])
    for amount in ("1000.00", "NaN", "Infinity", "-Infinity"):
        factory.intent(program["id"], user["id"], amount=Decimal(amount), status="processing",
                       status_changed_at=ago(minutes=90))


def _alerts(db_url: str, plant) -> dict:
    receiver = Receiver(default_status=lambda path: 204 if path.startswith("/discord") else 200)
    try:
        recon = alerting_recon(db_url, receiver, PAGERDUTY_ROUTING_KEY="r" * 32,
                               PAGERDUTY_EVENTS_URL=receiver.base + "/pagerduty")
        plant()
        [run] = monitor_only(recon, start_clock()).tick()
        assert run.status == "succeeded", run.error
        return {p["path"]: p["json"] for p in receiver.posts}
    finally:
        receiver.close()


def test_a_nan_ledger_never_hides_the_finite_imbalance_in_the_alerts(db_url, factory):
    posts = _alerts(db_url, lambda: _ledger_off_by_nan_and_250k(factory))
    assert len(posts) == 3  # Slack, Discord, PagerDuty
    for body in posts.values():
        text = json.dumps(body)
        assert NAN_APART in text, text
        assert "an unknown amount of USD" not in text.split("is off by")[0], text
    pagerduty = posts["/pagerduty"]["payload"]
    assert pagerduty["custom_details"]["Money at stake"] == NAN_APART
    assert pagerduty["summary"].endswith(f"off by {NAN_APART}")
    assert pagerduty["custom_details"]["money"] == {"USD": "250000.000000"}
    assert pagerduty["custom_details"]["money_apart"] == {"USD": {"NaN": 1}}


def test_stuck_intents_count_nan_and_infinite_amounts_apart(db_url, factory):
    unconstrained(db_url)  # a plain numeric column holds the infinities (PostgreSQL 14+)
    posts = _alerts(db_url, lambda: _stuck_nan_infinite_and_1000(factory))
    said = ("1,000.00 USD plus 1 amount that is not a number (NaN) and 1 infinite amount "
            "(Infinity) and 1 negative infinite amount (-Infinity)")
    for body in posts.values():
        assert said in json.dumps(body), body


def test_the_console_shows_the_finite_part_and_counts_the_rest_apart(console, recon,  # noqa: F811
                                                                    factory, db_url):
    unconstrained(db_url)
    _ledger_off_by_nan_and_250k(factory)
    _stuck_nan_infinite_and_1000(factory)
    recon.checks.run()
    recon.incidents.evaluate(datetime.now(timezone.utc))
    at = app("root")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert f"Money at stake: **{NAN_APART}**" in shown, shown
    stuck = ("1,000.00 USD plus 1 amount that is not a number (NaN) and 1 infinite amount "
             "(Infinity) and 1 negative infinite amount (-Infinity)")
    assert f"Money at stake: **{stuck}**" in shown, shown
    at = open_page(app("root"), "intents")
    assert stuck in texts(at), texts(at)
    at = open_page(app("root"), "incidents")
    [ledger] = Database(db_url).fetch_all(
        "SELECT id FROM recon.incidents WHERE kind = 'ledger_imbalance'")
    at.selectbox(key="incident_choice").select(str(ledger["id"])).run()
    assert f"Money at stake: **{NAN_APART}**" in texts(at), texts(at)
    assert f"At stake then: {NAN_APART}" in texts(at), texts(at)
    # the evidence row of the NaN ledger says so, never a stake of 0
    from sge_recon.alerts.evidence import evidence_view

    incident = Database(db_url).fetch_one("SELECT * FROM recon.incidents WHERE id = %s",
                                          (ledger["id"],))
    stakes = {r["failing"]: r["at_stake"] for r in evidence_view(incident).at_open}
    assert stakes == {"prog_big/USD": "250000.000000",
                      "prog_nan/USD": "an unknown amount of USD (NaN: an amount is not a number)"}


def test_an_incident_stored_before_reads_as_it_did(db_url):
    """details.money {"USD": "NaN"} (no money_apart): still the unknown amount, in words."""
    now = datetime.now(timezone.utc)
    message = incident_message({"id": 7, "kind": "ledger_imbalance", "priority": "P0",
                                "title": "t", "details": {"money": {"USD": "NaN"}},
                                "opened_at": now, "money_at_stake": None}, "open", now,
                               "https://console.example.test")
    assert ("Money at stake", "an unknown amount of USD (NaN: an amount is not a number)") \
        in message.fields


def test_stake_text_words():
    from sge_recon.money import stake_text

    assert stake_text(Decimal("5"), "USD", {"NaN": 2}) == \
        "5.00 USD plus 2 amounts that are not a number (NaN)"
    # nothing stated: the sum PostgreSQL would give, in words, as before
    assert stake_text(Decimal("0"), "USD", {"NaN": 1}) == \
        "an unknown amount of USD (NaN: an amount is not a number)"
    assert stake_text(Decimal("0"), "EUR", {"Infinity": 3}) == \
        "an infinite amount of EUR (Infinity)"
    assert stake_text(Decimal("-1.5"), "EUR", {}) == "-1.50 EUR"


def test_the_weekly_payout_reminder_counts_a_nan_batch_apart(db_url, factory):
    """The reminder summed every waiting batch: one NaN total made the Total "an unknown amount
    of USD" and hid the 1,500.00 USD the other batches wait to be paid."""
    text = weekly_reminder_text(db_url, factory, ["1000.00", "NaN", "500.00"])
    assert "3 payout batches waiting (1,500.00 USD plus 1 amount that is not a number (NaN))" \
        in text, text


def test_the_payouts_page_counts_an_infinite_batch_total_apart(console, factory,  # noqa: F811
                                                               db_url):
    """The Payouts page left only NaN totals out of "Waiting to be paid": an infinite batch total
    (a plain numeric column holds one) made it "an infinite amount of USD" and hid the rest."""
    unconstrained(db_url)
    program = factory.program()
    for total in ("100", "Infinity", "NaN"):
        factory.payout_batch(program["id"], total_amount=Decimal(total))
    at = open_page(app("root"), "payouts")
    shown = texts(at)
    assert "Waiting to be paid: **100.00 USD** and **2** batch(es) whose total is not a number " \
        "(NaN) or infinite" in shown, shown


def test_a_stored_gx_result_without_totals_also_counts_the_nan_apart(recon, factory):
    """A ledger_balance result without totals (GX) falls back to its sample's money: the same
    split, never a NaN sum."""
    _ledger_off_by_nan_and_250k(factory)
    run = recon.checks.run(only=["ledger_balance"], engine="gx")
    assert run.by_name()["ledger_balance"].totals("off_by") is None  # GX computes none
    [tile] = [a for a in recon.console.overview().alerts if a.kind == "ledger_imbalances"]
    assert tile.money_at_stake == {"USD": Decimal("250000.000000")}
    assert tile.money_apart == {"USD": {"NaN": 1}}


def test_a_nan_tampered_ledger_never_hides_the_other_changed_amounts(recon, factory, db):
    """The grouped ledger_tamper incident summed every program's changed amount: one entry
    rewritten to NaN made it "changed by an unknown amount of USD" beside a 10.00 USD change."""
    from .checkpoint_support import settle_checkpoint

    for program in ("prog_a", "prog_b"):
        factory.program(id=program)
        factory.journal(program, [("treasury", "debit", "100.00"), ("user:1", "credit", "100.00")])
    settle_checkpoint(recon.db)
    db.execute("UPDATE public.ledger_entries SET amount = 90 WHERE program_id = 'prog_a' "
               "AND type = 'debit'")
    db.execute("UPDATE public.ledger_entries SET amount = 'NaN' WHERE program_id = 'prog_b' "
               "AND type = 'debit'")
    recon.checks.run()  # the daily full run, stored
    [tamper] = [i for i in recon.incidents.evaluate(datetime.now(timezone.utc)).opened
                if i["kind"] == "ledger_tamper"]
    assert tamper["title"].endswith(
        "changed by 10.00 USD plus 1 amount that is not a number (NaN)"), tamper["title"]
    assert tamper["details"]["money"] == {"USD": "10.000000"}
    assert tamper["details"]["money_apart"] == {"USD": {"NaN": 1}}
