"""Every console action through AppTest: confirmed in the dialog, sent to the real admin API over
HTTP, its effect checked in the database, its answer shown in words, and its action_log row.
An API that is down or refuses is shown and recorded as failed."""

from __future__ import annotations

import socket
from datetime import date, timedelta
from decimal import Decimal

import pytest

from .console_support import app, console_env, open_page, texts
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


def actions(db) -> list[dict]:
    return db.fetch_all("SELECT operator, action, target, result, status_code, request, error "
                        "FROM recon.action_log ORDER BY id")


def test_retry_a_stuck_intent(console, db, factory):
    program = factory.program()
    user = factory.user(program["id"])
    stuck = factory.intent(program["id"], user["id"], status="verifying",
                           status_changed_at=ago(minutes=25))
    at = open_page(console, "intents")
    at.button(key="retry_stuck").click().run()
    assert "Re-enqueue intent" in texts(at)  # the dialog asks first
    assert db.fetch_all("SELECT 1 FROM public.jobs") == []  # nothing happened yet
    confirm(at)
    jobs = db.fetch_all("SELECT status FROM public.jobs WHERE intent_id = %s", (stuck["id"],))
    assert [j["status"] for j in jobs] == ["waiting"]
    assert f"Intent {stuck['id']} re-enqueued" in texts(at)
    [row] = actions(db)
    assert (row["operator"], row["action"], row["target"], row["result"], row["status_code"]) == \
        ("Ada", "retry_intent", stuck["id"], "ok", 200)


def test_cancel_does_nothing_and_records_nothing(console, db, factory):
    program = factory.program()
    user = factory.user(program["id"])
    factory.intent(program["id"], user["id"], status="verifying",
                   status_changed_at=ago(minutes=25))
    at = open_page(console, "intents")
    at.button(key="retry_stuck").click().run()
    at.button(key="cancel_action").click().run()
    assert db.fetch_all("SELECT 1 FROM public.jobs") == [] and actions(db) == []


def test_two_people_approve_then_the_batch_is_executed_once(console, db, factory):
    batch = payable_batch(factory)["batch"]
    at = open_page(console, "payouts")
    at.text_input(key="approver_key").input(APPROVER_1).run()
    at.button(key="approve_batch").click().run()
    confirm(at)
    assert "a second, different approver must approve" in texts(at)
    assert at.text_input(key="approver_key").value == ""  # the key is not kept

    # the same approver again: the API refuses (409), shown and recorded as failed
    at.text_input(key="approver_key").input(APPROVER_1).run()
    at.button(key="approve_batch").click().run()
    confirm(at)
    assert "Failed (HTTP 409)" in texts(at)

    at = open_page(app(operator="Grace"), "payouts")  # the second person, in their own session
    at.text_input(key="approver_key").input(APPROVER_2).run()
    at.button(key="approve_batch").click().run()
    confirm(at)
    assert db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                        (batch["id"],))["status"] == "approved"

    at.button(key="execute_batch").click().run()
    confirm(at)
    row = db.fetch_one("SELECT status, executed_at FROM public.payout_batches WHERE id = %s",
                       (batch["id"],))
    assert row["status"] == "executed" and row["executed_at"] is not None
    assert "executed" in texts(at)
    log = actions(db)
    assert [(r["operator"], r["action"], r["result"], r["status_code"]) for r in log] == [
        ("Ada", "approve_payout_batch", "ok", 200),
        ("Ada", "approve_payout_batch", "failed", 409),
        ("Grace", "approve_payout_batch", "ok", 200),
        ("Grace", "execute_payout_batch", "ok", 200)]
    text = str(log)
    assert APPROVER_1 not in text and APPROVER_2 not in text  # keys never recorded


def test_retry_a_failed_webhook(console, db, factory):
    program = factory.program()
    endpoint = factory.endpoint(program["id"])
    delivery = factory.delivery(endpoint["id"], status="failed", attempt_count=5,
                                last_error="HTTP 500", last_attempt_at=ago(hours=2))
    at = open_page(console, "webhooks")
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
    assert "paused" in texts(at)
    at.button(key="resume_queue").click().run()
    confirm(at)
    assert db.fetch_one("SELECT paused FROM public.queue_control")["paused"] is False
    assert [r["action"] for r in actions(db)] == ["pause_queue", "resume_queue"]


def fill_correction(at, rows, reason="Fix a mis-posted fee"):
    at.text_input(key="correction_reason").input(reason)
    for i, (account, kind, amount) in enumerate(rows):
        at.text_input(key=f"corr_account_{i}").input(account)
        at.selectbox(key=f"corr_type_{i}").select(kind)
        at.text_input(key=f"corr_amount_{i}").input(amount)
    at.button(key="FormSubmitter:correction-Post correction…").click().run()
    return at


def test_ledger_correction_and_force_reconcile(console, db, factory):
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "10.00"),
                                    ("affiliate:a", "credit", "9.99")])
    at = open_page(console, "ledger")
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
            "('worker_down', '', 'P1', 'open', 'Workers down') RETURNING id").fetchone()["id"]
    at = open_page(console, "incidents")
    at.button(key="ack_incident").click().run()
    confirm(at)
    at.text_area(key="incident_note").input("Restarted the worker service").run()
    at.button(key="add_note").click().run()
    confirm(at)
    at.button(key="resolve_incident").click().run()
    confirm(at)
    row = db.fetch_one("SELECT status, acknowledged_by, notes, resolved_at FROM recon.incidents "
                       "WHERE id = %s", (iid,))
    assert row["status"] == "resolved" and row["acknowledged_by"] == "Ada"
    assert row["notes"].endswith("Ada: Restarted the worker service")
    assert [(r["action"], r["target"], r["result"]) for r in actions(db)] == [
        ("acknowledge_incident", f"incident:{iid}", "ok"),
        ("add_incident_note", f"incident:{iid}", "ok"),
        ("resolve_incident", f"incident:{iid}", "ok")]


def test_runbook_ticks_are_saved_per_day_and_operator(console, db):
    at = open_page(console, "runbook")
    at.checkbox(key="tick_daily.ledger").check().run()
    at.checkbox(key="tick_weekly.rpc").check().run()
    rows = db.fetch_all("SELECT day, operator, item FROM recon.runbook_ticks ORDER BY item")
    today = date.today()
    assert [(r["operator"], r["item"]) for r in rows] == [("Ada", "daily.ledger"),
                                                           ("Ada", "weekly.rpc")]
    assert rows[0]["day"] == today and rows[1]["day"].weekday() == 0
    at.checkbox(key="tick_daily.ledger").uncheck().run()
    assert [r["item"] for r in db.fetch_all("SELECT item FROM recon.runbook_ticks")] == \
        ["weekly.rpc"]
    # another operator sees their own list, and who else ticked
    at = open_page(app(operator="Grace"), "runbook")
    assert at.checkbox(key="tick_weekly.rpc").value is False
    assert "also ticked by Ada" in texts(at)


def test_no_action_without_an_operator_name(db_url, api, monkeypatch, tmp_path, factory):
    console_env(monkeypatch, db_url, api, tmp_path)
    program = factory.program()
    user = factory.user(program["id"])
    factory.intent(program["id"], user["id"], status="processing",
                   status_changed_at=ago(minutes=25))
    at = open_page(app(operator=None), "intents")
    assert "Enter your name as **operator**" in texts(at)
    assert not [b for b in at.button if b.key == "retry_stuck"]


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
