"""The two-person rule of payout approvals holds per PERSON (console account), not only per key:
an account re-bound from approver key 1 to key 2 cannot give a batch's second approval (the
console refuses it and records the refusal), and re-binding an account that has approvals on
batches not yet executed or rejected is refused (`users add --replace`). Real admin API over HTTP,
real PostgreSQL; a lost answer is a real client timeout behind a real table lock."""

from __future__ import annotations

import threading
import time

import pytest

from sge_recon.accounts import AccountService
from sge_recon.admin_client import AdminClient
from sge_recon.console import ConsoleService
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.errors import UsageError

from .conftest import settings_for
from .platform_helpers import KEYS, hold_table_lock, payable_batch
from .test_console_actions import acting_as, actions, api  # noqa: F401 - fixture

PASSWORD = "a long test password"


def console_for(db_url: str, api_url: str, timeout: float = 15) -> ConsoleService:
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api_url, **KEYS))
    return ConsoleService(recon.settings, recon.databases, recon.checks, recon.incidents,
                          freshness=recon.replica_freshness,
                          client_factory=lambda: AdminClient.from_settings(recon.settings,
                                                                           timeout=timeout))


def rebind_behind_the_cli(db, name: str, slot: int) -> None:
    """An approver key changed without `sge-recon users` (an older sge-recon, a DBA's UPDATE):
    the approval itself must still refuse a second approval by the same account."""
    db.execute("UPDATE recon.console_users SET approver_slot = %s WHERE name = %s", (slot, name))


def batch_status(db, batch_id: str) -> str:
    return db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                        (batch_id,))["status"]


def platform_approvers(db, batch_id: str) -> list[str]:
    return [r["approver"].partition("@")[0] for r in db.fetch_all(
        "SELECT approver FROM public.payout_approvals WHERE batch_id = %s ORDER BY approved_at",
        (batch_id,))]


def hold_approvals_lock(db_url: str, seconds: float) -> threading.Thread:
    """A session that blocks every new approval on the platform for ``seconds``."""
    return hold_table_lock(db_url, "public.payout_approvals", seconds)


def test_an_account_re_bound_to_the_other_key_cannot_approve_the_batch_again(
        db_url, db, factory, api):  # noqa: F811
    acting_as(db_url, ann="approver1", bob="approver2", root="admin")
    accounts = AccountService(Database(db_url))
    console = console_for(db_url, api)
    batch_id = payable_batch(factory)["batch"]["id"]
    first = console.approve_batch_as(accounts.get("ann"), batch_id)
    assert first.ok, first.message

    accounts.set_disabled("bob", True)
    rebind_behind_the_cli(db, "ann", 2)
    again = console.approve_batch_as(accounts.get("ann"), batch_id)
    assert not again.ok and again.logged and again.status_code is None
    assert again.message.startswith(f"Refused: 'ann' already approved batch {batch_id} with "
                                    "approver key 1"), again.message
    assert "two different people" in again.message and "nothing was done" in again.message
    assert batch_status(db, batch_id) == "pending_approval"
    assert platform_approvers(db, batch_id) == ["approver_1"]  # never sent to the API
    executed = console.actions.execute_batch("root", batch_id)
    assert not executed.ok and executed.status_code == 409
    logged = [(r["operator"], r["action"], r["result"], r["status_code"], r["request"])
              for r in actions(db) if r["target"] == batch_id]
    assert logged[:2] == [
        ("ann", "approve_payout_batch", "ok", 200, {"batchId": batch_id, "approverKey": 1}),
        ("ann", "approve_payout_batch", "failed", None, {"batchId": batch_id, "approverKey": 2})]

    # back on key 1, the same account again: refused by the console too (never sent)
    rebind_behind_the_cli(db, "ann", 1)
    same = console.approve_batch_as(accounts.get("ann"), batch_id)
    assert not same.ok and "already approved" in same.message and same.status_code is None
    # another person approves: the batch is approved and is paid once
    accounts.set_disabled("bob", False)
    assert console.approve_batch_as(accounts.get("bob"), batch_id).ok
    assert console.actions.execute_batch("root", batch_id).ok
    assert batch_status(db, batch_id) == "executed"


def test_re_binding_an_approver_with_approvals_on_open_batches_is_refused(
        db_url, db, factory, api):  # noqa: F811
    """AccountService.add(..., replace=True) is how an account is re-bound (the demo, tests,
    tooling; the CLI's `users add` refuses an existing name)."""
    acting_as(db_url, ann="approver1", bob="approver2", root="admin")
    accounts = AccountService(Database(db_url))
    console = console_for(db_url, api)
    batch_id = payable_batch(factory)["batch"]["id"]
    other = payable_batch(factory)["batch"]["id"]
    assert console.approve_batch_as(accounts.get("ann"), batch_id).ok
    assert console.approve_batch_as(accounts.get("ann"), other).ok
    accounts.set_disabled("bob", True, by="cli:ops")

    with pytest.raises(UsageError) as refused:
        accounts.add("ann", "approver", PASSWORD, approver_slot=2, replace=True, by="cli:ops")
    message = refused.value.message
    assert f"'ann' has approved payout batch(es) {', '.join(sorted([batch_id, other]))} with " \
        "another approver key" in message, message
    assert "not executed or rejected yet" in message and "Nothing was changed" in message
    assert accounts.get("ann").approver_slot == 1 and not accounts.get("ann").disabled
    assert [r["action"] for r in actions(db) if r["operator"] == "cli:ops"] == \
        ["disable_account"]  # the refused change is not recorded as made
    # the same key again (a new password) is no re-binding: allowed
    accounts.add("ann", "approver", PASSWORD, approver_slot=1, replace=True)
    # an operator role (no key) is allowed; binding to key 2 from there is still refused
    accounts.add("ann", "operator", PASSWORD, replace=True)
    with pytest.raises(UsageError, match=batch_id):
        accounts.add("ann", "approver", PASSWORD, approver_slot=2, replace=True)

    # once both batches are paid or rejected, ann may hold key 2
    accounts.add("ann", "approver", PASSWORD, approver_slot=1, replace=True)
    accounts.set_disabled("bob", False)
    assert console.approve_batch_as(accounts.get("bob"), batch_id).ok
    assert console.actions.execute_batch("root", batch_id).ok
    accounts.set_disabled("bob", True)
    with pytest.raises(UsageError, match=other) as still:
        accounts.add("ann", "approver", PASSWORD, approver_slot=2, replace=True)
    assert batch_id not in still.value.message  # executed: no longer in the way
    db.execute("UPDATE public.payout_batches SET status = 'rejected' WHERE id = %s", (other,))
    assert accounts.add("ann", "approver", PASSWORD, approver_slot=2,
                        replace=True).approver_slot == 2


def test_an_approval_whose_answer_was_lost_counts_for_the_other_key_only(
        db_url, db, factory, api):  # noqa: F811
    acting_as(db_url, ann="approver1", bob="approver2")
    accounts = AccountService(Database(db_url))
    console = console_for(db_url, api, timeout=1.5)
    batch_id = payable_batch(factory)["batch"]["id"]
    lock = hold_approvals_lock(db_url, 3)  # the API is slow: the console gives up
    lost = console.approve_batch_as(accounts.get("ann"), batch_id)
    assert not lost.ok and lost.maybe_done, lost.message
    lock.join()
    deadline = time.monotonic() + 20
    while not platform_approvers(db, batch_id) and time.monotonic() < deadline:
        time.sleep(0.1)  # the API finishes the approval it was waiting to write
    assert platform_approvers(db, batch_id) == ["approver_1"]

    # with the same key: sent, and the platform says it is already approved (nothing doubled)
    retry = console.approve_batch_as(accounts.get("ann"), batch_id)
    assert retry.status_code == 409 and "already approved" in retry.message, retry.message
    # with the other key: it may have been done, so refused
    accounts.set_disabled("bob", True)
    with pytest.raises(UsageError, match=batch_id):
        accounts.add("ann", "approver", PASSWORD, approver_slot=2, replace=True)
    rebind_behind_the_cli(db, "ann", 2)
    other_key = console.approve_batch_as(accounts.get("ann"), batch_id)
    assert not other_key.ok and other_key.status_code is None
    assert f"'ann' may already have approved batch {batch_id} with approver key 1" in \
        other_key.message and "answer was lost" in other_key.message, other_key.message
    assert platform_approvers(db, batch_id) == ["approver_1"]
    assert batch_status(db, batch_id) == "pending_approval"


def test_a_re_binding_waits_for_an_approval_still_in_flight(db_url, db, factory,
                                                            api):  # noqa: F811
    """The approval holds its account's approver lock until its answer is recorded, so a
    re-binding made meanwhile waits for it and then sees it (its pending attempt row, written
    before the request was sent, would refuse the re-binding even without the lock)."""
    acting_as(db_url, ann="approver1", bob="approver2")
    accounts = AccountService(Database(db_url))
    console = console_for(db_url, api, timeout=30)
    batch_id = payable_batch(factory)["batch"]["id"]
    accounts.set_disabled("bob", True)
    lock = hold_approvals_lock(db_url, 3)
    answers: list = []
    approving = threading.Thread(
        target=lambda: answers.append(console.approve_batch_as(accounts.get("ann"), batch_id)))
    approving.start()
    time.sleep(1)  # the approval is waiting for the API, which waits for the table lock
    # written as a pending attempt before it was sent (action_record.py); no answer yet
    assert [a["result"] for a in actions(db)] == ["pending"]
    with pytest.raises(UsageError, match=batch_id):
        accounts.add("ann", "approver", PASSWORD, approver_slot=2, replace=True)
    approving.join(30)
    lock.join()
    assert answers and answers[0].ok, answers
    assert accounts.get("ann").approver_slot == 1
