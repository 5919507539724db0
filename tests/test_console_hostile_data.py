"""The console faced with what a real platform holds: numeric 'NaN' and 32-digit amounts
(numeric(38,6) allows both), and ids, names and errors that look like Markdown, LaTeX or
Streamlit directives. Every page renders (no exception), and what it shows is the stored value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .console_support import app, console_env, open_page, texts
from .factories import ago
from .platform_helpers import running_api


@pytest.fixture
def api(db_url):
    with running_api(db_url) as url:
        yield url


@pytest.fixture
def console(db_url, api, monkeypatch, tmp_path):
    console_env(monkeypatch, db_url, api, tmp_path)


def stuck(factory, program, amount, **kw):
    user = factory.user(program["id"])
    return factory.intent(program["id"], user["id"], amount=amount, status="processing",
                          status_changed_at=ago(minutes=90), **kw)


def test_a_nan_amount_at_stake_does_not_take_the_overview_and_incidents_down(console, factory):
    program = factory.program()
    stuck(factory, program, Decimal("NaN"))
    stuck(factory, program, Decimal("250.00"), currency="EUR")
    factory.incident(title="Unstated", money_at_stake=Decimal("NaN"))
    factory.incident(kind="stuck_intents", title="Stated", money_at_stake=Decimal("5.00"))
    at = app("root")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "NaN USD" in shown and "250.00 EUR" in shown  # the stuck intents' alert, as stored
    # the unstated amount ranks first: nobody can say it is small
    assert shown.index("Unstated") < shown.index("Stated")
    open_page(at, "incidents")


def open_transaction(at, txn: str):
    at.run()
    at.query_params["transaction"] = txn
    at.switch_page("views/ledger.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_32_digit_one_sided_transaction_is_shown_and_completed_exactly(console, factory):
    program = factory.program()
    txn = factory.journal(program["id"], [("treasury", "debit", "10000000000000000000000000000000"),
                                          ("fees", "credit", "0.000001")])
    at = open_transaction(app("root"), txn)
    off = "9,999,999,999,999,999,999,999,999,999,999.999999 USD"
    assert f"Does not balance: debits − credits = {off}" in texts(at)
    # the proposed missing leg is exactly the difference (10^31 would leave 0.000001 unbalanced)
    amounts = [t.value for t in at.text_input if t.key and t.key.startswith("corr_amount_")]
    assert "9999999999999999999999999999999.999999" in amounts, amounts


def test_a_transaction_with_a_nan_amount_is_shown_not_a_traceback(console, factory):
    program = factory.program()
    txn = factory.journal(program["id"], [("treasury", "debit", "NaN"),
                                          ("fees", "credit", "1.00")])
    at = open_transaction(app("root"), txn)
    assert "Does not balance: debits − credits = NaN USD" in texts(at)
