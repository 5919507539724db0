"""No false green: NULLs, odd values, extreme amounts and the catalogue's former blind spots, each
planted in the real PostgreSQL, must fail a check with the exact rows (never pass, never error).

The platform schema here is loosened first (NOT NULL and CHECK constraints dropped) because a real
platform's schema may lack them (DESIGN §4 only names columns and meanings)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sge_recon.db import CONTRACT, Database

from .factories import ago, now
from .test_checks_catalogue import run_one

_PLATFORM_TABLES = ", ".join(f"public.{t}" for t in CONTRACT if t != "queue_control")

LOOSEN = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
             WHERE contype = 'c' AND connamespace = 'public'::regnamespace LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.conname);
    END LOOP;
    FOR r IN SELECT a.attrelid::regclass AS tbl, a.attname FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
               AND a.attnum > 0 AND a.attnotnull AND NOT a.attisdropped
               AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid
                               AND i.indisprimary AND a.attnum = ANY (i.indkey)) LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP NOT NULL', r.tbl, r.attname);
    END LOOP;
END $$;
"""


@pytest.fixture(scope="module")
def loose_db_url(module_db_url):
    Database(module_db_url).execute(LOOSEN)
    return module_db_url


@pytest.fixture
def db_url(loose_db_url):
    Database(loose_db_url).execute(f"TRUNCATE {_PLATFORM_TABLES} RESTART IDENTITY")
    return loose_db_url


@pytest.fixture
def program(factory):
    return factory.program()


def entry(factory, program_id, txn, account, kind, amount, currency="USD", **kw):
    return factory.insert("ledger_entries", {
        "program_id": program_id, "transaction_id": txn, "account": account, "type": kind,
        "amount": None if amount is None else Decimal(str(amount)), "currency": currency, **kw})


def problems(result) -> set[tuple]:
    return {(r["table"], r["id"], r["problem"]) for r in result.rows}


# -- NULLs and odd values never make a check pass -------------------------------------------------
def test_a_null_currency_cannot_balance_a_transaction(recon, factory, program):
    debit = entry(factory, program["id"], "txn_nullcur", "treasury", "debit", "10")
    credit = entry(factory, program["id"], "txn_nullcur", "user:u1", "credit", "10", None)
    result = run_one(recon, "transaction_balance")
    assert result.status == "fail"
    assert {(r["transaction_id"], r["currency"], r["difference"]) for r in result.rows} == {
        ("txn_nullcur", "USD", Decimal("10.000000")), ("txn_nullcur", None, Decimal("-10.000000"))}
    assert run_one(recon, "ledger_balance").failing_rows == 2
    integrity = run_one(recon, "platform_data_integrity")
    assert problems(integrity) == {("ledger_entries", str(credit["id"]), "null_currency")}
    assert debit["id"] != credit["id"]


def test_null_zero_and_negative_amounts_and_unknown_types_are_flagged(recon, factory, program):
    rows = [entry(factory, program["id"], "txn_odd", "treasury", "debit", "10"),
            entry(factory, program["id"], "txn_odd", "treasury", "debit", "-10"),
            entry(factory, program["id"], "txn_odd", "user:u1", "credit", None),
            entry(factory, program["id"], "txn_odd", "user:u1", "credit", "0"),
            entry(factory, program["id"], "txn_odd", "user:u1", "refund", "5")]
    integrity = run_one(recon, "platform_data_integrity")
    assert integrity.status == "fail"
    assert problems(integrity) == {
        ("ledger_entries", str(rows[1]["id"]), "non_positive_amount"),
        ("ledger_entries", str(rows[2]["id"]), "null_amount"),
        ("ledger_entries", str(rows[3]["id"]), "non_positive_amount"),
        ("ledger_entries", str(rows[4]["id"]), "unknown_type")}
    run = recon.checks.run(store=False)
    assert run.status == "fail" and run.exit_code() == 2


def test_nan_amounts_are_flagged_in_every_money_table(recon, factory, program):
    """numeric 'NaN' passes `amount > 0` (and the contract's CHECK) in PostgreSQL and turns every
    sum it joins into NaN: it is corrupt money, named per table, never a silent pass."""
    nan = Decimal("NaN")
    fine = entry(factory, program["id"], "txn_nan", "treasury", "debit", "10")
    bad = entry(factory, program["id"], "txn_nan", "user:u1", "credit", nan)
    user = factory.user(program["id"])
    intent = factory.intent(program["id"], user["id"], amount=nan, status="processing")
    settlement = factory.settlement(intent["id"], program["id"], amount=nan)
    commission = factory.commission(program["id"], "aff_nan", intent["id"], amount=nan)
    batch = factory.payout_batch(program["id"], total_amount=nan)
    integrity = run_one(recon, "platform_data_integrity")
    assert integrity.status == "fail"
    assert problems(integrity) == {
        ("ledger_entries", str(bad["id"]), "nan_amount"),
        ("settlement_intents", intent["id"], "nan_amount"),
        ("settlements", settlement["id"], "nan_amount"),
        ("commissions", commission["id"], "nan_amount"),
        ("payout_batches", batch["id"], "nan_amount")}
    assert fine["id"] != bad["id"]


def test_impossible_completions_never_mask_processing_time(recon, factory, program):
    user = factory.user(program["id"])
    done = ago(seconds=20)
    slow = factory.intent(program["id"], user["id"], created_at=done - timedelta(seconds=60),
                          completed_at=done)
    future = [factory.intent(program["id"], user["id"], created_at=ago(seconds=2),
                             completed_at=datetime(2099, 1, 1, tzinfo=timezone.utc))
              for _ in range(100)]
    inverted = factory.intent(program["id"], user["id"], created_at=now(),
                              completed_at=ago(hours=1))
    result = run_one(recon, "processing_time")
    assert (result.status, result.value) == ("fail", Decimal("60"))
    integrity = run_one(recon, "platform_data_integrity")
    assert integrity.failing_rows == 101  # the count is exact; the sample holds 100
    flagged = problems(integrity)
    assert ("settlement_intents", inverted["id"], "completed_before_created") in flagged
    assert flagged <= {("settlement_intents", i["id"], "future_timestamp") for i in future} | {
        ("settlement_intents", inverted["id"], "completed_before_created")}
    assert slow["id"] not in {r[1] for r in flagged}


def test_unknown_statuses_and_missing_values_of_intents(recon, factory, program):
    user = factory.user(program["id"])
    odd = factory.intent(program["id"], user["id"], status="settled", created_at=ago(seconds=5),
                         completed_at=now())
    nulls = factory.intent(program["id"], user["id"], amount=None, currency=None,
                           completed_at=None)
    assert problems(run_one(recon, "platform_data_integrity")) == {
        ("settlement_intents", odd["id"], "unknown_status"),
        ("settlement_intents", nulls["id"], "null_amount"),
        ("settlement_intents", nulls["id"], "null_currency"),
        ("settlement_intents", nulls["id"], "completed_without_time")}


def test_sums_beyond_numeric_38_6_fail_instead_of_erroring(recon, factory, program):
    huge = "99999999999999999999999999999999.000000"  # 32 digits: a valid numeric(38,6)
    factory.journal(program["id"], [("treasury", "debit", huge), ("treasury", "debit", huge),
                                    ("user:u1", "credit", huge)], transaction_id="txn_huge")
    ledger = run_one(recon, "ledger_balance")
    assert ledger.status == "fail"
    assert ledger.to_json()["rows"][0]["difference"] == huge
    assert ledger.to_json()["rows"][0]["total_debits"] == "1" + "9" * 31 + "8.000000"
    txn = run_one(recon, "transaction_balance")
    assert txn.status == "fail" and txn.to_json()["rows"][0]["difference"] == huge


# -- settlement_chain_match: duplicate claims, wrong recipients, letter case ----------------------
def test_settlement_chain_match_new_problems(recon, factory, program):
    user = factory.user(program["id"])
    treasury = program["treasury_address"]

    def settled(**kw):
        return factory.settlement(factory.intent(program["id"], user["id"])["id"], program["id"],
                                  **kw)
    good = settled()
    factory.chain_tx(good["tx_hash"], treasury, good["amount"])
    assert run_one(recon, "settlement_chain_match").status == "pass"

    first = settled(tx_hash="0xshared")
    second = settled(tx_hash="0xshared")
    factory.chain_tx("0xshared", treasury, Decimal("100.00"))
    elsewhere = settled()
    factory.chain_tx(elsewhere["tx_hash"], "0xattacker", elsewhere["amount"])
    cased = settled()
    factory.chain_tx(cased["tx_hash"], treasury.upper(), cased["amount"])
    factory.chain_tx("0xunclaimed_upper", treasury.upper(), Decimal("3"))
    result = run_one(recon, "settlement_chain_match")
    assert {(r["settlement_id"], r["tx_hash"], r["problem"]) for r in result.rows} == {
        (first["id"], "0xshared", "duplicate_claim"),
        (second["id"], "0xshared", "duplicate_claim"),
        (elsewhere["id"], elsewhere["tx_hash"], "wrong_recipient"),
        (cased["id"], cased["tx_hash"], "wrong_recipient"),
        (None, "0xunclaimed_upper", "unknown_transfer")}


def test_a_null_chain_amount_is_a_mismatch(recon, factory, program):
    user = factory.user(program["id"])
    s = factory.settlement(factory.intent(program["id"], user["id"])["id"], program["id"])
    factory.chain_tx(s["tx_hash"], program["treasury_address"], None)
    result = run_one(recon, "settlement_chain_match")
    assert [(r["settlement_id"], r["problem"]) for r in result.rows] == [
        (s["id"], "amount_mismatch")]


# -- journals, intents, commissions, batches ------------------------------------------------------
def test_journal_spanning_two_programs(recon, factory, program):
    other = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "5"), ("user:u1", "credit", "5")])
    assert run_one(recon, "journal_single_program").status == "pass"
    entry(factory, program["id"], "txn_two", "treasury", "debit", "7")
    entry(factory, other["id"], "txn_two", "user:u1", "credit", "7")
    result = run_one(recon, "journal_single_program")
    assert result.to_json()["rows"] == [{
        "transaction_id": "txn_two", "programs": 2, "entries": 2,
        "program_ids": ", ".join(sorted([program["id"], other["id"]]))}]
    assert run_one(recon, "transaction_balance").status == "pass"  # what it used to hide


def test_completed_intent_without_settlement_or_journal(recon, factory, program):
    user = factory.user(program["id"])
    whole = factory.intent(program["id"], user["id"], completed_at=now())
    factory.settlement(whole["id"], program["id"])
    factory.journal(program["id"], [("user:" + user["id"], "debit", "100"),
                                    ("treasury", "credit", "100")], intent_id=whole["id"])
    factory.intent(program["id"], user["id"], status="processing")  # not completed: fine
    assert run_one(recon, "intent_completion").status == "pass"
    bare = factory.intent(program["id"], user["id"], completed_at=now())
    unbooked = factory.intent(program["id"], user["id"], completed_at=now())
    factory.settlement(unbooked["id"], program["id"])
    result = run_one(recon, "intent_completion")
    assert {(r["intent_id"], r["problem"]) for r in result.rows} == {
        (bare["id"], "no_settlement"), (bare["id"], "no_journal"),
        (unbooked["id"], "no_journal")}


def test_duplicate_commissions_for_one_intent_and_level(recon, factory, program):
    aff = factory.affiliate(program["id"])
    factory.commission(program["id"], aff["id"], "int_a", level=1)
    factory.commission(program["id"], aff["id"], "int_a", level=2, rate=Decimal("0.005"),
                       amount=Decimal("0.50"))
    assert run_one(recon, "commission_duplicates").status == "pass"
    c1 = factory.commission(program["id"], aff["id"], "int_b", level=1)
    c2 = factory.commission(program["id"], aff["id"], "int_b", level=1)
    result = run_one(recon, "commission_duplicates")
    assert result.to_json()["rows"] == [{
        "intent_id": "int_b", "level": 1, "program_id": program["id"], "commissions": 2,
        "commission_ids": f"{c1['id']}, {c2['id']}", "total_amount": "2.000000"}]


def test_batch_total_must_equal_its_commissions(recon, factory, program):
    aff = factory.affiliate(program["id"])
    right = factory.payout_batch(program["id"], total_amount=Decimal("3.00"))
    wrong = factory.payout_batch(program["id"], total_amount=Decimal("5.00"))
    factory.payout_batch(program["id"], status="rejected", total_amount=Decimal("9"))
    for batch in (right, wrong):
        for amount in ("1.00", "2.00"):
            factory.commission(program["id"], aff["id"], factory.uid("int"),
                               amount=Decimal(amount), payout_batch_id=batch["id"])
    result = run_one(recon, "payout_batch_total")
    assert result.to_json()["rows"] == [{
        "batch_id": wrong["id"], "program_id": program["id"], "status": "pending_approval",
        "total_amount": "5.000000", "commissions_total": "3.000000", "difference": "2.000000"}]


def test_batches_approved_or_executed_without_two_approvals(recon, factory, program):
    ok = factory.payout_batch(program["id"], status="executed", total_amount=Decimal("0"))
    factory.approval(ok["id"], "approver_1@aaaa")
    factory.approval(ok["id"], "approver_2@bbbb")
    factory.payout_batch(program["id"], status="pending_approval", total_amount=Decimal("0"))
    one = factory.payout_batch(program["id"], status="approved", total_amount=Decimal("0"))
    factory.approval(one["id"], "approver_1@aaaa")
    none = factory.payout_batch(program["id"], status="executed", total_amount=Decimal("0"),
                                approved_at=ago(hours=1) + timedelta(minutes=1))
    result = run_one(recon, "payout_approval_quorum")
    assert {(r["batch_id"], r["status"], r["approvals"]) for r in result.rows} == {
        (one["id"], "approved", 1), (none["id"], "executed", 0)}


# -- GX parity on the new faults ------------------------------------------------------------------
@pytest.mark.slow  # imports Great Expectations (~5 s)
def test_sql_and_gx_agree_on_every_new_fault(recon, factory, program):
    from .test_checks_gx import comparable

    other = factory.program()
    user = factory.user(program["id"])
    intent = factory.intent(program["id"], user["id"], created_at=ago(seconds=5),
                            completed_at=now())
    shared = [factory.settlement(factory.intent(program["id"], user["id"])["id"], program["id"],
                                 tx_hash="0xshared") for _ in range(2)]
    factory.chain_tx("0xshared", program["treasury_address"].upper(), Decimal("100.00"))
    entry(factory, program["id"], "txn_two", "treasury", "debit", "7")
    entry(factory, other["id"], "txn_two", "user:u1", "credit", None)
    aff = factory.affiliate(program["id"])
    for _ in range(2):
        factory.commission(program["id"], aff["id"], intent["id"], level=1)
    factory.payout_batch(program["id"], status="executed", total_amount=Decimal("9"))
    names = ["platform_data_integrity", "settlement_chain_match", "journal_single_program",
             "intent_completion", "commission_duplicates", "payout_batch_total",
             "payout_approval_quorum", "transaction_balance", "ledger_balance", "affiliate_tree"]
    sql = recon.checks.run(only=names, store=False)
    gx = recon.checks.run(only=names, engine="gx", store=False)
    for s, g in zip(sql.checks, gx.checks):
        assert s.name == g.name and comparable(g) == comparable(s), s.name
    assert {c.name for c in sql.checks if c.status == "fail"} == set(names) - {"affiliate_tree"}
    assert len(shared) == 2


def test_the_per_minute_run_never_passes_a_null_currency_either(recon, factory, program):
    factory.journal(program["id"], [("treasury", "debit", "5"), ("user:u1", "credit", "5")])
    recon.checks.run(fast_only=True, store=False)  # a checkpoint over clean entries
    entry(factory, program["id"], "txn_nullcur", "treasury", "debit", "10")
    entry(factory, program["id"], "txn_nullcur", "user:u1", "credit", "10", None)
    for _ in range(2):  # whether or not the watermark could move over the odd row
        fast = recon.checks.run(fast_only=True, store=False).by_name()
        assert fast["transaction_balance"].status == "fail", fast["transaction_balance"].error
        assert fast["ledger_balance"].status == "fail", fast["ledger_balance"].error
