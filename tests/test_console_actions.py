"""Every console action through AppTest: confirmed in the dialog, sent to the real admin API over
HTTP, its effect checked in the database, its answer shown in words, and its action_log row.
An API that is down or refuses is shown and recorded as failed."""

from __future__ import annotations

import socket
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sge_recon.context import Recon

from .conftest import settings_for
from .console_support import app, console_env, frame, open_page, texts
from .factories import ago
from .platform_helpers import APPROVER_1, APPROVER_2, payable_batch, running_api


@pytest.fixture
def api(db_url):
    with running_api(db_url) as url:
        yield url


@pytest.fixture
def console(db_url, api, monkeypatch, tmp_path):
    console_env(monkeypatch, db_url, api, tmp_path)
    return app(operator="Ada")


def confirm(at):
    """Press Confirm in the open dialog (the action runs, the page shows its answer)."""
    assert at.button(key="confirm_action")  # the confirmation dialog is open
    at.button(key="confirm_action").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def choose(at, key: str, value) -> None:
    """Pick an item (nothing is pre-selected: an action never lands on a default)."""
    at.selectbox(key=key).select(str(value)).run()
    assert not at.exception, [e.value for e in at.exception]


def acting_as(db_url: str, **roles: str) -> None:
    """Console accounts for tests that call the library's actions directly: it checks, at
    action time, that the operator is an enabled account with the role the action needs."""
    from sge_recon.accounts import AccountService
    from sge_recon.db import Database

    service = AccountService(Database(db_url))
    for name, role in roles.items():
        slot = int(role[-1]) if role.startswith("approver") else None
        service.add(name, role.rstrip("12"), "a long test password", approver_slot=slot,
                    replace=True)


def actions(db) -> list[dict]:
    return db.fetch_all("SELECT operator, action, target, result, status_code, request, error "
                        "FROM recon.action_log ORDER BY id")


def test_retry_a_stuck_intent(console, db, factory):
    program = factory.program()
    user = factory.user(program["id"])
    stuck = factory.intent(program["id"], user["id"], status="verifying",
                           status_changed_at=ago(minutes=25))
    at = open_page(console, "intents")
    choose(at, "stuck_choice", stuck["id"])
    at.button(key="retry_stuck").click().run()
    assert "Re-enqueue intent" in texts(at)  # the dialog asks first
    assert db.fetch_all("SELECT 1 FROM public.jobs") == []  # nothing happened yet
    confirm(at)
    jobs = db.fetch_all("SELECT status FROM public.jobs WHERE intent_id = %s", (stuck["id"],))
    assert [j["status"] for j in jobs] == ["waiting"]
    assert f"Intent {stuck['id']} re-enqueued" in texts(at)
    [row] = actions(db)
    assert (row["operator"], row["action"], row["target"], row["result"], row["status_code"]) == \
        ("ada", "retry_intent", stuck["id"], "ok", 200)
    # still stuck until it really completes: listed, with the retry shown
    listed = frame(open_page(at, "intents"), "intent_id", "retry")
    assert (listed["retry"].iloc[0], listed["retried_by"].iloc[0]) == ("scheduled", "ada")
    assert "1 of them retried from the console" in texts(at)


def test_cancel_does_nothing_and_records_nothing(console, db, factory):
    program = factory.program()
    user = factory.user(program["id"])
    intent = factory.intent(program["id"], user["id"], status="verifying",
                            status_changed_at=ago(minutes=25))
    at = open_page(console, "intents")
    choose(at, "stuck_choice", intent["id"])
    at.button(key="retry_stuck").click().run()
    at.button(key="cancel_action").click().run()
    assert db.fetch_all("SELECT 1 FROM public.jobs") == [] and actions(db) == []


def test_two_approver_accounts_approve_then_an_admin_executes_once(console, db, factory):
    batch = payable_batch(factory)["batch"]
    at = open_page(app(operator="alice"), "payouts")  # approver account bound to key 1
    choose(at, "batch_choice", batch["id"])
    assert "approver_key" not in [t.key for t in at.text_input]  # nobody types a key
    assert at.button(key="execute_batch").disabled  # an approver does not execute
    at.button(key="approve_batch").click().run()
    assert "as **alice** (approver key 1)" in texts(at)
    confirm(at)
    assert "a second, different approver must approve" in texts(at)

    # the same person again: the console refuses it (its approval is recorded; never sent):
    # one person can never give both approvals, whichever key it holds
    at.button(key="approve_batch").click().run()
    confirm(at)
    assert f"Refused: 'alice' already approved batch {batch['id']}" in texts(at)

    at = open_page(app(operator="bob"), "payouts")  # the second approver, own session + key
    choose(at, "batch_choice", batch["id"])
    at.button(key="approve_batch").click().run()
    confirm(at)
    assert db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                        (batch["id"],))["status"] == "approved"
    assert at.button(key="execute_batch").disabled  # still not an admin

    at = open_page(app(operator="root"), "payouts")
    choose(at, "batch_choice", batch["id"])
    assert at.button(key="approve_batch").disabled  # an admin does not approve
    at.button(key="execute_batch").click().run()
    confirm(at)
    row = db.fetch_one("SELECT status, executed_at FROM public.payout_batches WHERE id = %s",
                       (batch["id"],))
    assert row["status"] == "executed" and row["executed_at"] is not None
    assert "executed" in texts(at)
    # the page stays on the executed batch (no jump to another one), with nothing left to do
    assert at.query_params["id"] in (batch["id"], [batch["id"]])
    assert at.button(key="execute_batch").disabled and at.button(key="approve_batch").disabled
    log = actions(db)
    assert [(r["operator"], r["action"], r["result"], r["status_code"]) for r in log] == [
        ("alice", "approve_payout_batch", "ok", 200),
        ("alice", "approve_payout_batch", "failed", None),
        ("bob", "approve_payout_batch", "ok", 200),
        ("root", "execute_payout_batch", "ok", 200)]
    assert [r["request"].get("approverKey") for r in log[:3]] == [1, 1, 2]
    approvers = db.fetch_all("SELECT approver FROM public.payout_approvals WHERE batch_id = %s "
                             "ORDER BY approver", (batch["id"],))
    # the API records the slot and the key's fingerprint (a key moved between slots is one person)
    assert [a["approver"].split("@")[0] for a in approvers] == ["approver_1", "approver_2"]
    text = str(log)
    assert APPROVER_1 not in text and APPROVER_2 not in text  # keys never recorded


def test_retry_a_failed_webhook(console, db, factory):
    program = factory.program()
    endpoint = factory.endpoint(program["id"])
    delivery = factory.delivery(endpoint["id"], status="failed", attempt_count=5,
                                last_error="HTTP 500", last_attempt_at=ago(hours=2))
    at = open_page(console, "webhooks")
    choose(at, "delivery_choice", delivery["id"])
    at.button(key="retry_webhook").click().run()
    confirm(at)
    row = db.fetch_one("SELECT status, next_retry_at FROM public.webhook_deliveries "
                       "WHERE id = %s", (delivery["id"],))
    assert row["status"] != "failed" and row["next_retry_at"] is not None
    assert "scheduled for an immediate attempt" in texts(at)
    assert actions(db)[0]["action"] == "retry_webhook" and actions(db)[0]["result"] == "ok"


def test_pause_and_resume_the_queue(console, db):
    at = open_page(console, "queue")
    at.button(key="pause_queue").click().run()
    confirm(at)
    assert db.fetch_one("SELECT paused FROM public.queue_control")["paused"] is True
    assert "paused" in texts(at) and "by ada in the console" in texts(at)  # the person
    at.button(key="resume_queue").click().run()
    confirm(at)
    assert db.fetch_one("SELECT paused FROM public.queue_control")["paused"] is False
    assert [r["action"] for r in actions(db)] == ["pause_queue", "resume_queue"]


def test_failed_jobs_are_listed_and_retried_one_or_many(console, db, factory):
    """Issue 15 (Sidekiq-grade queue page): the failed jobs with their errors and attempts; the
    ticked ones (or all listed) retried, one admin API call and one action-log row each; a job
    whose intent has since completed is not offered."""
    program = factory.program()
    user = factory.user(program["id"])
    first, second = (factory.intent(program["id"], user["id"], status="failed",
                                    last_error="RPC timeout") for _ in range(2))
    done = factory.intent(program["id"], user["id"], status="completed", completed_at=ago())
    for intent in (first, second, done):
        factory.job(intent_id=intent["id"], status="failed", attempts=4,
                    last_error=f"RPC timeout for {intent['id']}", finished_at=ago(minutes=3))
    factory.job(intent_id=done["id"], status="delayed", run_at=ago(minutes=-30))
    at = open_page(console, "queue")
    failed = frame(at, "job_id", "intent_id", "last_error")
    assert len(failed) == 3 and set(failed["attempts"]) == {4}
    assert "Failed (3)" in [t.label for t in at.tabs] and "Delayed (1)" in [t.label for t in at.tabs]
    offered = at.multiselect(key="retry_choice").options
    assert len(offered) == 2 and all(f"intent {i['id']} · job" in o
                                     for i, o in zip((first, second), sorted(offered)))
    at.multiselect(key="retry_choice").select(second["id"]).run()
    at.button(key="retry_selected").click().run()
    assert db.fetch_all("SELECT 1 FROM public.jobs WHERE status = 'waiting'") == []
    confirm(at)
    assert "Re-enqueued 1 of 1 intent(s)." in texts(at)
    waiting = db.fetch_all("SELECT intent_id FROM public.jobs WHERE status = 'waiting'")
    assert [r["intent_id"] for r in waiting] == [second["id"]]
    assert [(r["action"], r["target"], r["result"]) for r in actions(db)] == \
        [("retry_intent", second["id"], "ok")]

    at.button(key="retry_all_failed").click().run()
    confirm(at)
    waiting = db.fetch_all("SELECT intent_id FROM public.jobs WHERE status = 'waiting'")
    assert sorted(r["intent_id"] for r in waiting) == sorted([first["id"], second["id"]])
    logged = [(r["action"], r["target"]) for r in actions(db)]
    assert sorted(logged[1:]) == [("retry_intent", i["id"]) for i in (first, second)]  # each


def test_bulk_retry_refuses_nothing_chosen_and_too_many(db_url):
    from sge_recon.errors import UsageError

    recon = Recon(settings_for(db_url))
    with pytest.raises(UsageError, match="no intent chosen"):
        recon.console.actions.retry_intents("Ada", [])
    with pytest.raises(UsageError, match="at most 100"):
        recon.console.actions.retry_intents("Ada", [f"int_{i}" for i in range(101)])


def fill_correction(at, rows, reason="Fix a mis-posted fee"):
    at.text_input(key="correction_reason").input(reason)
    for i, (account, kind, amount) in enumerate(rows):
        at.selectbox(key=f"corr_account_{i}").select(account)  # only accounts that exist
        at.selectbox(key=f"corr_type_{i}").select(kind)
        at.text_input(key=f"corr_amount_{i}").input(amount)
    at.button(key="FormSubmitter:correction-new-Preview and post…").click().run()
    return at


def test_ledger_correction_and_force_reconcile(console, db, factory):
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "10.00"),
                                    ("affiliate:a", "credit", "9.99")])
    at = open_page(app(operator="root"), "ledger")  # corrections: admin accounts only
    fill_correction(at, [("treasury", "debit", "10.00"), ("affiliate:a", "credit", "9.00")])
    assert "Not sent: the correction does not balance" in texts(at)  # refused before any call
    fill_correction(at, [("affiliate:a", "debit", "0.01"), ("treasury", "credit", "0.01")])
    confirm(at)
    assert "Correction" in texts(at) and "balanced per currency" in texts(at)
    entries = db.fetch_all("SELECT account, type, amount FROM public.ledger_entries "
                           "WHERE transaction_id IN (SELECT transaction_id FROM "
                           "public.ledger_corrections) ORDER BY id")
    assert [(e["account"], e["type"], e["amount"]) for e in entries] == [
        ("affiliate:a", "debit", Decimal("0.01")), ("treasury", "credit", Decimal("0.01"))]
    at.button(key="force_reconcile").click().run()
    confirm(at)
    log = actions(db)
    assert [(r["action"], r["result"]) for r in log] == [("ledger_correction", "ok"),
                                                       ("force_reconcile", "ok")]
    run = db.fetch_one("SELECT trigger, engine FROM recon.check_runs")  # recorded by sge-recon
    assert (run["trigger"], run["engine"]) == ("api", "sql")
    assert log[0]["request"]["reason"] == "Fix a mis-posted fee"


def test_an_api_that_is_down_is_shown_and_recorded_as_failed(db_url, db, factory, monkeypatch,
                                                              tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    console_env(monkeypatch, db_url, dead, tmp_path)
    program = factory.program()
    user = factory.user(program["id"])
    stuck = factory.intent(program["id"], user["id"], status="processing",
                           status_changed_at=ago(minutes=25))
    at = open_page(app(), "intents")
    assert "The admin API at" in texts(at) and "is not available" in texts(at)
    choose(at, "stuck_choice", stuck["id"])
    at.button(key="retry_stuck").click().run()
    confirm(at)
    assert "Failed, the admin API did not answer" in texts(at)
    assert not any("Done" in s.value for s in at.success)
    [row] = actions(db)
    assert (row["action"], row["target"], row["result"], row["status_code"]) == \
        ("retry_intent", stuck["id"], "failed", None)
    assert "unreachable" in row["error"]


def test_incident_acknowledge_note_and_resolve(console, db):
    with db.transaction() as conn:
        iid = conn.execute(
            "INSERT INTO recon.incidents (kind, key, priority, status, title) VALUES "
            "('manual_check', '', 'P1', 'open', 'Workers down') RETURNING id").fetchone()["id"]
        rule = conn.execute(
            "INSERT INTO recon.incidents (kind, key, priority, status, title) VALUES "
            "('worker_down', '', 'P1', 'open', 'Workers down') RETURNING id").fetchone()["id"]
    # a rule's incident resolves by evidence (its check passing), never by hand
    at = open_page(console, "incidents")
    choose(at, "incident_choice", rule)
    assert at.button(key="resolve_incident").disabled
    refused = Recon(settings_for(db.url)).console.actions.resolve_incident("ada", rule)
    assert not refused.ok and "resolved by its check passing" in refused.message
    db.execute("DELETE FROM recon.action_log")
    at = open_page(console, "incidents")
    choose(at, "incident_choice", iid)
    at.button(key="ack_incident").click().run()
    confirm(at)
    at.text_area(key="incident_note").input("Restarted the worker service").run()
    at.button(key="add_note").click().run()
    confirm(at)
    at.button(key="resolve_incident").click().run()
    confirm(at)
    row = db.fetch_one("SELECT status, acknowledged_by, notes, resolved_at FROM recon.incidents "
                       "WHERE id = %s", (iid,))
    assert row["status"] == "resolved" and row["acknowledged_by"] == "ada"
    assert row["notes"].endswith("ada: Restarted the worker service")
    assert [(r["action"], r["target"], r["result"]) for r in actions(db)] == [
        ("acknowledge_incident", f"incident:{iid}", "ok"),
        ("add_incident_note", f"incident:{iid}", "ok"),
        ("resolve_incident", f"incident:{iid}", "ok")]


def test_runbook_ticks_are_saved_per_day_and_operator(console, db):
    # the console's day is the UTC day (date.today() is the host's: it failed west of UTC in the
    # evening, east of it in the morning); read before and after, in case midnight passes
    before = datetime.now(timezone.utc).date()
    at = open_page(console, "runbook")
    at.checkbox(key="tick_daily.ledger").check().run()
    at.checkbox(key="tick_weekly.rpc").check().run()
    rows = db.fetch_all("SELECT day, operator, item FROM recon.runbook_ticks ORDER BY item")
    after = datetime.now(timezone.utc).date()
    assert [(r["operator"], r["item"]) for r in rows] == [("ada", "daily.ledger"),
                                                           ("ada", "weekly.rpc")]
    assert rows[0]["day"] in {before, after} and rows[1]["day"].weekday() == 0
    at.checkbox(key="tick_daily.ledger").uncheck().run()
    assert [r["item"] for r in db.fetch_all("SELECT item FROM recon.runbook_ticks")] == \
        ["weekly.rpc"]
    # another operator sees their own list, and who else ticked
    at = open_page(app(operator="bob"), "runbook")
    assert at.checkbox(key="tick_weekly.rpc").value is False
    assert "also ticked by ada" in texts(at)
    # a viewer sees the ticks but cannot tick
    at = open_page(app(operator="vic"), "runbook")
    assert at.checkbox(key="tick_weekly.rpc").disabled and "ticked by ada" in texts(at)


def test_the_library_refuses_a_runbook_tick_from_a_viewer_a_disabled_or_unknown_account(
        db_url, db, monkeypatch, tmp_path):
    """The page disables the checkboxes for a viewer, but the write is checked again where it
    happens: a page left open across a demotion or a sign-out must not tick for anybody."""
    from sge_recon.accounts import AccountService
    from sge_recon.db import Database
    from sge_recon.errors import UsageError

    console_env(monkeypatch, db_url, "http://127.0.0.1:9", tmp_path)
    console = Recon(settings_for(db_url)).console
    today = date.today()
    for who, why in [("vic", "viewer role"), ("nobody", "is not a console account")]:
        with pytest.raises(UsageError, match=f"Refused: .*{why}.*the tick was not saved"):
            console.set_runbook_tick(who, "daily.ledger", True, today)
    AccountService(Database(db_url)).set_disabled("ada")
    with pytest.raises(UsageError, match="Refused: the account 'ada' is disabled"):
        console.set_runbook_tick("ada", "daily.ledger", True, today)
    assert db.fetch_all("SELECT * FROM recon.runbook_ticks") == []
    console.set_runbook_tick("root", "daily.ledger", True, today)  # an allowed account still can
    assert [r["operator"] for r in db.fetch_all("SELECT operator FROM recon.runbook_ticks")] == \
        ["root"]


def test_a_viewer_sees_every_action_disabled_with_the_reason(db_url, api, monkeypatch,
                                                              tmp_path, factory, db):
    console_env(monkeypatch, db_url, api, tmp_path)
    program = factory.program()
    user = factory.user(program["id"])
    stuck = factory.intent(program["id"], user["id"], status="processing",
                           status_changed_at=ago(minutes=25))
    at = open_page(app(operator="vic"), "intents")
    choose(at, "stuck_choice", stuck["id"])
    button = at.button(key="retry_stuck")
    assert button.disabled and "viewers can look but not act" in button.help
    at = open_page(app(operator="vic"), "queue")
    assert at.button(key="pause_queue").disabled
    at = open_page(app(operator="vic"), "overview")
    assert at.button(key="run_fast_checks").disabled
    assert actions(db) == []


def test_run_the_fast_checks_from_the_overview(console, db):
    at = console
    at.run()
    at.button(key="run_fast_checks").click().run()
    assert not at.exception
    assert "Fast checks finished" in texts(at)
    run = db.fetch_one("SELECT trigger, engine FROM recon.check_runs")
    assert (run["trigger"], run["engine"]) == ("console", "sql")
    assert [(r["action"], r["result"]) for r in actions(db)] == [("run_fast_checks", "ok")]


def test_export_now_then_download_and_verify(console, db, factory):
    program = factory.program()
    last_month = (ago().replace(day=1) - timedelta(days=1)).replace(day=10)
    factory.journal(program["id"], [("treasury", "debit", "5.00"), ("user:u", "credit", "5.00")],
                    created_at=last_month)
    label = f"{last_month:%Y-%m}"
    at = open_page(console, "exports")
    assert at.text_input(key="export_now_period").value == label  # last month by default
    at.button(key="export_now").click().run()
    confirm(at)
    assert f"Exported {label}" in texts(at)
    assert [(r["action"], r["target"], r["result"]) for r in actions(db)] == [
        ("audit_export", label, "ok")]
    assert [s.value for s in at.selectbox if s.key == "export_period"] == [label]
    names = " ".join(m.value for m in at.markdown)
    assert "manifest.json" in names and "audit.duckdb" in names
    at.button(key="verify_export").click().run()
    assert f"{label} verifies" in texts(at)

    # the same month again without "replace": refused, shown and recorded as failed
    at.button(key="export_now").click().run()
    confirm(at)
    assert "Failed:" in texts(at)
    assert actions(db)[-1]["result"] == "failed"


def test_the_confirm_dialog_acts_on_the_item_it_was_opened_for(console, db, factory):
    """The list refreshes under the picker (a new failing delivery sorts first) and the picker
    even moves while the dialog is open: Confirm still retries the delivery it was opened for."""
    program = factory.program()
    endpoint = factory.endpoint(program["id"])
    first, second = (factory.delivery(endpoint["id"], status="failed", attempt_count=5,
                                      last_error="HTTP 500", last_attempt_at=ago(hours=h))
                     for h in (2, 3))
    at = open_page(console, "webhooks")
    choose(at, "delivery_choice", first["id"])
    at.button(key="retry_webhook").click().run()
    assert f"Acts on **delivery {first['id']}** only" in texts(at)
    factory.delivery(endpoint["id"], status="failed", attempt_count=5, last_error="HTTP 502",
                     last_attempt_at=ago(hours=9))  # the list changes underneath
    st_cache_clear()
    choose(at, "delivery_choice", second["id"])  # and the picker moves
    confirm(at)
    statuses = {r["id"]: r["status"] for r in db.fetch_all(
        "SELECT id, status FROM public.webhook_deliveries")}
    assert statuses[first["id"]] != "failed" and statuses[second["id"]] == "failed"
    [row] = actions(db)
    assert (row["action"], row["target"]) == ("retry_webhook", first["id"])


def st_cache_clear() -> None:
    import streamlit as st

    st.cache_data.clear()
