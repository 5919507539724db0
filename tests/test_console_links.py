"""DESIGN §9 deep links through AppTest against the real database and admin API: each address
opens its page on that item; payout batches show their line items checked against the total."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sge_recon.context import Recon
from sge_recon.db import Database

from .conftest import settings_for
from .console_support import app, console_env, frame, texts, troubled_platform
from .factories import PlatformFactory
from .platform_helpers import payable_batch, running_api


@pytest.fixture(scope="module")
def platform(module_db_url):
    factory = PlatformFactory(Database(module_db_url))
    facts = troubled_platform(factory)
    facts["payable"] = payable_batch(factory)["batch"]  # 2 affiliates x 2 commissions of 1.50
    eur = factory.program(currency="EUR")
    facts["bad_batch"] = factory.payout_batch(eur["id"], total_amount=Decimal("9.99"),
                                              affiliate_count=1)
    aff = factory.affiliate(eur["id"])
    user = factory.user(eur["id"])
    intent = factory.intent(eur["id"], user["id"], currency="EUR")
    factory.commission(eur["id"], aff["id"], intent["id"], amount=Decimal("5.00"),
                       status="payable", payout_batch_id=facts["bad_batch"]["id"])
    Recon(settings_for(module_db_url)).checks.run(trigger="test")
    with running_api(module_db_url) as api_url:
        yield {"db_url": module_db_url, "api_url": api_url, **facts}


@pytest.fixture
def open_link(platform, monkeypatch, tmp_path):
    console_env(monkeypatch, platform["db_url"], platform["api_url"], tmp_path)

    def go(page: str, operator: str = "ada", **params):
        at = app(operator=operator)
        at.run()
        for name, value in params.items():
            at.query_params[name] = str(value)
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return go


def test_payouts_id_opens_the_batch_with_its_checked_line_items(open_link, platform):
    batch = platform["payable"]
    at = open_link("payouts", operator="alice", id=batch["id"])
    shown = texts(at)
    assert f"**{batch['id']}** · pending_approval" in shown and "**6.00 USD** to 2" in shown
    assert "Checked: the 2 lines add up to the batch total 6.00 USD" in shown
    lines = frame(at, "affiliate_id", "commissions")
    assert list(lines["amount"]) == ["3.00", "3.00"] and set(lines["currency"]) == {"USD"}
    assert list(lines["commissions"]) == [2, 2]
    assert len(frame(at, "commission_id", "base_amount")) == 4
    assert at.button(key="approve_batch").disabled is False  # alice is an approver


def test_a_batch_that_does_not_add_up_cannot_be_approved(open_link, platform):
    at = open_link("payouts", operator="alice", id=platform["bad_batch"]["id"])
    shown = texts(at)
    assert "This batch does not add up" in shown and "differs from the sum" in shown
    assert "9.99 EUR" in shown
    button = at.button(key="approve_batch")
    assert button.disabled and "does not add up" in button.help


def test_every_deep_link_opens_its_item(open_link, platform):
    at = open_link("intents", id=platform["stuck"]["id"])
    assert f"**{platform['stuck']['id']}** · processing · 250.00 USD" in texts(at)
    assert at.button(key="retry_stuck").disabled is False

    at = open_link("webhooks", id=platform["delivery"]["id"])
    assert f"**{platform['delivery']['id']}** · failed" in texts(at)
    assert at.button(key="retry_webhook").disabled is False

    at = open_link("incidents", id=platform["incident_id"])
    assert f"#{platform['incident_id']} · P0 · open" in texts(at)

    at = open_link("ledger", transaction=platform["bad_txn"])
    assert f"Entries of transaction **{platform['bad_txn']}**" in texts(at)
    assert "Does not balance" in texts(at)

    at = open_link("ledger", program="prog_console")
    assert "Program **prog_console**" in texts(at)
    assert at.selectbox(key="reconcile_program").value == "prog_console"

    at = open_link("intents", id="no-such-intent")
    assert "No intent with id 'no-such-intent'." in texts(at)


def test_overview_tiles_link_to_their_pages(open_link):
    at = open_link("overview")
    targets = {link.proto.page for link in at.get("page_link")}
    assert {"ledger", "queue", "trends", "intents", "payouts", "webhooks"} <= \
        {t.strip("/").split("/")[-1] for t in targets}
