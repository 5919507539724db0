"""Money in alerts is exact at any numeric(38,6) size (DESIGN §4), and one rule that fails never
silences the others. Python's default decimal context keeps 28 digits: under it an amount of
10^26 or more made ``quantize`` raise, which dropped every incident rule of the monitor job, and
sums of 23 or more integer digits were silently rounded."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from sge_recon.alerts import rules
from sge_recon.metrics.collector import core_gauges
from sge_recon.metrics.facts import LedgerDifference, facts_from_results
from sge_recon.money import money_text

from .http_receiver import Receiver
from .test_alerts import SLACK, alerting_recon, monitor_only, plant_queue_depth, start_clock


@pytest.fixture
def receiver():
    r = Receiver(default_status=lambda path: 200)
    yield r
    r.close()


def slack_texts(receiver: Receiver) -> list[str]:
    return [str(m) for m in receiver.delivered(SLACK)]


def test_a_10_27_imbalance_pages_its_exact_amount_and_a_backlog_still_pages(db_url, db, factory,
                                                                            receiver):
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    factory.program(id="big")
    factory.journal("big", [("treasury", "debit", "1000000000000000000000000000.00"),
                            ("user:u1", "credit", "0.01")])
    plant_queue_depth(factory, db, clock)  # unrelated: 501 waiting jobs
    [run] = monitor_only(recon, clock).tick()
    assert run.status == "succeeded", run.error
    incidents = {i["kind"]: i for i in recon.incidents.incidents()}
    assert {k: i["priority"] for k, i in incidents.items()} == {"ledger_imbalance": "P0",
                                                               "queue_depth": "P2"}
    ledger = incidents["ledger_imbalance"]
    assert Decimal(ledger["details"]["money"]["USD"]) == Decimal("999999999999999999999999999.99")
    assert ledger["money_at_stake"] == Decimal("999999999999999999999999999.99")
    amount = "999,999,999,999,999,999,999,999,999.99 USD"
    assert ledger["title"] == f"Ledger of program big (USD) is off by {amount}"
    texts = slack_texts(receiver)
    assert any(f"P0 incident #{ledger['id']}" in t and f"Money at stake*\\n{amount}" in t
               for t in texts)
    assert any(f"P2 incident #{incidents['queue_depth']['id']}" in t for t in texts)


def test_money_is_summed_exactly_past_28_digits(db_url, db, factory, receiver):
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    for program in ("p1", "p2"):  # 23 integer digits each: rounded at the 28th digit before
        factory.program(id=program)
        factory.journal(program, [("treasury", "debit", "12345678901234567890123.456789")])
    [run] = monitor_only(recon, clock).tick()
    assert run.status == "succeeded", run.error
    [incident] = recon.incidents.incidents()
    assert incident["details"]["money"] == {"USD": "24691357802469135780246.913578"}
    assert incident["money_at_stake"] == Decimal("24691357802469135780246.913578")
    assert incident["title"].endswith("off by 24,691,357,802,469,135,780,246.913578 USD")
    assert any("24,691,357,802,469,135,780,246.913578 USD" in t for t in slack_texts(receiver))


def test_sums_past_numeric_38_6_per_currency(db_url, db, factory,
                                                                        receiver):
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    for program in ("q1", "q2"):
        factory.program(id=program)
        factory.journal(program, [("treasury", "debit", "90000000000000000000000000000000")])
    factory.program(id="r1")  # and another currency, summed on its own
    factory.journal("r1", [("treasury", "debit", "12.50")], currency="EUR")
    [run] = monitor_only(recon, clock).tick()
    assert run.status == "succeeded", run.error
    [incident] = recon.incidents.incidents()
    assert incident["money_at_stake"] is None  # two currencies; USD is past numeric(38,6)
    assert incident["details"]["money"] == {"USD": "180000000000000000000000000000000.000000",
                                            "EUR": "12.500000"}
    assert incident["title"].endswith(
        "off by 12.50 EUR, 180,000,000,000,000,000,000,000,000,000,000.00 USD")


def test_one_sum_past_numeric_38_6_is_kept_in_the_details_only(db_url, db, factory, receiver):
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    for program in ("q1", "q2"):
        factory.program(id=program)
        factory.journal(program, [("treasury", "debit", "90000000000000000000000000000000")])
    [run] = monitor_only(recon, clock).tick()
    assert run.status == "succeeded", run.error
    [incident] = recon.incidents.incidents()
    assert incident["money_at_stake"] is None  # recon.incidents.money_at_stake is numeric(38,6)
    assert incident["details"]["money"] == {"USD": "180000000000000000000000000000000.000000"}


def test_money_text_and_the_metric_are_exact_at_any_size():
    assert money_text(Decimal("1E+26"), "USD") == "100,000,000,000,000,000,000,000,000.00 USD"
    # every stored decimal kept, never rounded to cents (tests/test_money_text_exact.py)
    assert money_text(Decimal("99999999999999999999999999999999.999999"), "EUR") == \
        "99,999,999,999,999,999,999,999,999,999,999.999999 EUR"
    assert money_text(Decimal("-5.005"), "") == "-5.005"
    # never raises; a NaN in words
    assert money_text(Decimal("NaN"), "USD") == \
        "an unknown amount of USD (NaN: an amount is not a number)"
    facts = facts_from_results({}, datetime.now(timezone.utc))
    facts.unavailable.clear()  # as if ledger_balance had run
    big = Decimal("12345678901234567890123.456789")
    facts.ledger = [LedgerDifference("p", "USD", big, Decimal(0), big)]
    [ledger] = [g for g in core_gauges(facts) if g.name == "sge_ledger_balance_difference_cents"]
    assert ledger.samples == [(("p", "USD"), Decimal("1234567890123456789012345.678900"))]


def test_a_rule_that_raises_never_silences_the_others(db_url, db, factory, receiver, caplog,
                                                      monkeypatch):
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    factory.program(id="prog_ledger")
    factory.journal("prog_ledger", [("treasury", "debit", "100.00"), ("user:u1", "credit", "99")])
    plant_queue_depth(factory, db, clock)
    working = rules._RULE_FUNCTIONS

    def broken(facts, settings):
        raise ZeroDivisionError("planted")

    def break_ledger_rule():
        monkeypatch.setattr(rules, "_RULE_FUNCTIONS", tuple(
            (kinds, broken if kinds == ("ledger_imbalance",) else rule)
            for kinds, rule in working))

    break_ledger_rule()
    with caplog.at_level(logging.ERROR, logger="sge_recon.alerts.rules"):
        [run] = sched.tick()
    assert run.status == "succeeded", run.error
    assert [i["kind"] for i in recon.incidents.incidents()] == ["queue_depth"]
    assert "rule ledger_imbalance failed" in caplog.text and "planted" in caplog.text

    monkeypatch.setattr(rules, "_RULE_FUNCTIONS", working)
    clock.advance(minutes=1)
    sched.tick()
    [ledger] = [i for i in recon.incidents.incidents() if i["kind"] == "ledger_imbalance"]

    break_ledger_rule()  # a rule that could not run proves nothing: its incident stays open
    clock.advance(minutes=1)
    sched.tick()
    [still] = [i for i in recon.incidents.incidents() if i["id"] == ledger["id"]]
    assert still["status"] == "open" and still["resolved_at"] is None
