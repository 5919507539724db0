"""The SGE admin API (/api/v2) stand-in and sge-recon's SGE client, over real HTTP on 127.0.0.1
(issue 17): approve/execute with X-Admin-Id, 400 {error} for every refusal, execute exactly once
with the PAYOUT ledger pairs SGE's payout service writes; the console acts through it and offers
only what the platform supports."""

from __future__ import annotations

import contextlib
import threading
import time

import httpx
import pytest
import uvicorn

from refplatform.sge_api import create_sge_app
from refplatform.sge_platform import create_sge_schema, load_sge_platform
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.sge_admin_client import SgeAdminClient

from .conftest import settings_for


@contextlib.contextmanager
def running_sge_api(db_url: str, **settings):
    app = create_sge_app(settings_for(db_url, **settings), db_url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the SGE API did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def sge(new_database, redis_server):
    url = new_database(empty=True)
    db = Database(url)
    create_sge_schema(db)
    load_sge_platform(db, intents=300, seed=11)
    with running_sge_api(url, REDIS_URL=redis_server.url) as api:
        yield url, db, api


def pending_batch(db) -> dict:
    row = db.fetch_one('SELECT id, "createdById" AS created_by, "programId" AS program_id '
                       'FROM public."PayoutBatch" WHERE status = \'PENDING\' ORDER BY id LIMIT 1')
    return row or new_pending_batch(db)


def new_pending_batch(db) -> dict:
    """A PENDING batch without line items, as the platform's batch job creates them."""
    import uuid

    with db.transaction() as conn:
        return conn.execute(
            'INSERT INTO public."PayoutBatch" (id, "programId", period, "totalAmount", '
            '"affiliateCount", status, "createdById", "createdAt", "updatedAt") SELECT %s, id, '
            '%s, 0, 0, \'PENDING\', \'ops:alice\', now() AT TIME ZONE \'UTC\', now() AT TIME '
            'ZONE \'UTC\' FROM public."Program" ORDER BY id LIMIT 1 RETURNING id, "createdById" '
            'AS created_by, "programId" AS program_id',
            ("c" + uuid.uuid4().hex[:24], "T-" + uuid.uuid4().hex[:8])).fetchone()


def test_approve_and_execute_through_the_sge_client(sge):
    url, db, api = sge
    batch = pending_batch(db)
    with SgeAdminClient(api) as client:
        client.operator = batch["created_by"]
        own = client.approve_batch(batch["id"])
        assert (own.ok, own.status_code) == (False, 400)
        assert "different from the creator" in own.error
        client.operator = "finance:zoe"
        early = client.execute_batch(batch["id"])
        assert early.status_code == 400 and "must be APPROVED" in early.error
        approved = client.approve_batch(batch["id"])
        assert approved.ok and approved.data["batch"]["status"] == "APPROVED"
        twice = client.approve_batch(batch["id"])
        assert twice.status_code == 400 and "only PENDING" in twice.error
        row = db.fetch_one('SELECT "approvedById" AS by, "approvedAt" AS at FROM '
                           'public."PayoutBatch" WHERE id = %s', (batch["id"],))
        assert row["by"] == "finance:zoe" and row["at"] is not None
        done = client.execute_batch(batch["id"])
        assert done.ok and done.data["batch"]["status"] == "COMPLETED", done
        n = done.data["payoutsExecuted"]
        assert n >= 1
        again = client.execute_batch(batch["id"])
        assert again.status_code == 400 and again.error == "Batch already executed"
        unknown = client.execute_batch("nope")
        assert unknown.status_code == 400 and "not found" in unknown.error
    # what SGE's payout service writes: line items COMPLETED, one balanced PAYOUT pair each
    # (debit the affiliate's liability, credit the program's treasury), commissions PAID
    payouts = db.fetch_all('SELECT id, "affiliateId" AS aid, amount, status FROM public."Payout" '
                           'WHERE "batchId" = %s', (batch["id"],))
    assert {p["status"] for p in payouts} == {"COMPLETED"} and len(payouts) == n
    for p in payouts:
        legs = db.fetch_all('SELECT account, amount FROM public."LedgerEntry" WHERE '
                            '"refType" = \'PAYOUT\' AND "refId" = %s ORDER BY amount DESC',
                            (p["id"],))
        assert [(l["account"], l["amount"]) for l in legs] == [
            (f"affiliate:{p['aid']}:liability", p["amount"]),
            (f"program:{batch['program_id']}:treasury", -p["amount"])]
    unpaid = db.fetch_one('SELECT count(*) AS n FROM public."Commission" c JOIN public."Payout" p '
                          'ON p.id = c."payoutId" WHERE p."batchId" = %s AND c.status <> '
                          '\'PAID\'', (batch["id"],))
    assert unpaid["n"] == 0
    audit = db.fetch_all('SELECT action, "actorId" AS actor FROM public."AuditLog" WHERE '
                         '"targetId" = %s ORDER BY "createdAt"', (batch["id"],))
    assert [(a["action"], a["actor"]) for a in audit][-2:] == [
        ("PAYOUT_BATCH_APPROVED", "finance:zoe"), ("PAYOUT_BATCH_EXECUTED", "finance:zoe")]
    # the books still reconcile through the sge profile after the payout
    recon = Recon(settings_for(url, PLATFORM_PROFILE="sge"))
    recon.init_db()
    run = recon.checks.run(only=["ledger_balance", "transaction_balance", "commission_ledger"],
                           store=False)
    assert {c.name: c.status for c in run.checks} == {
        "ledger_balance": "pass", "transaction_balance": "pass", "commission_ledger": "pass"}


def test_every_refusal_is_400_with_an_error_and_no_identity_no_action(sge):
    _, db, api = sge
    batch = pending_batch(db)
    r = httpx.post(f"{api}/api/v2/payouts/batch/{batch['id']}/approve")
    assert r.status_code == 400 and r.json() == {"error": "X-Admin-Id header is required"}
    r = httpx.post(f"{api}/api/v2/enterprise/reconcile", json={"programId": "nope"})
    assert r.status_code == 400 and "not found" in r.json()["error"]
    with SgeAdminClient(api) as client:  # no operator: the client refuses before sending
        res = client.approve_batch(batch["id"])
        assert not res.ok and res.status_code is None and "X-Admin-Id" in res.error
    # the §6 paths do not exist on SGE
    assert httpx.post(f"{api}/admin/queue/pause").status_code == 404


def test_reconcile_stats_health_and_what_sge_lacks(sge, redis_server):
    import redis

    _, db, api = sge
    platform = redis.Redis.from_url(redis_server.url)
    for name in ("intents", "payouts", "reconciler"):  # as the platform's Node Queue objects
        platform.hsetnx(f"bull:{name}:meta", "opts.maxLenEvents", 10000)  # do when made
    platform.close()
    with SgeAdminClient(api) as client:
        assert client.health().ok
        rec = client.force_reconcile(None)
        assert rec.ok and rec.data["balanced"] is True and "balanced" in rec.message
        stats = client.stats()
        assert stats.ok and set(stats.data["queues"]) == {"intents", "payouts", "reconciler"}
        assert stats.data["database"]["programs"] >= 1
        fix = client.ledger_correction("p", "r", [])
        assert not fix.ok and "no ledger-correction endpoint" in fix.error
        assert "no retry-intent endpoint" in client.retry_intent("i").error


def test_the_console_approves_as_the_accounts_sge_id_and_hides_what_sge_lacks(sge, monkeypatch,
                                                                       tmp_path):
    from .console_support import app, console_env, open_page, texts
    from .test_console_actions import acting_as

    url, db, api = sge
    batch = pending_batch(db)
    recon = Recon(settings_for(url, PLATFORM_PROFILE="sge", SGE_ADMIN_API_URL=api))
    recon.init_db()
    acting_as(url, alice="approver1", root="admin")  # the accounts the library acts as
    from sge_recon.accounts import AccountService

    for name, platform_id in (("alice", "finance:alice"), ("root", "ops:root")):
        AccountService(db).set_platform_id(name, platform_id)  # their SGE admin ids
    console = recon.console
    assert console.action_unsupported("ledger_correction") == \
        "the SGE platform has no ledger-correction endpoint"
    outcome = console.actions.approve_batch("alice", batch["id"], "")
    assert outcome.ok, outcome.message
    actor = db.fetch_one('SELECT "approvedById" AS by FROM public."PayoutBatch" WHERE id = %s',
                         (batch["id"],))["by"]
    assert actor == "finance:alice"  # the account's SGE admin id (X-Admin-Id), not its name
    refused = console.actions.execute_batch("root", "nope")
    assert not refused.ok and "HTTP 400" in refused.message
    log = console.recent_actions(2)
    assert [(r["action"], r["result"]) for r in log] == [
        ("execute_payout_batch", "failed"), ("approve_payout_batch", "ok")]

    console_env(monkeypatch, url, api, tmp_path, PLATFORM_PROFILE="sge")
    at = open_page(app("ada"), "ledger")
    assert "the SGE platform has no ledger-correction endpoint" in texts(at)
    assert not [b for b in at.button if b.key == "force_reconcile"] == []  # reconcile exists
    at = open_page(app("alice"), "payouts")  # an approver account
    at.query_params["id"] = batch["id"]
    at.run()
    assert "X-Admin-Id" in texts(at), texts(at)
    assert not [t for t in at.text_input if t.key == "approver_key"]
