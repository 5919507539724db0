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


def passing_sge(new_database, check: str):
    """An SGE platform as built, its recon, and ``check`` passing on it before the fault."""
    url, _ = sge_database(new_database, intents=200)
    recon = sge_recon(url)
    assert recon.checks.run(only=[check], store=False).status == "pass"
    return url, recon


def result_of(recon, check: str):
    return recon.checks.run(only=[check], store=False).by_name()[check]


def test_a_line_item_paying_more_than_its_commissions_fails_payout_batch_total(new_database):
    url, recon = passing_sge(new_database, "payout_batch_total")
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batch, line = a_pending_batch(conn)
        # the batch's "totalAmount" and its commissions stay as they were: only what the line
        # item will pay changes (+ 10 000.00)
        conn.execute('UPDATE "Payout" SET amount = amount + 10000 WHERE id = %s', (line["id"],))
    result = result_of(recon, "payout_batch_total")
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


# what SGE's creator can type as X-Admin-Id that SGE takes for someone else and a screen shows as
# their own id: a right-to-left or left-to-right mark after it, an isolate, a soft hyphen or a
# zero-width space inside it, a variation selector, full-width letters and a full-width digit
INVISIBLE_VARIANTS = [lambda i: i + "\u200f", lambda i: "\u200e" + i, lambda i: i + "\u2066",
                      lambda i: i[:3] + "\u00ad" + i[3:], lambda i: i[:2] + "\u200b" + i[2:],
                      lambda i: i + "\ufe0f",
                      lambda i: "".join(chr(ord(ch) + 0xFEE0) if ch.isalpha() else ch
                                        for ch in i)]


def test_a_creator_approving_under_an_invisibly_different_id_is_one_person(new_database):
    """payout_approval_quorum and the console's own pre-send refusal (same_person) read an SGE
    admin id without invisible characters and in NFKC: the creator approving their own batch
    as 'ops:alice' + U+200F is one person, the batch fails the quorum."""
    from sge_recon.console.sge_identity import same_person
    url, _ = sge_database(new_database, intents=200)
    recon = sge_recon(url)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        batches = conn.execute(
            "SELECT id, \"createdById\" FROM \"PayoutBatch\" WHERE status = 'COMPLETED' "
            'AND "createdById" IS NOT NULL ORDER BY id LIMIT %s',
            (len(INVISIBLE_VARIANTS),)).fetchall()
        assert len(batches) == len(INVISIBLE_VARIANTS)
        for batch, variant in zip(batches, INVISIBLE_VARIANTS, strict=True):
            approver = variant(batch["createdById"])
            assert approver != batch["createdById"]
            assert same_person(batch["createdById"], approver), repr(approver)
            conn.execute('UPDATE "PayoutBatch" SET "approvedById" = %s WHERE id = %s',
                         (approver, batch["id"]))
    result = result_of(recon, "payout_approval_quorum")
    assert result.status == "fail"
    assert sorted((r["batch_id"], r["approvals"]) for r in result.rows) == sorted(
        (b["id"], 1) for b in batches)
    # two people stay two
    assert not same_person("ops:alice", "ops:alice2")
    assert not same_person("ops:alice", "ops:al ice")


def test_a_confirmed_intent_whose_settlement_failed_or_was_reversed_is_not_complete(new_database):
    """The contract's settlements are confirmed ones: a CONFIRMED intent whose SGE settlement is
    REVERSED, FAILED or still PENDING has none, and intent_completion fails with no_settlement,
    as it does on the contract platform for a completed intent without a settlement."""
    url, recon = passing_sge(new_database, "intent_completion")
    with psycopg.connect(url, row_factory=dict_row) as conn:
        settled = conn.execute(
            'SELECT s.id, s."intentId" FROM "Settlement" s JOIN "Intent" i ON i.id = s."intentId" '
            "WHERE i.status = 'CONFIRMED' AND s.status = 'CONFIRMED' ORDER BY s.id LIMIT 3"
        ).fetchall()
        for row, status in zip(settled, ("REVERSED", "FAILED", "PENDING"), strict=True):
            conn.execute('UPDATE "Settlement" SET status = %s WHERE id = %s', (status, row["id"]))
    result = result_of(recon, "intent_completion")
    assert result.status == "fail"
    assert sorted((r["intent_id"], r["problem"]) for r in result.rows) == sorted(
        (row["intentId"], "no_settlement") for row in settled)


def test_an_accrual_credited_to_a_bare_affiliate_account_is_not_the_liability(new_database):
    """SGE credits a commission to `affiliate:<id>:liability`, read as the contract's
    `affiliate:<id>`. An accrual credited to a bare `affiliate:<id>` (no SGE account) is not that
    liability: commission_ledger fails for the affiliate, as it does on the contract platform
    when the affiliate's account was not credited."""
    url, recon = passing_sge(new_database, "commission_ledger")
    with psycopg.connect(url, row_factory=dict_row) as conn:
        entry = conn.execute(
            "SELECT e.id, e.account, -e.amount AS amount FROM \"LedgerEntry\" e "
            "WHERE e.\"refType\" = 'COMMISSION' AND e.account LIKE 'affiliate:%:liability' "
            "AND e.amount < 0 ORDER BY e.id LIMIT 1").fetchone()
        bare = entry["account"][:-len(":liability")]
        conn.execute('UPDATE "LedgerEntry" SET account = %s WHERE id = %s', (bare, entry["id"]))
    result = result_of(recon, "commission_ledger")
    assert result.status == "fail"
    [row] = result.rows
    assert row["affiliate_id"] == bare[len("affiliate:"):]
    assert row["commissions_total"] - row["ledger_total"] == entry["amount"]
    with psycopg.connect(url, row_factory=dict_row) as conn:
        shown = conn.execute("SELECT account, platform_account FROM recon_platform.ledger_entries "
                             "WHERE id = %s", (entry["id"],)).fetchone()
    assert shown == {"account": "unmapped:" + bare, "platform_account": bare}


def test_an_infinite_timestamp_hides_no_stuck_intent_and_is_reported(new_database):
    """'-infinity' is a valid timestamp(3): an intent whose "updatedAt" is '-infinity' made
    stuck_intents an error (every other stuck intent hidden with it), one created at '-infinity'
    made processing_time an error, and platform_data_integrity passed both (and a ledger entry
    at '-infinity', which falls in no month's export). Now the stuck ones are reported,
    processing_time is measured, and the three rows are infinite_timestamp."""
    url, _ = sge_database(new_database, intents=200)
    recon = sge_recon(url)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        stuck = conn.execute(
            "UPDATE \"Intent\" SET \"updatedAt\" = now() AT TIME ZONE 'UTC' - interval '2 hours' "
            "WHERE id = (SELECT id FROM \"Intent\" WHERE status = 'PROCESSING' ORDER BY id "
            "LIMIT 1) RETURNING id").fetchone()["id"]
        changed = conn.execute(
            "UPDATE \"Intent\" SET \"updatedAt\" = '-infinity' WHERE id = (SELECT id FROM "
            "\"Intent\" WHERE status = 'PROCESSING' AND id <> %s ORDER BY id LIMIT 1) "
            "RETURNING id", (stuck,)).fetchone()["id"]
        created = conn.execute(
            "UPDATE \"Intent\" SET \"createdAt\" = '-infinity' WHERE id = (SELECT id FROM "
            "\"Intent\" WHERE status = 'CONFIRMED' ORDER BY \"completedAt\" DESC, id LIMIT 1) "
            "RETURNING id").fetchone()["id"]
        entry = conn.execute(
            "UPDATE \"LedgerEntry\" SET \"createdAt\" = '-infinity' WHERE id = (SELECT min(id) "
            "FROM \"LedgerEntry\") RETURNING id").fetchone()["id"]
    run = recon.checks.run(only=["stuck_intents", "processing_time", "platform_data_integrity"],
                           store=False).by_name()
    assert run["stuck_intents"].status == "fail", run["stuck_intents"].error
    assert stuck in {r["intent_id"] for r in run["stuck_intents"].rows}
    assert run["processing_time"].status != "error", run["processing_time"].error
    assert run["processing_time"].value is not None
    infinite = {(r["table"], r["id"]) for r in run["platform_data_integrity"].rows
                if r["problem"] == "infinite_timestamp"}
    assert infinite == {("settlement_intents", changed), ("settlement_intents", created),
                        ("ledger_entries", entry)}
    assert run["platform_data_integrity"].status == "fail"
