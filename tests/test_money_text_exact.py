"""Alert texts never show a non-zero amount as zero.

money_text rounded every amount to cents: a reconciled ledger row changed by 0.004 paged
"Ledger history ... was modified: 0.00 USD changed", Money at stake "0.00 USD". Amounts are now
shown with cents and every further stored decimal (as the console shows them).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from sge_recon.money import money_text

from .checkpoint_support import settle_checkpoint
from .http_receiver import Receiver
from .test_alerts import alerting_recon


def test_a_ledger_row_changed_by_less_than_a_cent_pages_its_amount(db_url, db, factory):
    receiver = Receiver(default_status=lambda path: 204 if path.startswith("/discord") else 200)
    try:
        recon = alerting_recon(db_url, receiver)
        program = factory.program(id="prog_a")["id"]
        factory.journal(program, [("treasury", "debit", "100.00"), ("user:1", "credit", "100.00")])
        settle_checkpoint(recon.db)
        db.execute("UPDATE public.ledger_entries SET amount = 99.996 WHERE id = 1")
        recon.checks.run()  # the daily full run, stored
        now = datetime.now(timezone.utc)
        [tamper] = [i for i in recon.incidents.evaluate(now).opened
                    if i["kind"] == "ledger_tamper"]
        assert "0.004 USD changed" in tamper["title"], tamper["title"]
        recon.incidents.deliver_pending(now)
        posts = [p["json"] for p in receiver.posts]
    finally:
        receiver.close()
    assert posts
    for body in posts:
        text = json.dumps(body)
        assert "0.004 USD" in text and "0.00 USD" not in text, text


def test_money_text_keeps_every_stored_decimal():
    assert money_text(Decimal("0.004"), "USD") == "0.004 USD"
    assert money_text(Decimal("-0.000001"), "USD") == "-0.000001 USD"
    assert money_text(Decimal("1234.5"), "USD") == "1,234.50 USD"
    assert money_text(Decimal("250000.000000"), "USD") == "250,000.00 USD"


def test_an_incidents_single_amount_is_never_stored_rounded(db_url, factory):
    """recon.incidents.money_at_stake is numeric(38,6): a ledger (plain numeric) off by 0.0100004
    was stored as 0.010000 there (and in the auditors' export of incidents); an amount with more
    than six decimals stays in details.money only, exact."""
    from .test_alerts import monitor_only, start_clock
    from .test_numeric_specials import unconstrained

    receiver = Receiver(default_status=lambda path: 204 if path.startswith("/discord") else 200)
    try:
        recon = alerting_recon(db_url, receiver)
        unconstrained(db_url)
        factory.program(id="prog_tiny")
        factory.journal("prog_tiny", [("treasury", "debit", "1.0100004"),
                                      ("user:1", "credit", "1")])
        [run] = monitor_only(recon, start_clock()).tick()
        assert run.status == "succeeded", run.error
    finally:
        receiver.close()
    [incident] = recon.incidents.incidents()
    assert incident["details"]["money"] == {"USD": "0.0100004"}
    assert incident["money_at_stake"] in (None, Decimal("0.0100004")), incident["money_at_stake"]
