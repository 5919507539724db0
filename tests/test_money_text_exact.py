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
