"""The invariant checker itself: silent on a clean platform, and it catches each way money could be
paid twice or duplicated (planted with the factories, bypassing the API on purpose)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .invariants import LIVENESS_CHECKS, check_invariants
from .test_faults_platform import accrued_batch


def test_a_clean_platform_holds_every_invariant(factory, db_url):
    accrued_batch(factory)
    report = check_invariants(db_url, expected=LIVENESS_CHECKS, settle=True)
    assert report and report.checks_run >= 17  # 14 checks + 4 rules


def pay(factory, setup, times: int = 1) -> None:
    batch = setup["batch"]
    factory.db.execute("UPDATE public.payout_batches SET status = 'executed' WHERE id = %s",
                       (batch["id"],))
    if not factory.db.fetch_all("SELECT 1 FROM public.payout_approvals WHERE batch_id = %s",
                                (batch["id"],)):
        factory.approval(batch["id"], "approver_1@aaaa")  # the two-person rule, as the API does
        factory.approval(batch["id"], "approver_2@bbbb")
    factory.db.execute("UPDATE public.commissions SET status = 'paid' WHERE payout_batch_id = %s",
                       (batch["id"],))
    owed = factory.db.fetch_all("SELECT affiliate_id, sum(amount) AS amount FROM public.commissions"
                                " WHERE payout_batch_id = %s GROUP BY 1", (batch["id"],))
    for _ in range(times):
        for row in owed:
            factory.journal(batch["program_id"], [(f"affiliate:{row['affiliate_id']}", "debit",
                                                   row["amount"]), ("treasury", "credit",
                                                                    row["amount"])],
                            transaction_id=f"txn_payout_{batch['id']}")


def test_one_payout_holds_and_a_second_one_is_caught(factory, db_url):
    setup = accrued_batch(factory)
    pay(factory, setup)
    assert check_invariants(db_url, expected=LIVENESS_CHECKS)
    pay(factory, setup)  # the same batch journalled again
    broken = check_invariants(db_url, expected=LIVENESS_CHECKS).broken
    assert any(b.startswith("no payout twice") for b in broken), broken


def test_a_payout_journal_of_a_batch_never_executed_is_caught(factory, db_url):
    setup = accrued_batch(factory)
    factory.journal(setup["program"]["id"], [("affiliate:x", "debit", "1.50"),
                                             ("treasury", "credit", "1.50")],
                    transaction_id=f"txn_payout_{setup['batch']['id']}")
    broken = check_invariants(db_url, expected=LIVENESS_CHECKS | {"commission_ledger"}).broken
    assert any(b.startswith("no payout twice") for b in broken), broken


@pytest.mark.parametrize("fault", ["entry_twice", "second_settlement", "money_without_completion"])
def test_duplicate_money_for_an_intent_is_caught(factory, db_url, fault):
    program = factory.program()
    user = factory.user(program["id"])
    status = "processing" if fault == "money_without_completion" else "completed"
    intent = factory.intent(program["id"], user["id"], status=status)
    factory.settlement(intent["id"], program["id"])
    entries = [(f"user:{user['id']}", "debit", "100.00"), ("treasury", "credit", "100.00")]
    if fault == "entry_twice":
        entries += entries
    factory.journal(program["id"], entries, intent_id=intent["id"])
    if fault == "second_settlement":
        factory.db.execute("ALTER TABLE public.settlements DROP CONSTRAINT IF EXISTS"
                           " settlements_intent_id_key")
        factory.settlement(intent["id"], program["id"])
    report = check_invariants(db_url, expected=set(LIVENESS_CHECKS) | {
        "settlement_chain_match"})
    assert any(b.startswith("no duplicate ledger entries") for b in report.broken), report.broken


def test_an_unbalanced_journal_and_a_lost_intent_are_caught(factory, db_url):
    program = factory.program()
    user = factory.user(program["id"])
    factory.journal(program["id"], [("treasury", "debit", Decimal("10.00")),
                                    ("user:u", "credit", Decimal("9.99"))])
    factory.intent(program["id"], user["id"], status="processing")  # no job will ever take it
    report = check_invariants(db_url, expected=LIVENESS_CHECKS, settle=True)
    assert any(b.startswith("every ledger transaction balances") for b in report.broken)
    assert any(b.startswith("check ledger_balance is fail") for b in report.broken)
    assert any(b.startswith("every intent completed or retryable") for b in report.broken)
