"""The admin API over real HTTP (uvicorn on an ephemeral port) against the real database:
every endpoint, every error code with its JSON sentence, the two-person rule, exactly-once
execution and idempotent retries under concurrency, corrections, the audit log."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from refplatform.api import create_app
from sge_recon.config import Settings
from sge_recon.errors import ConfigError

from .factories import ago
from .platform_helpers import (  # noqa: F401 - fixtures
    ADMIN,
    ADMIN_KEY,
    APPROVER_1,
    APPROVER_2,
    api,
    balanced,
    bearer,
    make,
    mdb,
    payable_batch,
    running_api,
)

# one module database, its factory and a real API over HTTP (tests/platform_helpers.py)


def error_of(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str) and len(body["error"]) > 10
    return body["error"]


# -- health and start-up ------------------------------------------------------------------------
def test_health_reports_the_database(api):
    r = api.get("/health")
    assert r.status_code == 200
    assert r.json()["db"] == "ok"


def test_health_is_503_when_the_database_is_down(module_db_url):
    with running_api(module_db_url, database_url="postgresql://postgres@127.0.0.1:1/nodb") as url:
        r = httpx.get(f"{url}/health", timeout=30)
    assert r.status_code == 503
    assert r.json()["db"] == "unreachable"
    assert "unreachable" in r.json()["error"]


def test_the_app_refuses_to_start_without_the_admin_key(module_db_url):
    settings = Settings.load(env={"DATABASE_URL": module_db_url})
    with pytest.raises(ConfigError, match="ADMIN_API_KEY"):
        create_app(settings, database_url=module_db_url)


def test_the_api_command_says_error_without_the_admin_key(cli_env):
    cli_env.pop("ADMIN_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "sge_recon", "api", "--port", "0"], env=cli_env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.startswith("Error: ADMIN_API_KEY")
    assert "Traceback" not in proc.stderr


def test_openapi_lists_every_endpoint(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths) >= {
        "/health", "/admin/reconciliation/force-reconcile", "/admin/reconciliation/retry-intent",
        "/admin/queue/status", "/admin/queue/pause", "/admin/queue/resume",
        "/admin/payouts/batch/{batchId}/approve", "/admin/payouts/batch/{batchId}/execute",
        "/admin/webhooks/{deliveryId}/retry", "/admin/ledger/corrections"}
    assert api.get("/docs").status_code == 200


# -- authentication and roles -------------------------------------------------------------------
ADMIN_CALLS = [("POST", "/admin/queue/pause", None), ("POST", "/admin/queue/resume", None),
               ("POST", "/admin/reconciliation/force-reconcile", {"programId": "p"}),
               ("POST", "/admin/reconciliation/retry-intent", {"intentId": "i"}),
               ("POST", "/admin/payouts/batch/b/execute", None),
               ("POST", "/admin/webhooks/d/retry", None),
               ("POST", "/admin/ledger/corrections", {"programId": "p", "reason": "r", "entries": []})]


@pytest.mark.parametrize("method,path,body", ADMIN_CALLS + [("GET", "/admin/queue/status", None)])
def test_no_key_or_a_bad_key_is_401(api, method, path, body):
    for headers in ({}, bearer("not-a-key"), {"Authorization": "Basic abc"}):
        r = api.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (path, headers)
        assert "key" in error_of(r).lower() or "authorization" in error_of(r).lower()


@pytest.mark.parametrize("method,path,body", ADMIN_CALLS)
def test_an_approver_key_cannot_do_admin_operations(api, method, path, body):
    r = api.request(method, path, json=body, headers=bearer(APPROVER_1))
    assert r.status_code == 403
    assert "ADMIN_API_KEY" in error_of(r)


def test_the_admin_key_cannot_approve(api, make):
    batch = payable_batch(make)["batch"]
    r = api.post(f"/admin/payouts/batch/{batch['id']}/approve", headers=ADMIN)
    assert r.status_code == 403
    assert "approver key" in error_of(r)


# -- malformed input ----------------------------------------------------------------------------
@pytest.mark.parametrize("path,body,words", [
    ("/admin/reconciliation/force-reconcile", {}, "programId is required"),
    ("/admin/reconciliation/force-reconcile", {"programId": "has space"}, "programId must be"),
    ("/admin/reconciliation/force-reconcile", {"programId": "p", "extra": 1}, "not a known field"),
    ("/admin/reconciliation/retry-intent", {"intentId": 12}, "intentId"),
    ("/admin/reconciliation/retry-intent", [], "JSON object"),
    ("/admin/ledger/corrections", {"programId": "p", "reason": "r", "entries": [
        {"account": "treasury", "type": "debit", "amount": 1.5, "currency": "USD"},
        {"account": "x", "type": "credit", "amount": "1.5", "currency": "USD"}]},
     "entries[0].amount must be a positive decimal string"),
    ("/admin/ledger/corrections", {"programId": "p", "reason": "r", "entries": [
        {"account": "treasury", "type": "borrow", "amount": "1", "currency": "USD"},
        {"account": "x", "type": "credit", "amount": "1", "currency": "USD"}]},
     'entries[0].type must be "debit" or "credit"'),
    ("/admin/ledger/corrections", {"programId": "p", "reason": "", "entries": []}, "reason"),
    ("/admin/ledger/corrections", {"programId": "p", "reason": "nul \u0000 byte", "entries": [
        {"account": "treasury", "type": "debit", "amount": "1", "currency": "USD"},
        {"account": "x", "type": "credit", "amount": "1", "currency": "USD"}]}, "reason"),
    ("/admin/ledger/corrections", {"programId": "p", "reason": "r", "entries": [
        {"account": "treasury", "type": "debit", "amount": "0.000", "currency": "USD"},
        {"account": "x", "type": "credit", "amount": "0", "currency": "USD"}]},
     "entries[0].amount must be a positive decimal string"),
    ("/admin/ledger/corrections", {"programId": "p", "reason": "r", "entries": [
        {"account": "treasury", "type": "debit", "amount": "-1", "currency": "USD"},
        {"account": "x", "type": "credit", "amount": "1", "currency": "usd"}]}, "amount"),
])
def test_malformed_bodies_are_422_with_a_sentence(api, path, body, words):
    r = api.post(path, json=body, headers=ADMIN)
    assert r.status_code == 422
    message = error_of(r)
    assert words in message
    assert "Send a JSON body such as" in message


def test_invalid_json_is_422(api):
    r = api.post("/admin/reconciliation/retry-intent", content=b"{not json",
                 headers={**ADMIN, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert "JSON" in error_of(r)


def test_a_malformed_path_id_is_422(api):
    r = api.post("/admin/payouts/batch/bad%20id!/execute", headers=ADMIN)
    assert r.status_code == 422
    assert "batchId must be an id" in error_of(r)


def test_a_binary_body_is_422_and_a_wrong_method_405_with_allow(api):
    r = api.post("/admin/reconciliation/retry-intent", content=b"(\n\x02\xff\xfe\x04",
                 headers={**ADMIN, "Content-Type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in error_of(r)
    r = api.delete("/admin/queue/pause", headers=ADMIN)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert "not allowed" in error_of(r)


def test_an_unknown_endpoint_is_404_json(api):
    r = api.get("/admin/nothing", headers=ADMIN)
    assert r.status_code == 404
    assert "/docs" in error_of(r)


# -- unknown ids --------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,body,headers", [
    ("POST", "/admin/reconciliation/force-reconcile", {"programId": "prog_missing"}, ADMIN),
    ("POST", "/admin/reconciliation/retry-intent", {"intentId": "int_missing"}, ADMIN),
    ("POST", "/admin/payouts/batch/batch_missing/approve", None, bearer(APPROVER_1)),
    ("POST", "/admin/payouts/batch/batch_missing/execute", None, ADMIN),
    ("POST", "/admin/webhooks/dlv_missing/retry", None, ADMIN),
    ("POST", "/admin/ledger/corrections", {"programId": "prog_missing", "reason": "r", "entries": [
        {"account": "treasury", "type": "debit", "amount": "1", "currency": "USD"},
        {"account": "x", "type": "credit", "amount": "1", "currency": "USD"}]}, ADMIN),
])
def test_unknown_ids_are_404(api, method, path, body, headers):
    r = api.request(method, path, json=body, headers=headers)
    assert r.status_code == 404
    assert "does not exist" in error_of(r)


# -- queue --------------------------------------------------------------------------------------
def test_pause_resume_and_status(api, make, mdb):
    make.heartbeat("w-live")
    make.heartbeat("w-dead", last_seen_at=ago(minutes=10))
    r = api.post("/admin/queue/pause", headers=ADMIN)
    assert r.status_code == 200 and r.json()["paused"] is True
    again = api.post("/admin/queue/pause", headers=ADMIN).json()
    assert again["changed"] is False and "already paused" in again["message"]
    status = api.get("/admin/queue/status", headers=bearer(APPROVER_2)).json()
    assert status["paused"] is True and status["changedBy"] == "admin"
    assert {"waiting", "delayed", "active"} <= set(status["depth"])
    by_id = {w["workerId"]: w["status"] for w in status["workers"]}
    assert by_id["w-live"] == "live" and by_id["w-dead"] == "down"
    r = api.post("/admin/queue/resume", headers=ADMIN)
    assert r.json()["paused"] is False
    assert mdb.fetch_one("SELECT paused FROM public.queue_control WHERE queue = 'settlement'")[
        "paused"] is False


def test_every_post_is_audited_with_the_identity_never_the_key(api, mdb):
    api.post("/admin/queue/pause", headers=ADMIN)
    api.post("/admin/queue/resume", headers=bearer(APPROVER_1))
    api.post("/admin/reconciliation/retry-intent", json={"intentId": "int_audit_x"}, headers=ADMIN)
    rows = mdb.fetch_all("SELECT * FROM public.admin_audit_log ORDER BY id DESC LIMIT 3")
    retry, refused, paused = rows
    assert (paused["actor"], paused["path"], paused["status_code"], paused["result"]) == \
        ("admin", "/admin/queue/pause", 200, "ok")
    assert (refused["actor"], refused["status_code"], refused["result"]) == \
        ("approver_1", 403, "refused")
    assert retry["target"] == "int_audit_x" and retry["body"] == {"intentId": "int_audit_x"}
    assert retry["status_code"] == 404 and "does not exist" in retry["message"]
    everything = str(mdb.fetch_all("SELECT * FROM public.admin_audit_log"))
    for key in (ADMIN_KEY, APPROVER_1, APPROVER_2):
        assert key not in everything


# -- force-reconcile ----------------------------------------------------------------------------
def test_force_reconcile_passes_on_a_balanced_ledger_and_records_the_run(api, make, mdb):
    program = make.program()
    make.journal(program["id"], [("treasury", "debit", "10.00"), ("user:u1", "credit", "10.00")])
    r = api.post("/admin/reconciliation/force-reconcile", json={"programId": program["id"]},
                 headers=ADMIN)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "pass"
    assert [c["name"] for c in body["checks"]] == ["ledger_balance", "transaction_balance"]
    assert body["balances"] == [{"currency": "USD", "totalDebits": "10.000000",
                                 "totalCredits": "10.000000", "difference": "0.000000",
                                 "entries": 2}]
    # the platform records the run in its own table, and writes nothing in sge-recon's schema
    run = mdb.fetch_one("SELECT * FROM public.reconcile_runs WHERE run_id = %s", (body["runId"],))
    assert run["status"] == "pass" and run["program_id"] == program["id"]
    assert [c["name"] for c in run["checks"]] == ["ledger_balance", "transaction_balance"]
    assert mdb.fetch_one("SELECT count(*) AS n FROM recon.check_runs WHERE run_id = %s",
                         (body["runId"],))["n"] == 0


def test_force_reconcile_finds_imbalances_of_that_program_only(api, make):
    program, other = make.program(), make.program()
    make.journal(program["id"], [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.99")],
                 transaction_id="txn_off_by_a_cent")
    make.journal(other["id"], [("treasury", "debit", "5.00")])  # broken, but another program
    body = api.post("/admin/reconciliation/force-reconcile", json={"programId": program["id"]},
                    headers=ADMIN).json()
    assert body["status"] == "fail"
    ledger, txn = body["checks"]
    assert ledger["failing_rows"] == 1 and ledger["rows"][0]["difference"] == "0.010000"
    assert txn["failing_rows"] == 1 and txn["rows"][0]["transaction_id"] == "txn_off_by_a_cent"


# -- retry-intent -------------------------------------------------------------------------------
def open_jobs(mdb, intent_id) -> list[dict]:
    return mdb.fetch_all("SELECT * FROM public.jobs WHERE intent_id = %s"
                         " AND status IN ('waiting', 'delayed', 'active')", (intent_id,))


def test_retry_intent_only_for_stuck_or_failed(api, make, mdb):
    program = make.program()
    user = make.user(program["id"])
    done = make.intent(program["id"], user["id"], status="completed")
    fresh = make.intent(program["id"], user["id"], status="verifying", status_changed_at=ago(minutes=1))
    r = api.post("/admin/reconciliation/retry-intent", json={"intentId": done["id"]}, headers=ADMIN)
    assert r.status_code == 409 and "already completed" in error_of(r)
    r = api.post("/admin/reconciliation/retry-intent", json={"intentId": fresh["id"]}, headers=ADMIN)
    assert r.status_code == 409 and "not stuck yet" in error_of(r)
    assert open_jobs(mdb, done["id"]) == [] and open_jobs(mdb, fresh["id"]) == []


def test_retry_of_a_stuck_intent_is_idempotent(api, make, mdb):
    program = make.program()
    user = make.user(program["id"])
    stuck = make.intent(program["id"], user["id"], status="processing",
                        status_changed_at=ago(minutes=30))
    first = api.post("/admin/reconciliation/retry-intent", json={"intentId": stuck["id"]},
                     headers=ADMIN).json()
    second = api.post("/admin/reconciliation/retry-intent", json={"intentId": stuck["id"]},
                      headers=ADMIN).json()
    assert first["created"] is True and second["created"] is False
    assert first["jobId"] == second["jobId"]
    jobs = open_jobs(mdb, stuck["id"])
    assert [j["id"] for j in jobs] == [first["jobId"]] and jobs[0]["status"] == "waiting"


def test_concurrent_retries_leave_one_waiting_job(api, make, mdb):
    program = make.program()
    user = make.user(program["id"])
    failed = make.intent(program["id"], user["id"], status="failed", last_error="rpc down")
    # A duplicate and a job of a dead worker exist already: they are cleaned up too.
    make.job(intent_id=failed["id"], status="delayed", run_at=ago(minutes=-60))
    make.job(intent_id=failed["id"], status="active", worker_id="worker-long-gone")

    def call(_):
        return api.post("/admin/reconciliation/retry-intent", json={"intentId": failed["id"]},
                        headers=ADMIN).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(call, range(20)))
    assert codes == [200] * 20
    jobs = open_jobs(mdb, failed["id"])
    assert len(jobs) == 1 and jobs[0]["status"] == "waiting"
    intent = mdb.fetch_one("SELECT status FROM public.settlement_intents WHERE id = %s",
                           (failed["id"],))
    assert intent["status"] == "created"  # reopened for the worker


# -- payouts: the two-person rule and exactly-once execution ------------------------------------
def approve(api, batch_id, key):
    return api.post(f"/admin/payouts/batch/{batch_id}/approve", headers=bearer(key))


def test_two_person_rule(api, make, mdb):
    batch_id = payable_batch(make)["batch"]["id"]
    r = api.post(f"/admin/payouts/batch/{batch_id}/execute", headers=ADMIN)
    assert r.status_code == 409 and "two distinct approvers" in error_of(r)
    first = approve(api, batch_id, APPROVER_1)
    assert first.status_code == 200 and first.json()["status"] == "pending_approval"
    twice = approve(api, batch_id, APPROVER_1)
    assert twice.status_code == 409 and "already approved" in error_of(twice)
    assert api.post(f"/admin/payouts/batch/{batch_id}/execute", headers=ADMIN).status_code == 409
    second = approve(api, batch_id, APPROVER_2)
    assert second.status_code == 200
    assert second.json()["status"] == "approved"
    assert [a.split("@")[0] for a in second.json()["approvers"]] == ["approver_1", "approver_2"]
    row = mdb.fetch_one("SELECT status, approved_at FROM public.payout_batches WHERE id = %s",
                        (batch_id,))
    assert row["status"] == "approved" and row["approved_at"] is not None
    assert approve(api, batch_id, APPROVER_1).status_code == 409


def test_concurrent_executes_pay_exactly_once(api, make, mdb):
    setup = payable_batch(make, affiliates=3, per_affiliate=2)
    batch_id, program_id = setup["batch"]["id"], setup["program"]["id"]
    approve(api, batch_id, APPROVER_1)
    approve(api, batch_id, APPROVER_2)

    def call(_):
        return api.post(f"/admin/payouts/batch/{batch_id}/execute", headers=ADMIN)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(call, range(20)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 19
    ok = next(a for a in answers if a.status_code == 200).json()
    assert ok["totalPaid"] == "9.000000" and ok["affiliates"] == 3
    entries = mdb.fetch_all("SELECT account, type, amount FROM public.ledger_entries"
                            " WHERE program_id = %s AND transaction_id = %s",
                            (program_id, f"txn_payout_{batch_id}"))
    assert len(entries) == 6  # one debit affiliate:<id> and one credit treasury per affiliate
    assert sum(e["amount"] for e in entries if e["type"] == "debit") == Decimal("9.00")
    assert {e["account"] for e in entries if e["type"] == "credit"} == {"treasury"}
    assert all(e["account"].startswith("affiliate:") for e in entries if e["type"] == "debit")
    assert balanced(mdb, "program_id = %s", (program_id,))
    statuses = mdb.fetch_all("SELECT DISTINCT status FROM public.commissions"
                             " WHERE payout_batch_id = %s", (batch_id,))
    assert statuses == [{"status": "paid"}]
    batch = mdb.fetch_one("SELECT status, executed_at FROM public.payout_batches WHERE id = %s",
                          (batch_id,))
    assert batch["status"] == "executed" and batch["executed_at"] is not None
    refused = next(a for a in answers if a.status_code == 409)
    assert "already executed" in error_of(refused)


# -- webhook retry ------------------------------------------------------------------------------
def test_webhook_retry_schedules_an_immediate_attempt(api, make, mdb):
    program = make.program()
    endpoint = make.endpoint(program["id"])
    failed = make.delivery(endpoint["id"], status="failed", attempt_count=5, last_error="HTTP 500")
    delivered = make.delivery(endpoint["id"], status="delivered")
    r = api.post(f"/admin/webhooks/{failed['id']}/retry", headers=ADMIN)
    assert r.status_code == 200
    assert r.json()["status"] == "retry_scheduled" and r.json()["previousStatus"] == "failed"
    row = mdb.fetch_one("SELECT status, next_retry_at <= now() AS due FROM"
                        " public.webhook_deliveries WHERE id = %s", (failed["id"],))
    assert row == {"status": "retry_scheduled", "due": True}
    r = api.post(f"/admin/webhooks/{delivered['id']}/retry", headers=ADMIN)
    assert r.status_code == 409 and "already delivered" in error_of(r)


def test_webhook_retry_of_a_disabled_endpoint_is_409(api, make):
    program = make.program()
    endpoint = make.endpoint(program["id"], enabled=False, disabled_at=ago(hours=1))
    delivery = make.delivery(endpoint["id"], status="retry_scheduled", attempt_count=2)
    r = api.post(f"/admin/webhooks/{delivery['id']}/retry", headers=ADMIN)
    assert r.status_code == 409 and "disabled" in error_of(r)


# -- corrections --------------------------------------------------------------------------------
def ledger_count(mdb, program_id) -> int:
    return mdb.fetch_one("SELECT count(*) AS n FROM public.ledger_entries WHERE program_id = %s",
                         (program_id,))["n"]


def test_a_balanced_correction_is_one_journal_transaction_with_its_reason(api, make, mdb):
    program = make.program()
    body = {"programId": program["id"], "reason": "refund double charge INC-42", "entries": [
        {"account": "user:u9", "type": "debit", "amount": "12.345678", "currency": "USD"},
        {"account": "treasury", "type": "credit", "amount": "12.345678", "currency": "USD"},
        {"account": "treasury", "type": "debit", "amount": "3", "currency": "EUR"},
        {"account": "user:u9", "type": "credit", "amount": "1.5", "currency": "EUR"},
        {"account": "fees", "type": "credit", "amount": "1.5", "currency": "EUR"}]}
    r = api.post("/admin/ledger/corrections", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    txn = r.json()["transactionId"]
    rows = mdb.fetch_all("SELECT * FROM public.ledger_entries WHERE transaction_id = %s", (txn,))
    assert len(rows) == 5 and {r["program_id"] for r in rows} == {program["id"]}
    assert Decimal("12.345678") in {r["amount"] for r in rows}
    assert balanced(mdb, "transaction_id = %s", (txn,))
    kept = mdb.fetch_one("SELECT reason, actor FROM public.ledger_corrections"
                         " WHERE transaction_id = %s", (txn,))
    assert kept == {"reason": "refund double charge INC-42", "actor": "admin"}
    audit = mdb.fetch_one("SELECT body FROM public.admin_audit_log WHERE path ="
                          " '/admin/ledger/corrections' AND status_code = 200 ORDER BY id DESC")
    assert audit["body"]["reason"] == "refund double charge INC-42"


def test_an_unbalanced_correction_is_422_and_writes_nothing(api, make, mdb):
    program = make.program()
    before = ledger_count(mdb, program["id"])
    body = {"programId": program["id"], "reason": "oops", "entries": [
        {"account": "treasury", "type": "debit", "amount": "10.00", "currency": "USD"},
        {"account": "user:u1", "type": "credit", "amount": "9.99", "currency": "USD"}]}
    r = api.post("/admin/ledger/corrections", json=body, headers=ADMIN)
    assert r.status_code == 422
    assert "does not balance" in error_of(r) and "USD" in error_of(r)
    # Balanced in total but not per currency: still refused.
    body["entries"] = [
        {"account": "treasury", "type": "debit", "amount": "10", "currency": "USD"},
        {"account": "treasury", "type": "credit", "amount": "10", "currency": "EUR"}]
    assert api.post("/admin/ledger/corrections", json=body, headers=ADMIN).status_code == 422
    assert ledger_count(mdb, program["id"]) == before


def test_a_created_intent_never_picked_up_is_retryable(api, make, mdb):
    """Older than INTENT_TIMEOUT_MINUTES (10) without progress counts as stuck."""
    program = make.program()
    user = make.user(program["id"])
    lost = make.intent(program["id"], user["id"], status="created",
                       status_changed_at=ago(minutes=45), created_at=ago(minutes=45))
    r = api.post("/admin/reconciliation/retry-intent", json={"intentId": lost["id"]}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["previousStatus"] == "created"
    assert len(open_jobs(mdb, lost["id"])) == 1
