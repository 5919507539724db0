"""payout_line_items: what each affiliate is paid (a profile's payout_items, SGE's "Payout" line
items) against the commissions behind it. payout_batch_total compares a batch's total only, so
money shifted between two line items, a line item pointed at another affiliate, or SGE's own
second payment of commissions it never marks paid passed every check before (profile audit,
finding 6)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from refplatform import sge_store
from sge_recon.config import project_root
from sge_recon.context import Recon
from sge_recon.db.relations import CONTRACT_ABSENT, NOT_MAPPED
from sge_recon.errors import ProfileError
from sge_recon.money import money_exact

from .conftest import settings_for
from .test_profile_sge import sge_database, sge_recon

CHECK = "payout_line_items"


def line_rows(recon) -> list[tuple]:
    result = recon.checks.run(only=[CHECK], store=False).by_name()[CHECK]
    return [(r["batch_id"], r["affiliate_id"], r["problem"], r["paid"], r["commissions_total"],
             r["difference"]) for r in result.rows]


def batch_lines(conn, status: str) -> tuple[str, list[dict]]:
    """A batch in ``status`` with at least two line items in that status, and its line items
    (a FAILED batch's line items failed with it; a PENDING one's are PENDING)."""
    batch = conn.execute(
        'SELECT b.id FROM "PayoutBatch" b JOIN "Payout" po ON po."batchId" = b.id '
        'WHERE b.status = %s AND po.status::text = %s GROUP BY b.id '
        "HAVING count(*) >= 2 ORDER BY b.id LIMIT 1", (status, status)).fetchone()
    assert batch is not None
    lines = conn.execute('SELECT * FROM "Payout" WHERE "batchId" = %s ORDER BY id',
                         (batch["id"],)).fetchall()
    return batch["id"], lines


def pending_lines(conn) -> tuple[str, list[dict]]:
    return batch_lines(conn, "PENDING")


def an_affiliate_never_paid_nor_owed(conn, program_id: str) -> str:
    """An affiliate of the program with no line item and no commission at all."""
    return conn.execute(
        'SELECT a.id FROM "Affiliate" a WHERE a."programId" = %s AND NOT EXISTS ('
        'SELECT 1 FROM "Payout" po WHERE po."affiliateId" = a.id) AND NOT EXISTS ('
        'SELECT 1 FROM "Commission" c WHERE c."affiliateId" = a.id) '
        "ORDER BY a.id LIMIT 1", (program_id,)).fetchone()["id"]


def execute_as_sge(conn, batch: str) -> None:
    """The platform's own execution: every line item paid, its PAYOUT journal, commissions PAID."""
    sge_store.approve_batch(conn, batch, "finance:erin")
    for n, item in enumerate(sge_store.pending_payouts(conn, batch)):
        sge_store.complete_payout(conn, item, f"0xlines{batch[-6:]}{n:04d}")
    sge_store.complete_batch(conn, batch, f"0xlinesbatch{batch[-6:]}")


@pytest.fixture
def sge(new_database):
    url, _ = sge_database(new_database, intents=200)
    return url, sge_recon(url)


def test_a_platform_as_built_passes(sge):
    _, recon = sge
    result = recon.checks.run(only=[CHECK], store=False).by_name()[CHECK]
    assert (result.status, result.failing_rows) == ("pass", 0)


def test_money_shifted_between_two_line_items_fails_before_and_after_execution(sge):
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, (first, second, *_) = pending_lines(conn)
        # 7.25 moved from the second affiliate's line item to the first's: the batch's total,
        # "totalAmount" and every commission stay as they were
        conn.execute('UPDATE "Payout" SET amount = amount + 7.25 WHERE id = %s', (first["id"],))
        conn.execute('UPDATE "Payout" SET amount = amount - 7.25 WHERE id = %s', (second["id"],))
    a, b = first["affiliateId"], second["affiliateId"]
    shift = Decimal("7.25")
    expected = sorted([
        (batch, a, "line_amount", first["amount"] + shift, first["amount"], shift),
        # a line item brought below zero pays nothing (no transfer takes money back)
        (batch, b, "line_amount", max(second["amount"] - shift, Decimal(0)), second["amount"],
         max(second["amount"] - shift, Decimal(0)) - second["amount"])])
    assert line_rows(recon) == expected
    assert recon.checks.run(only=["payout_batch_total"], store=False).status == "pass"

    with psycopg.connect(url, row_factory=dict_row) as conn:
        execute_as_sge(conn, batch)
    run = recon.checks.run(store=False)
    assert [(r["batch_id"], r["status"], r["problem"]) for r in run.by_name()[CHECK].rows] == [
        (batch, "executed", "line_amount"), (batch, "executed", "line_amount")]
    # the journals balance and the batch total adds up: only this check sees it
    for name in ("ledger_balance", "transaction_balance", "payout_batch_total"):
        assert run.by_name()[name].status == "pass", name


def test_a_line_item_pointed_at_another_affiliate_fails(sge):
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, (line, *_) = pending_lines(conn)
        other = an_affiliate_never_paid_nor_owed(conn, line["programId"])
        conn.execute('UPDATE "Payout" SET "affiliateId" = %s, destination = %s WHERE id = %s',
                     (other, "0xattacker", line["id"]))
    amount, zero = line["amount"], Decimal("0E-6")
    # in the batch, the affiliate owed is paid nothing and the other paid what it is not owed;
    # over all batches, the other (who earned nothing) is overpaid
    assert line_rows(recon) == sorted([
        (batch, line["affiliateId"], "line_amount", zero, amount, -amount),
        (batch, other, "line_amount", amount, zero, amount),
        (batch, other, "overpaid", amount, zero, amount),
        # and its money goes to an address that is not the other affiliate's wallet either
        (batch, other, "destination", amount, None, None)])
    assert recon.checks.run(only=["payout_batch_total"], store=False).status == "pass"


def test_commissions_paid_again_by_a_later_batch_are_overpaid(sge):
    """SGE's createPayoutBatch gathers an affiliate's PAYABLE commissions per affiliate and never
    sets their "payoutId", so processPayout marks none PAID and the next batch pays them again.
    A batch made that way gathers no commission (payout_batch_total names it); this check names
    the affiliate paid twice, in the newest batch."""
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        paid = conn.execute(
            'SELECT po."programId", po."affiliateId", sum(po.amount) AS paid '
            'FROM "Payout" po WHERE po.status = \'COMPLETED\' GROUP BY 1, 2 '
            "ORDER BY 3 DESC, 2 LIMIT 1").fetchone()
        earned = conn.execute(
            'SELECT sum(amount) AS earned FROM "Commission" WHERE "affiliateId" = %s '
            "AND status <> 'CANCELLED'", (paid["affiliateId"],)).fetchone()["earned"]
        batch = sge_store.cuid()
        conn.execute(
            'INSERT INTO "PayoutBatch" (id, "programId", period, "totalAmount", "affiliateCount", '
            'status, "createdById", "createdAt", "updatedAt") VALUES (%s, %s, %s, %s, 1, '
            "'PENDING', 'ops:alice', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')",
            (batch, paid["programId"], "2099-W01", earned))
        conn.execute(
            'INSERT INTO "Payout" (id, "programId", "affiliateId", "batchId", "idempotencyKey", '
            'amount, currency, method, destination, status, "createdAt", "updatedAt") VALUES '
            "(%s, %s, %s, %s, %s, %s, 'USD', 'ONCHAIN_USDC', "
            '(SELECT wallet FROM "Affiliate" WHERE id = %s), \'PENDING\', '
            "now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')",
            (sge_store.cuid(), paid["programId"], paid["affiliateId"], batch,
             f"payout:{paid['programId']}:{paid['affiliateId']}:2099-W01", earned,
             paid["affiliateId"]))
    over = paid["paid"]  # everything earned paid again, on top of what was paid already
    assert line_rows(recon) == [
        (batch, paid["affiliateId"], "overpaid", earned + over, earned, over)]
    totals = recon.checks.run(only=["payout_batch_total"], store=False).by_name()[
        "payout_batch_total"].rows
    assert [(r["batch_id"], r["commissions_total"]) for r in totals] == [(batch, Decimal(0))]

    # the batch rejected before it paid: nothing is paid twice any more
    with psycopg.connect(url) as conn:
        conn.execute("""UPDATE "PayoutBatch" SET status = 'CANCELLED' WHERE id = %s""", (batch,))
        conn.execute("""UPDATE "Payout" SET status = 'CANCELLED' WHERE "batchId" = %s""",
                     (batch,))
    assert line_rows(recon) == []


def test_failed_line_items_pay_nothing_and_executed_ones_do_even_in_a_failed_batch(sge):
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        failed = conn.execute(
            """SELECT po.* FROM "Payout" po JOIN "PayoutBatch" b ON b.id = po."batchId"
               WHERE b.status = 'FAILED' ORDER BY po.id LIMIT 1""").fetchone()
        assert failed is not None and failed["status"] == "FAILED"
        assert line_rows(recon) == []  # a failed batch with failed line items paid nothing
        # the same line item executed before its batch failed: its money went out, and the
        # affiliate's commissions were paid by it as well as by nothing else yet: still fine
        conn.execute("""UPDATE "Payout" SET status = 'COMPLETED' WHERE id = %s""",
                     (failed["id"],))
    assert line_rows(recon) == []
    with psycopg.connect(url, row_factory=dict_row) as conn:
        # and then raised: more than the affiliate ever earned went out
        earned = conn.execute(
            'SELECT sum(amount) AS earned FROM "Commission" WHERE "affiliateId" = %s '
            "AND status <> 'CANCELLED'", (failed["affiliateId"],)).fetchone()["earned"]
        paid = conn.execute(
            """SELECT sum(po.amount) AS paid FROM "Payout" po LEFT JOIN "PayoutBatch" b
               ON b.id = po."batchId" WHERE po."affiliateId" = %s AND (po.status = 'COMPLETED'
               OR (po.status NOT IN ('FAILED', 'CANCELLED')
                   AND b.status NOT IN ('FAILED', 'CANCELLED')))""",
            (failed["affiliateId"],)).fetchone()["paid"]
        raise_by = earned - paid + Decimal("0.01")
        conn.execute('UPDATE "Payout" SET amount = amount + %s WHERE id = %s',
                     (raise_by, failed["id"]))
    rows = line_rows(recon)
    # the executed line item paid more than its commissions in the (failed) batch as well
    assert [(r[1], r[2], r[5]) for r in rows] == [
        (failed["affiliateId"], "line_amount", raise_by),
        (failed["affiliateId"], "overpaid", Decimal("0.010000"))]


def test_on_the_contract_platform_it_is_unavailable_and_changes_nothing(recon):
    run = recon.checks.run(only=[CHECK, "ledger_balance"], store=False)
    result = run.by_name()[CHECK]
    assert result.status == "unavailable"
    assert result.reason == f"{CONTRACT_ABSENT['payout_items']} (profile contract)"
    assert run.by_name()["ledger_balance"].status == "pass"
    assert run.status == "pass"  # an unavailable check never changes the run's status


def own_profile(tmp_path: Path, edit) -> Path:
    text = (project_root() / "profiles" / "sge.yml").read_text()
    path = tmp_path / "mine.yml"
    path.write_text(edit(text))
    return path


def without_line_items(text: str) -> str:
    start = text.index("  payout_items:\n")
    end = text.index("  payout_approvals:\n")
    return text[:start] + text[end:]


def test_a_profile_that_maps_no_line_items_leaves_the_check_unavailable(new_database, tmp_path):
    url, _ = sge_database(new_database, intents=200)
    recon = Recon(settings_for(url, PLATFORM_PROFILE=str(own_profile(tmp_path,
                                                                     without_line_items))))
    recon.init_db()
    result = recon.checks.run(only=[CHECK], store=False).by_name()[CHECK]
    assert (result.status, result.reason) == (
        "unavailable", f"{NOT_MAPPED['payout_items']} (profile sge)")


def test_a_line_item_status_the_profile_does_not_map_is_refused_by_db_init(new_database,
                                                                          tmp_path):
    url, _ = sge_database(new_database, intents=200)
    path = own_profile(tmp_path, lambda t: t.replace("          APPROVED: pending\n", "", 1))
    recon = Recon(settings_for(url, PLATFORM_PROFILE=str(path)))
    with pytest.raises(ProfileError, match="APPROVED") as caught:
        recon.init_db()
    assert "payout_items" in str(caught.value)


def test_the_payouts_page_shows_what_the_platform_pays_and_refuses_a_batch_that_differs(sge):
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, (first, second, *_) = pending_lines(conn)
    found = recon.console.payout_batch(batch)
    assert found["consistent"], found["problems"]
    assert all(line["platform_pays"] == line["amount"] for line in found["lines"])
    shown_total = found["batch"]["total_amount"]
    shown_affiliates = found["batch"]["affiliate_count"]
    assert recon.console.unlike_shown(batch, shown_total, shown_affiliates) is None

    with psycopg.connect(url) as conn:
        conn.execute('UPDATE "Payout" SET amount = amount + 7.25 WHERE id = %s', (first["id"],))
        conn.execute('UPDATE "Payout" SET amount = amount - 7.25 WHERE id = %s', (second["id"],))
    found = recon.console.payout_batch(batch)
    assert not found["consistent"]
    assert found["batch"]["total_amount"] == shown_total  # the total did not move
    assert found["problems"] == [
        f"affiliate {line['affiliateId']} is paid "
        f"{money_exact(max(line['amount'] + delta, Decimal(0)))} by the "
        f"platform's line items but has {money_exact(line['amount'])} of commissions in this batch"
        for line, delta in sorted([(first, Decimal("7.25")), (second, Decimal("-7.25"))],
                                  key=lambda pair: pair[0]["affiliateId"])]
    # the confirm dialog's guard: approving or executing what was shown is refused, nothing sent
    refusal = recon.console.unlike_shown(batch, shown_total, shown_affiliates)
    assert refusal is not None and "does not add up now" in refusal
    assert first["affiliateId"] in refusal and second["affiliateId"] in refusal


def test_the_payouts_page_on_the_contract_platform_reads_no_line_items(recon, factory):
    program = factory.program()
    batch = factory.payout_batch(program["id"], total_amount=Decimal("0"))
    found = recon.console.payout_batch(batch["id"])
    assert found["items"] is None
    assert all("platform_pays" not in line for line in found["lines"])


def test_a_line_item_sending_its_money_elsewhere_than_the_affiliates_wallet_fails(sge):
    """The helper audit's finding 4: a pending line item's destination changed to another
    address passed every check and the Payouts page. Compared without case (an EVM address's
    case is its checksum); a paid line item is not compared (the wallet then is not known)."""
    url, recon = sge
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, (line, other, *_) = pending_lines(conn)
        conn.execute('UPDATE "Payout" SET destination = upper(destination) WHERE id = %s',
                     (other["id"],))  # the same address in checksum case: fine
        assert line_rows(recon) == []
        conn.execute('UPDATE "Payout" SET destination = %s WHERE id = %s',
                     ("0xA77ACKE400000000000000000000000000000000", line["id"]))
    assert line_rows(recon) == [
        (batch, line["affiliateId"], "destination", line["amount"], None, None)]
    found = recon.console.payout_batch(batch)
    assert found["problems"] == [
        f"affiliate {line['affiliateId']}'s line item sends its money to "
        f"'0xA77ACKE400000000000000000000000000000000', not to the affiliate's wallet "
        f"{line['destination']!r}"]
    refusal = recon.console.unlike_shown(batch, found["batch"]["total_amount"],
                                         found["batch"]["affiliate_count"])
    assert refusal is not None and "0xA77ACKE4" in refusal

    # paid (by the platform's own code): no longer compared, the money went where it went
    with psycopg.connect(url, row_factory=dict_row) as conn:
        execute_as_sge(conn, batch)
    assert line_rows(recon) == []
