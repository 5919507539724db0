"""A CANCELLED commission on the SGE platform (CommissionStatus has ACCRUED, PAYABLE, PAID,
CANCELLED; the `sge` profile maps it to `cancelled`). It is not owed: it is no unknown status
(platform_data_integrity), it counts in no batch total (payout_batch_total, the console's line
items), its rate and amount are not judged as owed (commission_accuracy), and a cancelled copy
pays nothing twice (commission_duplicates). One that was paid, or sits in a batch that will pay
it, is flagged. Real PostgreSQL, the SGE stand-in's Prisma-shaped tables, the real profile."""

from __future__ import annotations

import pytest

from sge_recon.db import Database

from .test_profile_sge import sge_database, sge_recon


def one(db: Database, sql: str) -> str:
    row = db.fetch_one(sql)
    assert row is not None, sql
    return row["id"]


@pytest.fixture(scope="module")
def cancelled(new_database):
    url, _ = sge_database(new_database, intents=400)
    db = Database(url)
    ids = {
        # accrued, never batched; cancelled because its rate was wrong (the usual reason)
        "wrong_rate": one(db, """SELECT id FROM "Commission" WHERE status = 'ACCRUED'
                                 AND "payoutId" IS NULL ORDER BY id LIMIT 1"""),
        "copied": one(db, """SELECT id FROM "Commission" WHERE status = 'ACCRUED'
                             AND "payoutId" IS NULL ORDER BY id OFFSET 1 LIMIT 1"""),
        # paid through a COMPLETED batch, then cancelled: money went out for it
        "paid": one(db, """SELECT c.id FROM "Commission" c JOIN "Payout" p ON p.id = c."payoutId"
                           JOIN "PayoutBatch" b ON b.id = p."batchId"
                           WHERE c.status = 'PAID' AND b.status = 'COMPLETED'
                           ORDER BY c.id LIMIT 1"""),
        # in a batch still PENDING approval: its line item would pay it
        "pending": one(db, """SELECT c.id FROM "Commission" c JOIN "Payout" p ON p.id = c."payoutId"
                              JOIN "PayoutBatch" b ON b.id = p."batchId"
                              WHERE c.status = 'PAYABLE' AND b.status = 'PENDING'
                              ORDER BY c.id LIMIT 1"""),
    }
    with db.transaction() as conn:
        conn.execute("""UPDATE "Commission" SET status = 'CANCELLED', rate = rate + 1
                        WHERE id = %s""", (ids["wrong_rate"],))
        conn.execute("""UPDATE "Commission" SET status = 'CANCELLED'
                        WHERE id = ANY(%s)""", ([ids["paid"], ids["pending"]],))
        # a cancelled second commission for the same settlement and type
        conn.execute("""INSERT INTO "Commission" (id, "programId", "settlementId", "affiliateId",
                            "overrideAffiliateId", "commissionType", rate, "baseAmount", amount,
                            currency, status, "createdAt", "updatedAt")
                        SELECT id || 'x', "programId", "settlementId", "affiliateId",
                               "overrideAffiliateId", "commissionType", rate, "baseAmount", amount,
                               currency, 'CANCELLED', "createdAt", "updatedAt"
                        FROM "Commission" WHERE id = %s""", (ids["copied"],))
    # (batch, amount) of the two cancelled commissions still in a batch
    held = {key: tuple(db.fetch_one(
        """SELECT p."batchId" AS batch, c.amount FROM "Commission" c
           JOIN "Payout" p ON p.id = c."payoutId" WHERE c.id = %s""", (ids[key],)).values())
        for key in ("paid", "pending")}
    recon = sge_recon(url)
    run = recon.checks.run(trigger="test")
    return recon, run.by_name(), ids, held


def test_a_cancelled_commission_is_a_known_status_and_one_paid_or_batched_is_flagged(cancelled):
    _, results, ids, _ = cancelled
    rows = [r for r in results["platform_data_integrity"].rows if r["table"] == "commissions"]
    assert not [r for r in rows if r["problem"] == "unknown_status"], rows
    assert sorted((r["id"], r["problem"]) for r in rows) == sorted([
        (ids["paid"], "cancelled_but_paid"), (ids["pending"], "cancelled_in_batch")])


def test_a_cancelled_commission_is_not_judged_as_owed(cancelled):
    _, results, ids, _ = cancelled
    accuracy = {r["commission_id"] for r in results["commission_accuracy"].rows}
    assert ids["wrong_rate"] not in accuracy, results["commission_accuracy"].rows
    duplicates = results["commission_duplicates"].rows
    assert not [r for r in duplicates if ids["copied"] in r["commission_ids"]], duplicates


def test_a_batch_holding_a_cancelled_commission_pays_more_than_is_owed(cancelled):
    recon, results, _, held = cancelled
    rows = results["payout_batch_total"].rows
    assert sorted((r["batch_id"], r["difference"]) for r in rows) == sorted(held.values()), rows
    found = recon.console.payout_batch(held["pending"][0])
    assert found is not None
    assert found["lines_total"] == found["batch"]["total_amount"] - held["pending"][1]
    problems = " ".join(found["problems"])
    assert "differs from the sum of its commissions" in problems, found["problems"]
    shown = {c["commission_id"]: c["status"] for c in found["commissions"]}
    assert "cancelled" in shown.values()  # still listed, as cancelled


def test_the_audit_export_states_what_was_cancelled(cancelled, tmp_path):
    """commissions_by_affiliate (audit.duckdb): total = accrued + payable + paid + cancelled, so
    an auditor sees the cancelled money instead of a total its parts do not add up to."""
    import duckdb

    recon, _, ids, held = cancelled
    row = Database(recon.settings.DATABASE_URL).fetch_one(
        'SELECT "affiliateId" AS affiliate, "createdAt" AS at, amount FROM "Commission"'
        " WHERE id = %s", (ids["paid"],))
    result = recon.exports.export(row["at"].strftime("%Y-%m"), out_dir=tmp_path, force=True)
    con = duckdb.connect(str(result.directory / "audit.duckdb"), read_only=True)
    con.execute(f"SET file_search_path = '{result.directory}'")
    total, parts, gone = con.execute(
        "SELECT total_amount, accrued_amount + payable_amount + paid_amount, cancelled_amount"
        " FROM commissions_by_affiliate WHERE affiliate_id = ?", [row["affiliate"]]).fetchone()
    assert gone >= row["amount"] > 0
    assert total == parts + gone


def test_the_spot_check_does_not_call_a_cancelled_commission_wrong(cancelled):
    """The Trends page's spot-check agrees with commission_accuracy: a cancelled commission
    (withdrawn for its wrong rate) is shown, as cancelled, not as a mismatch."""
    recon, _, ids, _ = cancelled
    rows = recon.console.commission_spot_check(sample=100_000)  # every settlement
    mine = [r for r in rows if r["commission_id"] == ids["wrong_rate"]]
    assert [(r["status"], r["matches"]) for r in mine] == [("cancelled", None)]


@pytest.mark.parametrize("first, copy, expected", [
    ("COMPLETED", "COMPLETED", "cancelled_but_paid"),
    ("COMPLETED", "FAILED", "cancelled_but_paid"),
    ("PENDING", "COMPLETED", "cancelled_but_paid"),
    ("FAILED", "APPROVED", "cancelled_in_batch"),
])
def test_a_batch_id_the_profile_repeats_names_each_problem_of_its_commission_once(
        new_database, first, copy, expected):
    """A profile's payout_batches may repeat an id (a `from:` join, a platform table without a
    key). Joined to a cancelled commission, each copy repeated each of the commission's problems
    (a correlated subquery raised an error instead): one row per (table, id, problem), paid by
    any copy is paid, else held by any copy is held."""
    url, _ = sge_database(new_database, intents=200)
    db = Database(url)
    commission, batch = db.fetch_one(
        """SELECT c.id, p."batchId" AS batch FROM "Commission" c
           JOIN "Payout" p ON p.id = c."payoutId" JOIN "PayoutBatch" b ON b.id = p."batchId"
           WHERE b.status = 'COMPLETED' ORDER BY c.id LIMIT 1""").values()
    with db.transaction() as conn:
        conn.execute('ALTER TABLE "PayoutBatch" DROP CONSTRAINT "PayoutBatch_pkey" CASCADE')
        conn.execute('DROP INDEX "PayoutBatch_programId_period_key"')
        conn.execute("""UPDATE "PayoutBatch" SET status = %s WHERE id = %s""", (first, batch))
        conn.execute("""INSERT INTO "PayoutBatch" SELECT * FROM "PayoutBatch" WHERE id = %s""",
                     (batch,))
        conn.execute("""UPDATE "PayoutBatch" SET status = %s WHERE ctid = (
                            SELECT max(ctid) FROM "PayoutBatch" WHERE id = %s)""",
                     (copy, batch))
        conn.execute("""UPDATE "Commission" SET status = 'CANCELLED', amount = -amount
                        WHERE id = %s""", (commission,))
    result = sge_recon(url).checks.run(only=["platform_data_integrity"],
                                       store=False).by_name()["platform_data_integrity"]
    assert result.status == "fail", result.error
    mine = sorted(r["problem"] for r in result.rows if r["id"] == commission)
    assert mine == sorted([expected, "negative_amount"]), mine
