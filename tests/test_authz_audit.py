"""Refusals of the two-person and role rules are on the record (audit authz): every
state-changing console action, done or refused, leaves its row in recon.action_log, written in
the same transaction as the change it records — real admin API over HTTP, embedded PostgreSQL."""

from __future__ import annotations

import pytest

from sge_recon.context import Recon
from sge_recon.errors import UsageError

from .conftest import settings_for
from .platform_helpers import KEYS
from .test_console_actions import acting_as, actions, api  # noqa: F401

ROWS = [{"account": "user:u1", "type": "debit", "amount": "2500", "currency": "USD"},
        {"account": "treasury", "type": "credit", "amount": "2500", "currency": "USD"}]


def waiting_request(db_url, factory, api):  # noqa: F811
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "5000"), ("user:u1", "credit", "5000")])
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))
    acting_as(db_url, ada="admin", bob="admin", carol="admin", root="admin")
    desk = recon.console.corrections
    assert desk.submit("ada", program["id"], "Reverse a double posting", ROWS).ok
    [waiting] = desk.pending()
    return desk, waiting["id"]


def test_a_requester_confirming_their_own_correction_is_refused_on_the_record(
        db_url, db, factory, api):  # noqa: F811
    desk, request_id = waiting_request(db_url, factory, api)
    with pytest.raises(UsageError, match="a second admin must confirm"):
        desk.confirm("ada", request_id)
    assert db.fetch_all("SELECT 1 FROM public.ledger_corrections") == []
    refused = [r for r in actions(db) if r["operator"] == "ada" and r["action"] ==
               "ledger_correction"]
    assert [(r["target"], r["result"], r["request"]) for r in refused] == [
        (f"correction:{request_id}", "failed", {"requestId": request_id})]
    assert "two-person rule" in refused[0]["error"]
    assert desk.confirm("bob", request_id).ok  # the second admin still can
    with pytest.raises(UsageError, match="not waiting"):
        desk.confirm("carol", request_id)  # a replay of a decided request: refused, recorded
    assert [(r["operator"], r["action"], r["result"]) for r in actions(db)] == [
        ("ada", "request_correction", "ok"), ("ada", "ledger_correction", "failed"),
        ("bob", "ledger_correction", "ok"), ("carol", "ledger_correction", "failed")]


REFUSE_AUDIT_ROWS = """
CREATE FUNCTION recon.test_refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'action log refused the row (test: a full disk, a lost privilege)'; END $$;
CREATE TRIGGER test_refuse_row BEFORE INSERT ON recon.action_log FOR EACH ROW
    WHEN (NEW.action IN ('withdraw_correction', 'request_correction'))
    EXECUTE FUNCTION recon.test_refuse_row();
"""


def test_a_correction_request_and_its_withdrawal_never_change_without_their_audit_row(
        db_url, db, factory, api):  # noqa: F811
    desk, request_id = waiting_request(db_url, factory, api)
    db.execute(REFUSE_AUDIT_ROWS)  # the real database refuses the action-log row from now on
    withdrawn = desk.withdraw("bob", request_id)
    assert not withdrawn.ok and not withdrawn.logged
    # the withdrawal did not happen without its record: the request still waits
    assert [r["id"] for r in desk.pending()] == [request_id]
    program = db.fetch_one("SELECT id FROM public.programs")["id"]
    requested = desk.submit("carol", program, "Another reversal", ROWS)
    assert not requested.ok and not requested.logged
    assert [r["id"] for r in desk.pending()] == [request_id]  # no request without its record
    assert [(r["operator"], r["action"]) for r in actions(db)] == [("ada", "request_correction")]
    db.execute("DROP TRIGGER test_refuse_row ON recon.action_log")
    done = desk.withdraw("bob", request_id)
    assert done.ok and done.logged and desk.pending() == []
    assert [(r["operator"], r["action"], r["result"]) for r in actions(db)][-1] == (
        "bob", "withdraw_correction", "ok")
    # what was requested and withdrawn is on the record (the monthly export carries this log;
    # recon.correction_requests is not exported)
    requested_row, withdrawn_row = actions(db)[0], actions(db)[-1]
    assert requested_row["request"] == {"programId": program, "reason": "Reverse a double posting",
                                        "entries": [dict(r)
                                                    for r in ROWS]}, requested_row["request"]
    assert withdrawn_row["request"] == {"requestId": request_id}


def test_a_runbook_tick_its_untick_and_a_refused_tick_are_all_on_the_record(db_url, db):
    from datetime import date

    from sge_recon.accounts import AccountService
    from sge_recon.db import Database

    acting_as(db_url, ada="operator", vic="viewer")
    console = Recon(settings_for(db_url)).console
    today = date(2026, 11, 27)
    with pytest.raises(UsageError, match="Refused: .*viewer role.*the tick was not saved"):
        console.set_runbook_tick("vic", "daily.ledger", True, today)
    console.set_runbook_tick("ada", "daily.ledger", True, today)
    console.set_runbook_tick("ada", "daily.ledger", False, today)  # the untick keeps the trail
    AccountService(Database(db_url)).set_disabled("ada")
    with pytest.raises(UsageError, match="disabled"):
        console.set_runbook_tick("ada", "daily.ledger", True, today)
    assert db.fetch_all("SELECT * FROM recon.runbook_ticks") == []
    target = "runbook:daily.ledger:2026-11-27"
    assert [(r["operator"], r["action"], r["target"], r["result"]) for r in actions(db)] == [
        ("vic", "runbook_tick", target, "failed"), ("ada", "runbook_tick", target, "ok"),
        ("ada", "runbook_untick", target, "ok"), ("ada", "runbook_tick", target, "failed")]


def test_approve_as_a_viewer_or_an_admin_is_refused_on_the_record(db_url, db, factory,
                                                                   api):  # noqa: F811
    """approve_batch_as (the Payouts page's Approve) is the library's door too: the account is
    read in the database now, whatever account object the caller passes, and a refusal is
    recorded, not only raised."""
    from sge_recon.accounts import AccountService
    from sge_recon.db import Database

    from .platform_helpers import payable_batch

    batch_id = payable_batch(factory)["batch"]["id"]
    acting_as(db_url, vic="viewer", root="admin", ann="approver1")
    accounts = AccountService(Database(db_url))
    console = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS)).console
    stale = accounts.get("ann")  # an approver account object, read before the demotion
    accounts.set_disabled("ann")
    for account in (accounts.get("vic"), accounts.get("root"), stale):
        outcome = console.approve_batch_as(account, batch_id)
        assert not outcome.ok and outcome.logged and outcome.message.startswith("Refused: ")
    assert db.fetch_all("SELECT * FROM public.payout_approvals") == []
    assert [(r["operator"], r["action"], r["result"]) for r in actions(db)] == [
        ("vic", "approve_payout_batch", "failed"), ("root", "approve_payout_batch", "failed"),
        ("ann", "approve_payout_batch", "failed")]


def test_a_confirm_refused_by_the_page_is_on_the_record_too(db_url, db, monkeypatch, tmp_path,
                                                             api):  # noqa: F811
    """A role changed behind the CLI (a DBA's UPDATE: the session is not ended) between opening
    the dialog and Confirm: refused, and — like every refusal — recorded in the action log."""
    from .console_support import app, console_env, open_page

    console_env(monkeypatch, db_url, api, tmp_path)
    at = open_page(app(operator="ada"), "queue")  # ada: an operator account
    at.button(key="pause_queue").click().run()
    db.execute("UPDATE recon.console_users SET role = 'viewer' WHERE name = 'ada'")
    at.button(key="confirm_action").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not db.fetch_one("SELECT paused FROM public.queue_control")["paused"]
    assert [(r["operator"], r["action"], r["result"]) for r in actions(db)] == [
        ("ada", "pause_queue", "failed")]
    assert any("viewer role" in e.value for e in at.error), [e.value for e in at.error]
