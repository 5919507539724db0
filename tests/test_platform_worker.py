"""The settlement worker against the real database: one transaction for everything that moves
money, commissions up the tree, the backoff schedule on an injected clock, the pause flag, and a
real `sge-recon worker` process killed with SIGKILL mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from refplatform.schedules import ManualClock
from refplatform.worker import Worker, commission_amount

from .factories import ago
from .platform_helpers import balanced, enqueue_intents


def make_intent(factory, program, user, amount="123.45", fault=None, repeats=1, **kw):
    intent = factory.intent(program["id"], user["id"], status="created", attempts=0,
                            amount=Decimal(amount), **kw)
    factory.job(intent_id=intent["id"], run_at=ago(seconds=1))
    if fault:
        factory.insert("platform_faults", {"intent_id": intent["id"], "kind": fault,
                                           "remaining": repeats})
    return intent


def drain(worker: Worker) -> int:
    n = 0
    while worker.run_one():
        n += 1
    return n


@pytest.fixture
def tree(factory):
    program = factory.program(direct_commission_rate=Decimal("0.01"),
                              parent_commission_rate=Decimal("0.005"))
    parent = factory.affiliate(program["id"])
    child = factory.affiliate(program["id"], parent_id=parent["id"])
    user = factory.user(program["id"], referred_by=child["id"])
    endpoint = factory.endpoint(program["id"])
    factory.endpoint(program["id"], enabled=False)
    return {"program": program, "parent": parent, "child": child, "user": user,
            "endpoint": endpoint}


@pytest.fixture
def worker(db_url):
    clock = ManualClock()
    w = Worker(db_url, worker_id="w-test", clock=clock)
    w.clock_ = clock
    w.start()
    yield w
    w.close()


def test_commission_amount_rounds_half_up_to_cents():
    assert commission_amount(Decimal("123.45"), Decimal("0.01")) == Decimal("1.23")
    assert commission_amount(Decimal("123.45"), Decimal("0.005")) == Decimal("0.62")
    assert commission_amount(Decimal("0.50"), Decimal("0.01")) == Decimal("0.01")


def test_an_intent_is_settled_with_ledger_commissions_and_webhooks(factory, db, tree, worker):
    intent = make_intent(factory, tree["program"], tree["user"])
    assert drain(worker) == 1
    row = db.fetch_one("SELECT * FROM public.settlement_intents WHERE id = %s", (intent["id"],))
    assert row["status"] == "completed" and row["completed_at"] is not None
    assert row["attempts"] == 1
    settlement = db.fetch_one("SELECT * FROM public.settlements WHERE intent_id = %s",
                              (intent["id"],))
    chain = db.fetch_one("SELECT * FROM public.chain_transactions WHERE tx_hash = %s",
                         (settlement["tx_hash"],))
    assert chain["to_address"] == tree["program"]["treasury_address"]
    assert chain["amount"] == settlement["amount"] == Decimal("123.45")
    assert chain["block_number"] == settlement["block_number"]
    entries = db.fetch_all("SELECT transaction_id, account, type, amount FROM public.ledger_entries"
                           " WHERE intent_id = %s ORDER BY id", (intent["id"],))
    by_account = {(e["account"], e["type"]): e["amount"] for e in entries}
    assert by_account[(f"user:{tree['user']['id']}", "credit")] == Decimal("123.45")
    assert by_account[(f"affiliate:{tree['child']['id']}", "credit")] == Decimal("1.23")
    assert by_account[(f"affiliate:{tree['parent']['id']}", "credit")] == Decimal("0.62")
    assert len(entries) == 6 and len({e["transaction_id"] for e in entries}) == 3
    assert balanced(db)
    commissions = db.fetch_all("SELECT affiliate_id, level, rate, base_amount, amount, status"
                               " FROM public.commissions WHERE intent_id = %s ORDER BY level",
                               (intent["id"],))
    assert [(c["affiliate_id"], c["level"], c["rate"], c["amount"], c["status"])
            for c in commissions] == [
        (tree["child"]["id"], 1, Decimal("0.01"), Decimal("1.23"), "accrued"),
        (tree["parent"]["id"], 2, Decimal("0.005"), Decimal("0.62"), "accrued")]
    deliveries = db.fetch_all("SELECT endpoint_id, status, payload FROM public.webhook_deliveries")
    assert [d["endpoint_id"] for d in deliveries] == [tree["endpoint"]["id"]]  # enabled only
    assert deliveries[0]["payload"]["amount"] == "123.450000"
    job = db.fetch_one("SELECT status, finished_at FROM public.jobs WHERE intent_id = %s",
                       (intent["id"],))
    assert job["status"] == "completed" and job["finished_at"] is not None
    assert db.fetch_one("SELECT count(*) AS n FROM public.rpc_calls WHERE ok")["n"] == 1
    worker.beat()
    hb = db.fetch_one("SELECT jobs_completed FROM public.worker_heartbeats WHERE worker_id = 'w-test'")
    assert hb["jobs_completed"] == 1


def test_a_user_without_referrer_earns_no_commission(factory, db, worker):
    program = factory.program()
    user = factory.user(program["id"])
    intent = make_intent(factory, program, user, amount="50.00")
    drain(worker)
    assert db.fetch_one("SELECT count(*) AS n FROM public.commissions")["n"] == 0
    assert db.fetch_one("SELECT count(*) AS n FROM public.ledger_entries WHERE intent_id = %s",
                        (intent["id"],))["n"] == 2


def test_transient_failures_follow_the_backoff_then_fail(factory, db, tree, worker):
    clock = worker.clock_
    intent = make_intent(factory, tree["program"], tree["user"], fault="rpc_error", repeats=5)
    delays = []
    for _ in range(4):
        assert drain(worker) == 1
        job = db.fetch_one("SELECT * FROM public.jobs WHERE intent_id = %s", (intent["id"],))
        assert job["status"] == "delayed" and "RPC error" in job["last_error"]
        delays.append(job["run_at"] - clock())
        assert drain(worker) == 0  # not due yet
        clock.now = job["run_at"]
    assert delays == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
                      timedelta(hours=1)]
    assert drain(worker) == 1
    row = db.fetch_one("SELECT status, attempts, last_error FROM public.settlement_intents"
                       " WHERE id = %s", (intent["id"],))
    assert row["status"] == "failed" and row["attempts"] == 5 and "RPC error" in row["last_error"]
    job = db.fetch_one("SELECT status FROM public.jobs WHERE intent_id = %s", (intent["id"],))
    assert job["status"] == "failed"
    assert db.fetch_one("SELECT count(*) AS n FROM public.ledger_entries")["n"] == 0
    assert db.fetch_one("SELECT count(*) AS n FROM public.rpc_calls WHERE NOT ok")["n"] == 5


def test_a_late_payment_is_retried_and_then_settles(factory, db, tree, worker):
    intent = make_intent(factory, tree["program"], tree["user"], fault="payment_delay", repeats=1)
    drain(worker)
    row = db.fetch_one("SELECT status, last_error FROM public.settlement_intents WHERE id = %s",
                       (intent["id"],))
    assert row["status"] == "payment_pending" and "payment not received" in row["last_error"]
    worker.clock_.advance(minutes=1)
    assert drain(worker) == 1
    row = db.fetch_one("SELECT status, attempts FROM public.settlement_intents WHERE id = %s",
                       (intent["id"],))
    assert row == {"status": "completed", "attempts": 2}


def test_an_intent_of_a_missing_program_fails_at_once(factory, db, tree, worker):
    intent = make_intent(factory, {"id": "prog_gone"}, tree["user"])
    assert drain(worker) == 1
    row = db.fetch_one("SELECT status, last_error FROM public.settlement_intents WHERE id = %s",
                       (intent["id"],))
    assert row["status"] == "failed" and "prog_gone does not exist" in row["last_error"]
    assert db.fetch_one("SELECT count(*) AS n FROM public.ledger_entries")["n"] == 0


def test_the_pause_flag_is_honoured(factory, db, tree, worker):
    make_intent(factory, tree["program"], tree["user"])
    db.execute("UPDATE public.queue_control SET paused = true WHERE queue = 'settlement'")
    assert drain(worker) == 0
    db.execute("UPDATE public.queue_control SET paused = false WHERE queue = 'settlement'")
    assert drain(worker) == 1


def test_a_failure_inside_the_money_transaction_writes_nothing(factory, db, tree, worker):
    """A commission insert that fails (here: a trigger) rolls back the settlement and ledger."""
    intent = make_intent(factory, tree["program"], tree["user"])
    db.execute_script(
        "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$;"
        " CREATE TRIGGER boom BEFORE INSERT ON public.commissions FOR EACH ROW EXECUTE FUNCTION boom();")
    drain(worker)
    for table in ("ledger_entries", "settlements", "chain_transactions", "commissions",
                  "webhook_deliveries"):
        assert db.fetch_one(f"SELECT count(*) AS n FROM public.{table}")["n"] == 0, table
    job = db.fetch_one("SELECT status, last_error FROM public.jobs WHERE intent_id = %s",
                       (intent["id"],))
    assert job["status"] == "delayed" and "disk on fire" in job["last_error"]
    db.execute_script("DROP TRIGGER boom ON public.commissions; DROP FUNCTION boom();")
    worker.clock_.advance(minutes=1)
    assert drain(worker) == 1
    assert db.fetch_one("SELECT count(*) AS n FROM public.ledger_entries")["n"] == 6
    assert balanced(db)


def test_the_job_of_a_dead_worker_is_requeued(factory, db, tree, db_url):
    intent = factory.intent(tree["program"]["id"], tree["user"]["id"], status="processing",
                            attempts=1, amount=Decimal("10.00"))
    factory.job(intent_id=intent["id"], status="active", attempts=1, worker_id="w-gone")
    w = Worker(db_url, worker_id="w-alive")
    w.start()
    try:
        job = db.fetch_one("SELECT status FROM public.jobs WHERE intent_id = %s", (intent["id"],))
        assert job["status"] == "waiting"
        assert drain(w) == 1
    finally:
        w.close()
    row = db.fetch_one("SELECT status FROM public.settlement_intents WHERE id = %s", (intent["id"],))
    assert row["status"] == "completed"


def test_a_restarted_worker_keeps_its_slot_and_takes_back_its_job(factory, db, tree, db_url):
    factory.heartbeat("worker-1", jobs_completed=41, last_seen_at=ago(minutes=5))
    intent = factory.intent(tree["program"]["id"], tree["user"]["id"], status="verifying")
    factory.job(intent_id=intent["id"], status="active", attempts=1, worker_id="worker-1")
    w = Worker(db_url)  # no id: the first free slot
    w.start()
    try:
        assert w.worker_id == "worker-1"
        assert drain(w) == 1
        w.beat()
    finally:
        w.close()
    row = db.fetch_one("SELECT status FROM public.settlement_intents WHERE id = %s", (intent["id"],))
    assert row["status"] == "completed"
    hb = db.fetch_one("SELECT jobs_completed FROM public.worker_heartbeats WHERE worker_id = 'worker-1'")
    assert hb["jobs_completed"] == 42  # cumulative over the slot's processes


def test_a_live_workers_job_is_not_taken_from_it(factory, db, tree, db_url):
    intent = factory.intent(tree["program"]["id"], tree["user"]["id"], status="processing")
    one = Worker(db_url, worker_id="w-one")
    one.start()
    try:
        factory.job(intent_id=intent["id"], status="active", worker_id="w-one")
        two = Worker(db_url, worker_id="w-two")
        two.start()
        try:
            job = db.fetch_one("SELECT status FROM public.jobs WHERE intent_id = %s",
                               (intent["id"],))
            assert job["status"] == "active"
        finally:
            two.close()
    finally:
        one.close()


def test_a_restarted_worker_waits_a_moment_for_its_id_and_a_live_one_keeps_it(db_url,
                                                                               monkeypatch):
    """Restarted at once after a crash, a worker finds its id's lock still held by the dead
    one's backend for a moment: it waits for it instead of refusing; an id a live worker holds
    is still refused, in words, after the wait."""
    import threading

    from refplatform import worker as worker_module
    from refplatform.worker import WorkerIdInUse

    monkeypatch.setattr(worker_module, "IDENTITY_WAIT_SECONDS", 2.0)
    dying = Worker(db_url, worker_id="w-restart")
    dying.start()
    threading.Timer(0.5, dying.close).start()  # its backend lets go a moment after the restart
    restarted = Worker(db_url, worker_id="w-restart")
    restarted.start()
    restarted.close()

    live = Worker(db_url, worker_id="w-live")
    live.start()
    try:
        second = Worker(db_url, worker_id="w-live")
        started = time.monotonic()
        with pytest.raises(WorkerIdInUse, match="w-live is already used by a live worker"):
            second.start()
        assert time.monotonic() - started >= 2.0
        second.close()
    finally:
        live.close()


def consistent(db) -> dict:
    """Every intent is either fully settled or has written nothing; returns counts."""
    rows = db.fetch_all(
        "SELECT i.id, i.status,"
        " (SELECT count(*) FROM public.ledger_entries l WHERE l.intent_id = i.id) AS entries,"
        " (SELECT count(*) FROM public.settlements s WHERE s.intent_id = i.id) AS settlements,"
        " (SELECT count(*) FROM public.commissions c WHERE c.intent_id = i.id) AS commissions"
        " FROM public.settlement_intents i")
    for r in rows:
        if r["status"] == "completed":
            assert (r["entries"], r["settlements"], r["commissions"]) == (6, 1, 2), r
        else:
            assert (r["entries"], r["settlements"], r["commissions"]) == (0, 0, 0), r
    assert balanced(db)
    return {"completed": sum(r["status"] == "completed" for r in rows), "total": len(rows)}


@pytest.mark.slow
def test_a_worker_killed_mid_run_leaves_no_half_written_ledger(factory, db, tree, cli_env):
    intents = 400
    enqueue_intents(db, tree["program"]["id"], tree["user"]["id"],
                    [f"int_kill_{n:04d}" for n in range(intents)], Decimal("99.99"))
    argv = [sys.executable, "-m", "sge_recon", "worker", "--no-webhooks", "--poll-interval", "0.1"]
    first = subprocess.Popen(argv, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while consistent(db)["completed"] < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    after_kill = consistent(db)
    assert 0 < after_kill["completed"] < intents

    second = subprocess.Popen(argv, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    deadline = time.monotonic() + 120
    while consistent(db)["completed"] < intents and time.monotonic() < deadline:
        time.sleep(0.2)
    second.send_signal(signal.SIGTERM)
    out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    assert "stopped" in out
    assert consistent(db) == {"completed": intents, "total": intents}
    assert db.fetch_one("SELECT count(*) AS n FROM public.ledger_entries")["n"] == 6 * intents
    assert db.fetch_one("SELECT count(*) AS n FROM public.jobs WHERE status = 'active'")["n"] == 0
