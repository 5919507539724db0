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
