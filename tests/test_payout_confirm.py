"""The Execute dialog pays what it showed (audit: money under time). The dialog names the batch's
total and affiliates when it opens; a commission joining the batch before Confirm (1000.00 more,
a third affiliate) must not be paid unseen: the library reads the batch again at the moment of
sending and refuses (recorded) when it is not what was shown or no longer adds up. Real AppTest
console, real admin API over HTTP, real PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from .console_support import app, open_page, texts
from .platform_helpers import payable_batch
from .test_console_actions import actions, api, choose, confirm, console  # noqa: F401 - fixtures


def open_dialog(factory, operator: str, button: str, status: str = "pending_approval"):
    """A payable batch (6.00 USD to 2 affiliates) and its Payouts dialog, opened by ``button``:
    (the AppTest, the batch, its program)."""
    made = payable_batch(factory, status=status)
    at = open_page(app(operator=operator), "payouts")
    choose(at, "batch_choice", made["batch"]["id"])
    at.button(key=button).click().run()
    assert any("6.00 USD to 2 affiliates" in m.value for m in at.markdown)  # the dialog
    return at, made["batch"], made["program"]


def join_the_batch(factory, program: dict, batch: dict) -> None:
    """A third affiliate's 1000.00 payable commission joins the batch."""
    affiliate, user = factory.affiliate(program["id"]), factory.user(program["id"])
    intent = factory.completed_intent(program, user["id"])
    factory.commission(program["id"], affiliate["id"], intent["id"], amount=Decimal("1000.00"),
                       status="payable", payout_batch_id=batch["id"])


def test_a_commission_joining_the_batch_after_the_dialog_opened_is_not_paid_unseen(
        console, db, factory):  # noqa: F811
    at, batch, program = open_dialog(factory, "root", "execute_batch", status="approved")
    join_the_batch(factory, program, batch)
    confirm(at)

    row = db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s", (batch["id"],))
    assert row["status"] == "approved"  # nothing was paid
    assert db.fetch_all("SELECT 1 FROM public.ledger_entries WHERE transaction_id = %s",
                        (f"txn_payout_{batch['id']}",)) == []
    shown = texts(at)
    assert "Refused: batch" in shown and "does not add up now" in shown, shown
    [logged] = actions(db)
    assert (logged["action"], logged["result"], logged["status_code"]) == \
        ("execute_payout_batch", "failed", None)
    assert "does not add up now" in logged["error"] and "nothing was sent" in logged["error"]


def test_a_batch_whose_total_changed_after_the_dialog_opened_is_not_paid(console, db, factory):  # noqa: F811,E501
    at, batch, _ = open_dialog(factory, "root", "execute_batch", status="approved")
    db.execute("UPDATE public.payout_batches SET total_amount = 7.00 WHERE id = %s",
               (batch["id"],))
    confirm(at)
    assert "changed since the dialog opened" in texts(at)
    [logged] = actions(db)
    assert logged["result"] == "failed" and "to 2 affiliates; it is now 7.00" in logged["error"], \
        logged["error"]
    row = db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s", (batch["id"],))
    assert row["status"] == "approved"


def test_an_approval_is_for_the_batch_its_dialog_showed(console, db, factory):  # noqa: F811
    """The two-person rule approves what the approvers saw: a commission joining the batch
    after the Approve dialog opened refuses the approval (recorded, never sent, and not counted
    as an approval of the account)."""
    at, batch, program = open_dialog(factory, "alice", "approve_batch")
    join_the_batch(factory, program, batch)
    confirm(at)

    assert db.fetch_all("SELECT 1 FROM public.payout_approvals WHERE batch_id = %s",
                        (batch["id"],)) == []  # never sent
    assert "does not add up now" in texts(at)
    [logged] = actions(db)
    assert (logged["action"], logged["result"], logged["status_code"]) == \
        ("approve_payout_batch", "failed", None)
    assert logged["error"].startswith("Refused: ")  # a refusal, not an approval that may be
