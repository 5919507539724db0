"""The reference admin API pays only the batch that was approved (DESIGN §6: the API enforces the
two-person rule). A batch whose unpaid commissions no longer add up exactly to its approved total
and affiliate count, in the currency it pays, is refused with 409, audited, and nothing is paid;
also when the commission joins while the execute is in flight. Real PostgreSQL, the real API
over HTTP on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import httpx
import psycopg
import pytest

from .platform_helpers import (
    ADMIN,
    APPROVER_1,
    APPROVER_2,
    bearer,
    hold_table_lock,
    payable_batch,
    running_api,
)


def outcome(db, batch_id: str) -> dict:
    return {
        "batch": db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                              (batch_id,))["status"],
        "paid": db.fetch_one("SELECT count(*) AS n FROM public.commissions "
                             "WHERE payout_batch_id = %s AND status = 'paid'", (batch_id,))["n"],
        "ledger": db.fetch_one("SELECT count(*) AS n FROM public.ledger_entries "
                               "WHERE transaction_id = %s", (f"txn_payout_{batch_id}",))["n"],
        "audit": [(r["status_code"], r["result"]) for r in db.fetch_all(
            "SELECT status_code, result FROM public.admin_audit_log WHERE target = %s "
            "ORDER BY id", (batch_id,))]}


REFUSED = {"batch": "approved", "paid": 0, "ledger": 0, "audit": [(409, "refused")]}


def _extra_commission(factory, made: dict, *, amount=Decimal("1.50"), affiliate_id=None,
                      currency: str | None = None) -> dict:
    program = made["program"]
    user = factory.user(program["id"])
    intent = factory.completed_intent(program, user["id"],
                                      **({"currency": currency} if currency else {}))
    aff = affiliate_id or factory.affiliate(program["id"])["id"]
    return factory.commission(program["id"], aff, intent["id"], amount=amount,
                              base_amount=Decimal("150.00"), rate=Decimal("0.01"),
                              status="payable", payout_batch_id=made["batch"]["id"])


def _execute(url: str, batch_id: str) -> httpx.Response:
    return httpx.post(f"{url}/admin/payouts/batch/{batch_id}/execute", headers=ADMIN, timeout=60)


def test_a_batch_that_adds_up_is_paid(db_url, db, factory):
    made = payable_batch(factory, status="approved")
    with running_api(db_url) as url:
        r = _execute(url, made["batch"]["id"])
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["totalPaid"]) == Decimal("6.00")
    assert outcome(db, made["batch"]["id"]) == {"batch": "executed", "paid": 4, "ledger": 4,
                                                "audit": [(200, "ok")]}


def test_a_batch_earned_in_another_currency_than_its_programs_is_paid_in_that_currency(
        db_url, db, factory):
    """The simulator batches a program's commissions per currency: a batch earned wholly in EUR
    in a USD program is paid in EUR (it was refused as 'earned in EUR cannot be paid in USD',
    and before that refusal it was written to the ledger in USD)."""
    made = payable_batch(factory, status="approved")
    bid = made["batch"]["id"]
    db.execute("UPDATE public.settlement_intents SET currency = 'EUR' WHERE id IN"
               " (SELECT intent_id FROM public.commissions WHERE payout_batch_id = %s)", (bid,))
    with running_api(db_url) as url:
        r = _execute(url, bid)
    assert r.status_code == 200, r.text
    assert r.json()["currency"] == "EUR" and Decimal(r.json()["totalPaid"]) == Decimal("6.00")
    assert {row["currency"] for row in db.fetch_all(
        "SELECT currency FROM public.ledger_entries WHERE transaction_id = %s",
        (f"txn_payout_{bid}",))} == {"EUR"}


@pytest.mark.parametrize("change", ["commission_added", "amount_changed", "moved_to_new_affiliate",
                                    "one_cent_more", "other_currency", "commission_paid_elsewhere"])
def test_a_batch_changed_after_approval_is_refused_and_nothing_is_paid(db_url, db, factory,
                                                                      change):
    made = payable_batch(factory, status="approved")
    bid = made["batch"]["id"]
    one = db.fetch_one("SELECT id, affiliate_id FROM public.commissions WHERE payout_batch_id = %s"
                       " ORDER BY id LIMIT 1", (bid,))
    if change == "commission_added":
        _extra_commission(factory, made)
    elif change == "amount_changed":
        db.execute("UPDATE public.commissions SET amount = amount + 100 WHERE id = %s",
                   (one["id"],))
    elif change == "moved_to_new_affiliate":  # same total, a third affiliate paid
        new = factory.affiliate(made["program"]["id"])
        db.execute("UPDATE public.commissions SET affiliate_id = %s WHERE id = %s",
                   (new["id"], one["id"]))
    elif change == "one_cent_more":  # the smallest difference numeric(38,6) can hold
        db.execute("UPDATE public.commissions SET amount = amount + 0.000001 WHERE id = %s",
                   (one["id"],))
    elif change == "other_currency":  # the total still matches, but not in the paying currency
        db.execute("UPDATE public.settlement_intents SET currency = 'EUR' WHERE id ="
                   " (SELECT intent_id FROM public.commissions WHERE id = %s)", (one["id"],))
    else:  # one commission was paid some other way: the batch would pay less than approved
        db.execute("UPDATE public.commissions SET status = 'paid' WHERE id = %s", (one["id"],))
    with running_api(db_url) as url:
        r = _execute(url, bid)
    assert r.status_code == 409, r.text
    assert "no longer matches what was approved" in r.json()["error"]
    after = outcome(db, bid)
    if change == "commission_paid_elsewhere":
        after["paid"] -= 1
    assert after == REFUSED


def test_an_exact_compare_beyond_28_digits(db_url, db, factory):
    """numeric(38,6) totals above Decimal's default 28 digits still compare exactly."""
    made = payable_batch(factory, affiliates=1, per_affiliate=1, status="approved")
    bid = made["batch"]["id"]
    big = Decimal("12345678901234567890123.000001")
    db.execute("UPDATE public.commissions SET amount = %s WHERE payout_batch_id = %s", (big, bid))
    db.execute("UPDATE public.payout_batches SET total_amount = %s WHERE id = %s",
               (big + Decimal("0.000001"), bid))
    with running_api(db_url) as url:
        r = _execute(url, bid)
    assert r.status_code == 409, r.text
    assert outcome(db, bid) == REFUSED


def _waiting_on_a_lock(db) -> bool:
    return bool(db.fetch_all("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                             " AND query ILIKE %s", ("%public.commissions%",)))


def test_a_commission_added_while_the_execute_is_in_flight_is_not_paid_unseen(db_url, db,
                                                                             factory):
    """The commission is inserted (uncommitted) before the execute reads the batch: the execute
    waits for it, sees it once it commits, and refuses; without the lock it paid the four it saw
    and left the fifth in an executed batch, payable and never paid."""
    made = payable_batch(factory, status="approved")
    bid = made["batch"]["id"]
    program = made["program"]
    user = factory.user(program["id"])
    intent = factory.completed_intent(program, user["id"])
    aff = factory.affiliate(program["id"])
    answers: list[httpx.Response] = []
    with running_api(db_url) as url, psycopg.connect(db_url) as writer:
        writer.execute("INSERT INTO public.commissions (id, program_id, affiliate_id, intent_id,"
                       " level, rate, base_amount, amount, status, payout_batch_id)"
                       " VALUES ('com_in_flight', %s, %s, %s, 1, 0.01, 150, 1.50, 'payable', %s)",
                       (program["id"], aff["id"], intent["id"], bid))
        call = threading.Thread(target=lambda: answers.append(_execute(url, bid)))
        call.start()
        end = time.monotonic() + 15
        while not _waiting_on_a_lock(db) and call.is_alive() and time.monotonic() < end:
            time.sleep(0.05)
        writer.commit()
        call.join(60)
    assert answers and answers[0].status_code == 409, answers and answers[0].text
    assert outcome(db, bid) == REFUSED
    assert db.fetch_one("SELECT status FROM public.commissions WHERE id = 'com_in_flight'"
                        )["status"] == "payable"


def test_a_commission_cannot_join_while_the_batch_is_being_paid(db_url, db, factory):
    """The other order: the execute holds the lock; a commission naming the batch waits until
    the payment is committed, and then sees an executed batch (it was not silently marked paid
    by an UPDATE that re-read the table)."""
    made = payable_batch(factory, status="approved")
    bid = made["batch"]["id"]
    program = made["program"]
    user = factory.user(program["id"])
    intent = factory.completed_intent(program, user["id"])
    aff = factory.affiliate(program["id"])
    with running_api(db_url) as url, psycopg.connect(db_url, autocommit=True) as holder:
        # hold the audit log so the execute stays in flight after taking its locks
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE public.admin_audit_log IN SHARE MODE")
        answers: list[httpx.Response] = []
        call = threading.Thread(target=lambda: answers.append(_execute(url, bid)))
        call.start()
        end = time.monotonic() + 15
        while time.monotonic() < end and not db.fetch_all(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query ILIKE %s", ("%admin_audit_log%",)):
            time.sleep(0.05)
        inserted = threading.Event()

        def insert() -> None:
            with psycopg.connect(db_url) as w:
                w.execute("SET lock_timeout = '1s'")
                try:
                    w.execute("INSERT INTO public.commissions (id, program_id, affiliate_id,"
                              " intent_id, level, rate, base_amount, amount, status,"
                              " payout_batch_id) VALUES ('com_late', %s, %s, %s, 1, 0.01, 150,"
                              " 1.50, 'payable', %s)", (program["id"], aff["id"], intent["id"],
                                                        bid))
                    w.commit()
                    inserted.set()
                except psycopg.errors.LockNotAvailable:
                    w.rollback()
        late = threading.Thread(target=insert)
        late.start()
        late.join(30)
        holder.execute("ROLLBACK")
        call.join(60)
    assert not inserted.is_set()  # it had to wait for the payment
    assert answers and answers[0].status_code == 200, answers and answers[0].text
    assert outcome(db, bid) == {"batch": "executed", "paid": 4, "ledger": 4,
                                "audit": [(200, "ok")]}


@pytest.mark.parametrize("when", ["after_both_approvals", "between_the_approvals"])
def test_a_batch_rewritten_after_an_approval_is_refused_though_it_adds_up(db_url, db, factory,
                                                                          when):
    """A commission joins the batch and its total and affiliate count are rewritten to match:
    the batch adds up, but it is not what the approvers (or the first of them) approved."""
    made = payable_batch(factory)  # pending approval: 6.00 to 2 affiliates
    bid = made["batch"]["id"]

    def rewrite() -> None:
        _extra_commission(factory, made)
        db.execute("UPDATE public.payout_batches SET total_amount = total_amount + 1.50,"
                   " affiliate_count = affiliate_count + 1 WHERE id = %s", (bid,))

    with running_api(db_url) as url:
        with httpx.Client(base_url=url, timeout=60) as api:
            first = api.post(f"/admin/payouts/batch/{bid}/approve", headers=bearer(APPROVER_1))
            assert first.status_code == 200, first.text
            if when == "between_the_approvals":
                rewrite()
            second = api.post(f"/admin/payouts/batch/{bid}/approve", headers=bearer(APPROVER_2))
            assert second.json()["status"] == "approved", second.text
            if when == "after_both_approvals":
                rewrite()
            r = api.post(f"/admin/payouts/batch/{bid}/execute", headers=ADMIN)
    assert r.status_code == 409, r.text
    assert "approved 6.000000 to 2 affiliate(s); the batch now says 7.500000 to 3" in r.json()[
        "error"], r.text
    after = outcome(db, bid)
    assert (after["batch"], after["paid"], after["ledger"], after["audit"][-1]) == (
        "approved", 0, 0, (409, "refused"))


def test_a_batch_approved_as_it_is_is_paid(db_url, db, factory):
    made = payable_batch(factory)
    bid = made["batch"]["id"]
    with running_api(db_url) as url:
        with httpx.Client(base_url=url, timeout=60) as api:
            for key in (APPROVER_1, APPROVER_2):
                assert api.post(f"/admin/payouts/batch/{bid}/approve",
                                headers=bearer(key)).status_code == 200
            r = api.post(f"/admin/payouts/batch/{bid}/execute", headers=ADMIN)
    assert r.status_code == 200, r.text
    assert outcome(db, bid)["paid"] == 4


def test_an_execute_behind_a_long_commission_write_is_refused_not_hung(db_url, db, factory):
    """The execute waits at most a few seconds for commissions being written (a bulk load), then
    answers 409, audited, nothing paid, instead of holding the request as long as the write."""
    made = payable_batch(factory, status="approved")
    bid = made["batch"]["id"]
    with running_api(db_url) as url:
        holder = hold_table_lock(db_url, "public.commissions", 20)
        started = time.monotonic()
        r = _execute(url, bid)
        waited = time.monotonic() - started
        holder.release()  # the answer came while the write still held the table
        holder.join(30)
    assert r.status_code == 409, r.text
    assert "commissions are being written" in r.json()["error"]
    assert waited < 15
    assert outcome(db, bid) == REFUSED
