"""Money the SGE platform moves that the `sge` profile must not hide (audit of the profile):
what a payout batch pays is its line items ("Payout"), so a line item that pays more than the
commissions it carries fails payout_batch_total, as a batch total above its commissions does on
the contract platform."""

from __future__ import annotations

from decimal import Decimal

import psycopg
from psycopg.rows import dict_row

from refplatform import sge_store

from .test_profile_sge import sge_database, sge_recon


def a_pending_batch(conn) -> tuple[str, dict]:
    """A PENDING batch and one of its PENDING line items."""
    line = conn.execute(
        'SELECT po.* FROM "Payout" po JOIN "PayoutBatch" b ON b.id = po."batchId" '
        "WHERE b.status = 'PENDING' AND po.status = 'PENDING' ORDER BY po.id LIMIT 1").fetchone()
    assert line is not None
    return line["batchId"], line


def test_a_line_item_paying_more_than_its_commissions_fails_payout_batch_total(new_database):
    url, _ = sge_database(new_database, intents=200)
    recon = sge_recon(url)
    assert recon.checks.run(only=["payout_batch_total"], store=False).status == "pass"
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, line = a_pending_batch(conn)
        # the batch's "totalAmount" and its commissions stay as they were: only what the line
        # item will pay changes (+ 10 000.00)
        conn.execute('UPDATE "Payout" SET amount = amount + 10000 WHERE id = %s', (line["id"],))
    result = recon.checks.run(only=["payout_batch_total"], store=False).by_name()[
        "payout_batch_total"]
    assert result.status == "fail"
    assert [(r["batch_id"], r["difference"]) for r in result.rows] == [
        (batch, Decimal("10000.000000"))]

    # executed by the platform's own code (every line item paid, its PAYOUT journal balanced,
    # the commissions PAID): the money went out, and the check still says so
    with psycopg.connect(url, row_factory=dict_row) as conn:
        sge_store.approve_batch(conn, batch, "finance:erin")
        for n, item in enumerate(sge_store.pending_payouts(conn, batch)):
            sge_store.complete_payout(conn, item, f"0xaudit{n:04d}")
        sge_store.complete_batch(conn, batch, "0xauditbatch")
    run = recon.checks.run(store=False)
    rows = run.by_name()["payout_batch_total"].rows
    assert [(r["batch_id"], r["status"], r["difference"]) for r in rows] == [
        (batch, "executed", Decimal("10000.000000"))]
    assert run.by_name()["ledger_balance"].status == "pass"  # balanced, yet 10 000 overpaid
