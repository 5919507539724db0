"""payout_line_items at its edges (audit of the check): a batch that failed after some of its
line items were executed, and negative line items (no transfer takes money back)."""

from __future__ import annotations

from decimal import Decimal

import psycopg
from psycopg.rows import dict_row

from refplatform import sge_store
from sge_recon.money import money_exact

from .test_payout_line_items import (an_affiliate_never_paid_nor_owed, batch_lines,
                                     execute_as_sge,
                                     line_rows, pending_lines, sge)

__all__ = ["sge"]  # the fixture, shared with test_payout_line_items.py


def a_line_item_and_another_programs_open_batch(conn) -> tuple[dict, dict]:
    """A pending line item, and a pending or approved batch of another program."""
    _, (first, *_) = pending_lines(conn)
    other = conn.execute(
        """SELECT id, "programId" FROM "PayoutBatch" WHERE "programId" <> %s
           AND status IN ('PENDING', 'APPROVED') ORDER BY id LIMIT 1""",
        (first["programId"],)).fetchone()
    return first, other


def failed_batch_lines(conn) -> tuple[str, list[dict]]:
    return batch_lines(conn, "FAILED")


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


def add_negative_line(conn, line: dict, amount: Decimal) -> str:
    """A second line item for the same affiliate in the same batch, of ``amount`` (negative)."""
    new = sge_store.cuid()
    conn.execute(
        'INSERT INTO "Payout" (id, "programId", "affiliateId", "batchId", "idempotencyKey", '
        'amount, currency, method, destination, status, "createdAt", "updatedAt") VALUES '
        "(%s, %s, %s, %s, %s, %s, 'USD', 'ONCHAIN_USDC', %s, 'PENDING', "
        "now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')",
        (new, line["programId"], line["affiliateId"], line["batchId"], f"offset:{new}", amount,
         line["destination"]))
    return new


def test_a_negative_line_item_offsets_no_overpayment(sge):
    """One affiliate's line item raised by 100 beside a line item of -100 for it: the batch's
    total and the affiliate's sum are unchanged, but the transfer of -100 takes nothing back
    (it fails, or sends nothing): the affiliate gets 100 more than its commissions."""
    url, recon = sge
    extra = Decimal(100)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, (first, *_) = pending_lines(conn)
        conn.execute('UPDATE "Payout" SET amount = amount + %s WHERE id = %s',
                     (extra, first["id"]))
        negative = add_negative_line(conn, first, -extra)
    expected = [(batch, first["affiliateId"], "line_amount", first["amount"] + extra,
                 first["amount"], extra)]
    assert line_rows(recon) == expected

    # the Payouts page: the affiliate is paid the raised line item; approving is refused
    found = recon.console.payout_batch(batch)
    assert not found["consistent"]
    assert found["problems"][-1] == (
        f"affiliate {first['affiliateId']} is paid {money_exact(first['amount'] + extra)} by "
        f"the platform's line items but has {money_exact(first['amount'])} of commissions in "
        "this batch")
    shown = found["batch"]
    refusal = recon.console.unlike_shown(batch, shown["total_amount"], shown["affiliate_count"])
    assert refusal is not None and first["affiliateId"] in refusal

    # executed as SGE does: the raised line item is paid, the negative one fails on chain
    with psycopg.connect(url, row_factory=dict_row) as conn:
        execute_as_sge(conn, batch)
        conn.execute("""UPDATE "Payout" SET status = 'FAILED', "txHash" = NULL WHERE id = %s""",
                     (negative,))
    assert line_rows(recon) == expected


def test_zero_and_negative_line_items_for_affiliates_owed_nothing_pay_nothing(sge):
    """A line item of 0, or below 0, for an affiliate with no commission: nothing goes out, and
    the batch's total (what its line items add up to) no longer matches its commissions, which
    payout_batch_total names."""
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, (first, *_) = pending_lines(conn)
        other = an_affiliate_never_paid_nor_owed(conn, first["programId"])
        for amount in (Decimal(0), Decimal("-5")):
            add_negative_line(conn, {**first, "affiliateId": other}, amount)
    assert line_rows(recon) == []
    totals = recon.checks.run(only=["payout_batch_total"], store=False).by_name()[
        "payout_batch_total"].rows
    assert [(r["batch_id"], r["difference"]) for r in totals] == [(batch, Decimal("-5"))]


def test_a_line_item_moved_into_another_programs_batch_fails(sge):
    """A line item of program A (with the commissions it pays, which follow it by "payoutId")
    moved into a pending batch of program B: B's batch total still adds up, yet B's batch pays
    an affiliate of A for A's commissions."""
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        first, other = a_line_item_and_another_programs_open_batch(conn)
        conn.execute('UPDATE "Payout" SET "batchId" = %s WHERE id = %s',
                     (other["id"], first["id"]))
    result = recon.checks.run(only=["payout_line_items"], store=False).by_name()[
        "payout_line_items"]
    assert [(r["batch_id"], r["program_id"], r["affiliate_id"], r["problem"], r["paid"],
             r["commissions_total"]) for r in result.rows] == [
        (other["id"], other["programId"], first["affiliateId"], "line_amount",
         first["amount"], Decimal(0))]
    assert recon.checks.run(only=["payout_batch_total"], store=False).status == "pass"


def test_the_payouts_page_refuses_a_batch_paying_another_programs_commissions(sge):
    """The same move, with the batch's "affiliateCount" raised to match: the page's totals and
    counts add up, but the batch pays another program's commissions."""
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        first, other = a_line_item_and_another_programs_open_batch(conn)
        moved = conn.execute('SELECT count(*) AS n FROM "Commission" WHERE "payoutId" = %s '
                             "AND status <> 'CANCELLED'", (first["id"],)).fetchone()["n"]
        conn.execute('UPDATE "Payout" SET "batchId" = %s WHERE id = %s',
                     (other["id"], first["id"]))
        conn.execute('UPDATE "PayoutBatch" SET "affiliateCount" = "affiliateCount" + 1 '
                     "WHERE id = %s", (other["id"],))
    found = recon.console.payout_batch(other["id"])
    assert found["problems"] == [
        f"{moved} of its commissions belong to another program than the batch's "
        f"({other['programId']}): a batch pays its own program's"]
    shown = found["batch"]
    refusal = recon.console.unlike_shown(other["id"], shown["total_amount"],
                                         shown["affiliate_count"])
    assert refusal is not None and "another program" in refusal


def test_a_line_item_without_an_affiliate_is_named_as_such_on_the_payouts_page(sge):
    """A line item whose affiliate id is NULL (a platform without the NOT NULL) or empty: both
    flagged by the check, and the page's sentence says which, not 'affiliate None'."""
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, (first, second, *_) = pending_lines(conn)
        conn.execute('ALTER TABLE "Payout" ALTER COLUMN "affiliateId" DROP NOT NULL, '
                     'DROP CONSTRAINT "Payout_affiliateId_fkey"')
        conn.execute('UPDATE "Payout" SET "affiliateId" = NULL WHERE id = %s', (first["id"],))
        conn.execute("""UPDATE "Payout" SET "affiliateId" = '' WHERE id = %s""", (second["id"],))
    assert {(r[1], r[2]) for r in line_rows(recon)} >= {(None, "line_amount"), ("", "line_amount")}
    from sge_recon.console.payout_pages import _named

    problems = " ".join(recon.console.payout_batch(batch)["problems"])
    assert "affiliate None" not in problems and "affiliate  " not in problems
    assert "affiliate (no id)" in problems or "affiliate ''" in problems  # the first five shown
    assert (_named(None), _named(""), _named(" "), _named("aff_1")) == (
        "(no id)", "''", "' '", "aff_1")
