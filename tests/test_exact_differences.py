"""A failing check never shows its difference as zero.

On a platform whose amounts are plain ``numeric`` (or the SGE profile's DECIMAL(28,8)), a journal
transaction off by 0.0000001 failed transaction_balance but showed ``difference 0.000000``: every
form of the check rounded to 6 places. The difference is now exact (at least 6 decimals, every
stored decimal kept) in the check's own file, the fused journal pass, the per-minute incremental
form and GX; the columnar engine (DECIMAL(38,6)) refuses such a ledger rather than round it.
Likewise commission_ledger (two totals shown equal), payout_batch_total and ledger_balance's
totals.
"""

from __future__ import annotations

from decimal import Decimal

from .test_checks_catalogue import run_one
from .test_numeric_specials import unconstrained

TINY = Decimal("0.0000001")


def _engines(recon, name: str) -> dict:
    out = {"own file": run_one(recon, name),
           "gx": recon.checks.run(only=[name], engine="gx", store=False).by_name()[name]}
    full = recon.checks.run(store=False).by_name()[name]
    out["full run"] = full
    fast = recon.checks.run(fast_only=True, store=False).by_name()
    if name in fast:
        out["per minute"] = fast[name]
    return out


def test_a_transaction_off_by_a_ten_millionth_shows_it_in_every_form(recon, factory, db_url):
    unconstrained(db_url)
    program = factory.program()
    txn = factory.journal(program["id"], [("treasury", "debit", "1.0000001"),
                                          ("user:u1", "credit", "1")])
    found = _engines(recon, "transaction_balance")
    assert (found["full run"].details or {}).get("fused") == "journal_pass"
    assert "per minute" in found
    for form, result in found.items():
        assert result.status == "fail", (form, result.status, result.error)
        [row] = result.rows
        assert row["transaction_id"] == txn
        assert row["difference"] == TINY, (form, row)
        assert result.to_json()["rows"][0]["difference"] == "0.0000001", form
    # a numeric(38,6) ledger keeps its six decimals as before
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "2.5"), ("user:u1", "credit", "1")])
    rows = run_one(recon, "transaction_balance").to_json()["rows"]
    assert "1.500000" in [r["difference"] for r in rows]


def test_the_columnar_engine_never_rounds_a_tiny_difference_away(recon, factory, db_url):
    unconstrained(db_url)
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "1.0000001"),
                                    ("user:u1", "credit", "1")])
    result = recon.checks.run(only=["transaction_balance"], engine="duckdb",
                              store=False).by_name()["transaction_balance"]
    # DECIMAL(38,6) cannot hold it: an error that says so, never a pass or a 0.000000
    assert result.status == "fail" and [r["difference"] for r in result.rows] == [TINY] \
        or result.status == "error" and "6 decimals" in (result.error or ""), \
        (result.status, result.error, result.rows)


def test_commission_and_payout_totals_that_differ_never_read_equal(recon, factory, db_url):
    unconstrained(db_url)
    program = factory.program()
    affiliate = factory.user(program["id"])
    user = factory.user(program["id"], referred_by=affiliate["id"])
    intent = factory.intent(program["id"], user["id"])
    factory.commission(program["id"], affiliate["id"], intent["id"],
                       amount=Decimal("10.0000001"))
    factory.journal(program["id"], [("treasury", "debit", "10"),
                                    (f"affiliate:{affiliate['id']}", "credit", "10")])
    [row] = run_one(recon, "commission_ledger").rows
    assert (row["commissions_total"], row["ledger_total"]) == (Decimal("10.0000001"),
                                                               Decimal("10.000000"))
    batch = factory.payout_batch(program["id"], total_amount=Decimal("10"))
    user = factory.user(program["id"], referred_by=affiliate["id"])
    intent = factory.intent(program["id"], user["id"])
    factory.commission(program["id"], affiliate["id"], intent["id"], payout_batch_id=batch["id"],
                       amount=Decimal("10.0000001"))
    [row] = run_one(recon, "payout_batch_total").rows
    assert row["difference"] == -TINY, row


def test_under_the_sge_profile_a_decimal_28_8_journal_shows_its_exact_difference(new_database):
    """SGE's amounts are DECIMAL columns; one widened to DECIMAL(28,8) (docs/profiles.md: a wider
    decimal reads the same) holds a journal off by 0.00000001."""
    from sge_recon.db import Database

    from .test_profile_sge import sge_database, sge_recon

    url, _ = sge_database(new_database, intents=200)
    db = Database(url)
    db.execute('ALTER TABLE public."LedgerEntry" ALTER COLUMN amount TYPE DECIMAL(28,8)')
    last = db.fetch_one('SELECT "programId" AS program, id FROM public."LedgerEntry" '
                        'ORDER BY id DESC LIMIT 1')
    program = last["program"]
    for n, (account, amount) in enumerate((("treasury", "1.00000001"), ("fees", "-1"))):
        db.execute('INSERT INTO public."LedgerEntry" (id, "programId", account, counterparty, '
                   'amount, "refType", "refId") VALUES (%s, %s, %s, %s, %s, %s, %s)',
                   (last["id"][:9] + "z" * 15 + str(n), program, account, "x", Decimal(amount), "ADJUSTMENT",
                    "exact-1"))
    recon = sge_recon(url)
    for result in (run_one(recon, "transaction_balance"),
                   recon.checks.run(store=False).by_name()["transaction_balance"]):
        assert result.status == "fail", result.error
        found = {r["transaction_id"]: r["difference"] for r in result.rows}
        assert found.get("ADJUSTMENT:exact-1") == Decimal("0.00000001"), found


def test_an_upgrade_rebuilds_a_checkpoint_that_holds_rounded_differences(recon, factory, db_url,
                                                                         db):
    """The per-minute transaction_balance reads the unbalanced transactions its checkpoint
    recorded; the release before stored their difference rounded to 6 places. db init (migration
    0044) rebuilds such a checkpoint, so the per-minute run shows the exact difference."""
    from .checkpoint_support import settle_checkpoint

    unconstrained(db_url)
    program = factory.program()
    txn = factory.journal(program["id"], [("treasury", "debit", "1.0000001"),
                                          ("user:u1", "credit", "1")])
    settle_checkpoint(recon.db)
    # what the release before recorded, then the upgrade
    db.execute("UPDATE recon.ledger_checkpoint_unbalanced SET difference = round(difference, 6)")
    db.execute("DELETE FROM recon.schema_version WHERE version >= 44")
    recon.init_db()
    fast = recon.checks.run(fast_only=True, store=False).by_name()["transaction_balance"]
    assert fast.status == "fail"
    assert [(r["transaction_id"], r["difference"]) for r in fast.rows] == [(txn, TINY)]
