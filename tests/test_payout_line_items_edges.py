"""payout_line_items at its edges (audit of the check): a batch that failed after some of its
line items were executed, and negative line items (no transfer takes money back)."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from psycopg.rows import dict_row

from .test_payout_line_items import line_rows
from .test_profile_sge import sge_database, sge_recon


@pytest.fixture
def sge(new_database):
    url, _ = sge_database(new_database, intents=200)
    return url, sge_recon(url)


def failed_batch_lines(conn) -> tuple[str, list[dict]]:
    """A FAILED batch with at least two (FAILED) line items, and those line items."""
    batch = conn.execute(
        'SELECT b.id FROM "PayoutBatch" b JOIN "Payout" po ON po."batchId" = b.id '
        "WHERE b.status = 'FAILED' GROUP BY b.id HAVING count(*) >= 2 ORDER BY b.id "
        "LIMIT 1").fetchone()
    assert batch is not None
    return batch["id"], conn.execute('SELECT * FROM "Payout" WHERE "batchId" = %s ORDER BY id',
                                     (batch["id"],)).fetchall()


def test_money_shifted_to_a_line_item_executed_before_its_batch_failed_fails(sge):
    """The batch failed after the first line item was paid: that line item's money went out.
    7.25 moved onto it from a line item that then failed is paid to the wrong affiliate; the
    affiliate has more commissions not paid yet, so over all batches it is not overpaid."""
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, (first, second, *_) = failed_batch_lines(conn)
        conn.execute("""UPDATE "Payout" SET status = 'COMPLETED', amount = amount + 7.25
                        WHERE id = %s""", (first["id"],))
        conn.execute('UPDATE "Payout" SET amount = amount - 7.25 WHERE id = %s', (second["id"],))
        earned = conn.execute(
            'SELECT sum(amount) AS earned FROM "Commission" WHERE "affiliateId" = %s '
            "AND status <> 'CANCELLED'", (first["affiliateId"],)).fetchone()["earned"]
        paid = conn.execute(
            """SELECT sum(amount) AS paid FROM "Payout" WHERE "affiliateId" = %s
               AND status = 'COMPLETED'""", (first["affiliateId"],)).fetchone()["paid"]
    assert earned > paid  # so overpaid cannot see it: only the batch's line items do
    shift = Decimal("7.25")
    # the line item that failed paid nothing: its affiliate is not compared in a failed batch
    assert line_rows(recon) == [
        (batch, first["affiliateId"], "line_amount", first["amount"] + shift, first["amount"],
         shift)]


def test_a_failed_batch_whose_executed_line_items_match_their_commissions_passes(sge):
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        _, (first, second, *_) = failed_batch_lines(conn)
        conn.execute("""UPDATE "Payout" SET status = 'COMPLETED' WHERE id = %s""", (first["id"],))
        # the failed line item is wrong, but it paid nothing and its batch stopped
        conn.execute('UPDATE "Payout" SET amount = amount + 50 WHERE id = %s', (second["id"],))
    assert line_rows(recon) == []
