"""The admin API's bounds over real HTTP against the real database: bodies bounded before auth and
before storage (413, a redacted audit summary), full-match ASCII validation of amounts, currencies
and accounts, a magnitude bound that keeps the checks' sums within numeric(38,6), and approvals
bound to the key, not to its config slot."""

from __future__ import annotations

import httpx
import pytest

from refplatform.api import MAX_BODY_BYTES
from sge_recon.context import Recon
from sge_recon.db import Database

from .conftest import settings_for
from .platform_helpers import (  # noqa: F401 - fixtures
    ADMIN,
    APPROVER_1,
    APPROVER_2,
    api,
    bearer,
    make,
    mdb,
    payable_batch,
    running_api,
)

# one module database, its factory and a real API over HTTP (tests/platform_helpers.py)


def last_audit(mdb: Database) -> dict:
    return mdb.fetch_one("SELECT *, octet_length(body::text) AS body_bytes "
                         "FROM public.admin_audit_log ORDER BY id DESC LIMIT 1")


def correction(program_id: str, *entries) -> dict:
    return {"programId": program_id, "reason": "hardening probe",
            "entries": [{"account": a, "type": t, "amount": m, "currency": c}
                        for a, t, m, c in entries]}


# -- bodies bounded before auth and before storage ------------------------------------------------
@pytest.mark.parametrize("headers", [{}, ADMIN], ids=["anonymous", "admin"])
def test_an_oversized_body_is_413_and_never_stored(api, mdb, headers):
    body = b'{"programId": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = api.post("/admin/reconciliation/force-reconcile", content=body,
                 headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert set(r.json()) == {"error"} and "64 KiB" in r.json()["error"]
    row = last_audit(mdb)
    assert row["status_code"] == 413 and row["result"] == "refused"
    assert row["body_bytes"] < 200 and "xxxx" not in str(row)


def test_a_streamed_body_without_length_is_cut_at_the_bound(api, mdb):
    def chunks():
        for _ in range(40):
            yield b"y" * 4096  # 160 KiB, chunked: no Content-Length to trust
    r = api.post("/admin/ledger/corrections", content=chunks(),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "error" in r.json()
    assert last_audit(mdb)["body_bytes"] < 200


def test_a_body_at_the_bound_is_still_read(api):
    body = b'{"intentId": "' + b"a" * (MAX_BODY_BYTES - 20) + b'"}'
    assert len(body) <= MAX_BODY_BYTES
    r = api.post("/admin/reconciliation/retry-intent", content=body,
                 headers={**ADMIN, "Content-Type": "application/json"})
    assert r.status_code == 422  # read and validated (the id is too long), not refused for size


def test_a_refused_unauthenticated_call_keeps_only_a_redacted_summary(api, mdb):
    secret = "card 4111111111111111 and some words"
    r = api.post("/admin/ledger/corrections", json={"programId": "p", "reason": secret},
                 headers=bearer("not-a-key"))
    assert r.status_code == 401
    row = last_audit(mdb)
    assert row["actor"] == "invalid-key" and row["result"] == "refused"
    assert row["body"]["redacted"] is True and row["body"]["fields"] == ["programId", "reason"]
    assert secret not in str(row) and len(row["body"]["sha256"]) == 64


# -- every call is audited, whatever it sends -------------------------------------------------------
@pytest.mark.parametrize("body", [b'{"note": "\\ud800"}', b"[" * 5000 + b"]" * 5000,
                                  b'{"note": "nul \\u0000 inside"}'],
                         ids=["lone-surrogate", "nested-5000", "nul"])
def test_a_body_postgresql_cannot_hold_still_leaves_the_executions_audit_row(api, make, mdb,
                                                                             body):
    batch_id = payable_batch(make, status="approved")["batch"]["id"]
    before = mdb.fetch_one("SELECT max(id) AS id FROM public.admin_audit_log")["id"] or 0
    r = api.post(f"/admin/payouts/batch/{batch_id}/execute", content=body,
                 headers={**ADMIN, "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["status"] == "executed", r.text
    [row] = mdb.fetch_all("SELECT * FROM public.admin_audit_log WHERE id > %s", (before,))
    assert (row["actor"], row["status_code"], row["result"]) == ("admin", 200, "ok")
    assert batch_id in row["path"]


def test_a_path_with_a_nul_is_refused_and_audited(api, mdb):
    before = mdb.fetch_one("SELECT max(id) AS id FROM public.admin_audit_log")["id"] or 0
    r = api.post("/admin/payouts/batch/b%00x/execute", headers=ADMIN)
    assert r.status_code in (404, 422)
    [row] = mdb.fetch_all("SELECT * FROM public.admin_audit_log WHERE id > %s", (before,))
    assert row["status_code"] == r.status_code and row["result"] == "refused"


@pytest.mark.parametrize("headers, status, actor", [
    ({}, 401, "anonymous"), (bearer("not-a-key"), 401, "invalid-key"),
    (bearer(APPROVER_1), 403, "approver_1"), (ADMIN, 422, "admin")])
def test_the_key_is_checked_before_a_malformed_body(api, mdb, headers, status, actor):
    """FastAPI parses the body before the key: a caller without the right key must not learn
    the body's shape (422 with an example), and the audit must name who called."""
    r = api.post("/admin/ledger/corrections", content=b"{not json",
                 headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert ("example" in r.text or "such as" in r.text) is (status == 422)
    row = last_audit(mdb)
    assert (row["status_code"], row["actor"]) == (status, actor)


def test_a_redirect_or_an_unknown_path_is_no_ok_call_and_no_invalid_key(api, mdb):
    """An auditor counts the ok approvals in the audit log, and looks for key guessing under
    invalid-key: a valid approver key sent to `/approve/` (307 to the path without the slash,
    nothing approved) or to an unknown path is neither."""
    r = api.post("/admin/payouts/batch/b_redirect/approve/", headers=bearer(APPROVER_1))
    assert r.status_code == 307
    row = last_audit(mdb)
    assert (row["actor"], row["status_code"], row["result"]) == ("unverified-key", 307,
                                                                 "refused")
    r = api.post("/admin/payouts/batch/b_redirect/approve/now", headers=bearer(APPROVER_1))
    assert r.status_code == 404
    row = last_audit(mdb)
    assert (row["actor"], row["result"]) == ("unverified-key", "refused")


# -- amounts, currencies, accounts: full matches of ASCII text ------------------------------------
@pytest.mark.parametrize("field,value,words", [
    ("amount", "1\n", "amount"),
    ("amount", "1.5\n", "amount"),
    ("amount", "\u0661\u0662", "amount"),                 # Arabic-Indic digits
    ("amount", "\uff11", "amount"),                       # full-width 1
    ("amount", "1" + "0" * 15, "amount"),                 # 10^15: over the bound
    ("amount", "9" * 32, "amount"),                       # the overflow probe of the issue
    ("amount", " 1", "amount"),
    ("currency", "USD\n", "currency"),
    ("account", "treasury\n", "account"),
    ("account", "tr\u0435asury", "account"),              # Cyrillic e
    ("account", "treas\u200bury", "account"),             # zero-width space
    ("account", "user:u1 ", "account"),
    ("account", "Treasury", "account"),
])
def test_hostile_entry_values_are_422(api, make, field, value, words):
    program = make.program()
    entry = {"account": "user:u1", "type": "credit", "amount": "1", "currency": "USD"}
    entry[field] = value
    body = correction(program["id"], ("treasury", "debit", entry["amount"], entry["currency"]))
    body["entries"].append(entry)
    r = api.post("/admin/ledger/corrections", json=body, headers=ADMIN)
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]


def test_the_largest_amounts_keep_the_ledger_checks_running(api, make, module_db_url):
    program = make.program()
    top = "999999999999999.999999"
    for _ in range(3):
        r = api.post("/admin/ledger/corrections", headers=ADMIN, json=correction(
            program["id"], ("treasury", "debit", top, "USD"), ("user:u1", "credit", top, "USD")))
        assert r.status_code == 200, r.text
    run = Recon(settings_for(module_db_url)).checks.run(
        only=["ledger_balance", "transaction_balance"], store=False)
    assert {c.name: c.status for c in run.checks} == {"ledger_balance": "pass",
                                                      "transaction_balance": "pass"}


# -- approvals are bound to the key ---------------------------------------------------------------
def test_a_key_moved_to_the_other_slot_cannot_approve_twice(module_db_url, make, mdb):
    batch_id = payable_batch(make)["batch"]["id"]
    with running_api(module_db_url) as first, \
            running_api(module_db_url, PAYOUT_APPROVER_1="another-approver-key-0123456789",
                        PAYOUT_APPROVER_2=APPROVER_1) as rotated:
        a = httpx.post(f"{first}/admin/payouts/batch/{batch_id}/approve",
                       headers=bearer(APPROVER_1), timeout=30)
        assert a.status_code == 200 and a.json()["status"] == "pending_approval"
        b = httpx.post(f"{rotated}/admin/payouts/batch/{batch_id}/approve",
                       headers=bearer(APPROVER_1), timeout=30)  # same key, now "approver_2"
        assert b.status_code == 409 and "already approved" in b.json()["error"]
        c = httpx.post(f"{first}/admin/payouts/batch/{batch_id}/approve",
                       headers=bearer(APPROVER_2), timeout=30)
        assert c.status_code == 200 and c.json()["status"] == "approved"
    recorded = [r["approver"] for r in mdb.fetch_all(
        "SELECT approver FROM public.payout_approvals WHERE batch_id = %s", (batch_id,))]
    assert len(recorded) == 2 and APPROVER_1 not in str(recorded)


def test_a_rotated_key_is_still_its_slots_approver_and_cannot_approve_twice(module_db_url, make,
                                                                             mdb):
    """Slot 1 approves, its key is rotated, and the new slot-1 key approves again: still one
    person, so the batch stays pending and cannot be executed on one approver's word."""
    batch_id = payable_batch(make)["batch"]["id"]
    rotated_key = "rotated-approver-one-key-0123456789"
    with running_api(module_db_url) as before:
        a = httpx.post(f"{before}/admin/payouts/batch/{batch_id}/approve",
                       headers=bearer(APPROVER_1), timeout=30)
        assert a.status_code == 200 and a.json()["status"] == "pending_approval"
    with running_api(module_db_url, PAYOUT_APPROVER_1=rotated_key) as after:
        b = httpx.post(f"{after}/admin/payouts/batch/{batch_id}/approve",
                       headers=bearer(rotated_key), timeout=30)
        assert b.status_code == 409 and "already approved" in b.json()["error"]
        paid = httpx.post(f"{after}/admin/payouts/batch/{batch_id}/execute",
                          headers=ADMIN, timeout=30)
        assert paid.status_code == 409
        c = httpx.post(f"{after}/admin/payouts/batch/{batch_id}/approve",
                       headers=bearer(APPROVER_2), timeout=30)
        assert c.status_code == 200 and c.json()["status"] == "approved"
    recorded = mdb.fetch_all("SELECT approver FROM public.payout_approvals WHERE batch_id = %s",
                             (batch_id,))
    assert sorted(r["approver"].partition("@")[0] for r in recorded) == ["approver_1",
                                                                         "approver_2"]


def test_an_approval_recorded_before_fingerprints_still_counts_for_its_slot(api, make):
    batch_id = payable_batch(make)["batch"]["id"]
    make.approval(batch_id, "approver_1")  # as the API recorded it before keys were fingerprinted
    again = api.post(f"/admin/payouts/batch/{batch_id}/approve", headers=bearer(APPROVER_1))
    assert again.status_code == 409 and "already approved" in again.json()["error"]
    other = api.post(f"/admin/payouts/batch/{batch_id}/approve", headers=bearer(APPROVER_2))
    assert other.status_code == 200 and other.json()["status"] == "approved"
