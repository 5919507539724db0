"""Live traffic and the platform end to end: traffic → worker → webhooks → payouts through the API,
after which the §5 money checks are clean; and the commands stop cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from refplatform.dispatcher import WebhookDispatcher
from refplatform.traffic import Traffic
from refplatform.worker import Worker

from .platform_helpers import ADMIN, APPROVER_1, APPROVER_2, KEYS, balanced, bearer, running_api

MONEY_CHECKS = ["ledger_balance", "transaction_balance", "commission_accuracy",
                "commission_ledger", "settlement_chain_match", "affiliate_tree"]


def count(db, sql, params=()):
    return db.fetch_one(f"SELECT count(*) AS n FROM {sql}", params)["n"]


def test_traffic_creates_intents_jobs_and_faults(db, db_url):
    t = Traffic(db_url, rate=1, fault_rate=0.5, receiver_port=-1, seed=3)
    t.setup()
    try:
        t.create_intents(40)
    finally:
        t.close()
    assert count(db, "public.settlement_intents WHERE status = 'created'") == 40
    assert count(db, "public.jobs WHERE status = 'waiting' AND queue = 'settlement'") == 40
    assert 5 <= count(db, "public.platform_faults") <= 35  # about half, seeded
    assert count(db, "public.programs") == 1 and count(db, "public.affiliates") >= 10


def test_the_platform_end_to_end_keeps_the_money_checks_clean(db, db_url, recon):
    traffic = Traffic(db_url, rate=1, fault_rate=0, receiver_port=0, seed=11)
    traffic.setup()
    try:
        traffic.create_intents(60)
        worker = Worker(db_url, worker_id="w-e2e")
        worker.start()
        try:
            while worker.run_one():
                pass
        finally:
            worker.close()
        dispatcher = WebhookDispatcher(db_url)
        try:
            dispatcher.run_due(limit=1000)
        finally:
            dispatcher.close()
        batches = traffic.create_batches()
        received = traffic.receiver.received
        bad = traffic.receiver.bad_signatures
    finally:
        traffic.close()
    assert count(db, "public.settlement_intents WHERE status = 'completed'") == 60
    assert count(db, "public.webhook_deliveries WHERE status = 'delivered'") >= 60
    assert received >= 60 and bad == 0  # every delivery signed with its endpoint's secret
    assert batches == 1
    batch = db.fetch_one("SELECT id FROM public.payout_batches")
    with running_api(db_url) as url, httpx.Client(base_url=url, timeout=30) as api:
        for key in (APPROVER_1, APPROVER_2):
            assert api.post(f"/admin/payouts/batch/{batch['id']}/approve",
                            headers=bearer(key)).status_code == 200
        assert api.post(f"/admin/payouts/batch/{batch['id']}/execute",
                        headers=ADMIN).status_code == 200
    assert balanced(db)
    assert count(db, "public.commissions WHERE status <> 'paid'") == 0
    run = recon.checks.run(only=MONEY_CHECKS, store=False)
    statuses = {c.name: c.status for c in run.checks}
    assert statuses == {name: "pass" for name in MONEY_CHECKS}, [
        (c.name, c.status, c.rows[:2], c.error) for c in run.checks if c.status != "pass"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_api_traffic_and_worker_commands_stop_on_sigterm(cli_env, db):
    env = {**cli_env, **KEYS}
    port = free_port()
    base = [sys.executable, "-m", "sge_recon"]
    procs = {
        "api": subprocess.Popen(base + ["api", "--port", str(port)], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        "traffic": subprocess.Popen(base + ["traffic", "--rate", "20", "--seed", "1"], env=env,
                                    text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        "worker": subprocess.Popen(base + ["worker", "--poll-interval", "0.1"], env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE),
    }
    try:
        deadline = time.monotonic() + 60
        healthy = False
        while time.monotonic() < deadline and not (
                healthy and count(db, "public.settlement_intents WHERE status = 'completed'") > 5):
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
            except httpx.HTTPError:
                healthy = False
            time.sleep(0.2)
        assert healthy
        status = httpx.get(f"http://127.0.0.1:{port}/admin/queue/status", headers=ADMIN).json()
        assert [w["workerId"] for w in status["workers"] if w["status"] == "live"] == ["worker-1"]
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        outputs = {name: p.communicate(timeout=20) for name, p in procs.items()}
    for name, p in procs.items():
        assert p.returncode == 0, (name, outputs[name][1][-2000:])
    assert "Traffic stopped:" in outputs["traffic"][0]
    assert "Worker worker-1 stopped:" in outputs["worker"][0]
    assert count(db, "public.settlement_intents WHERE status = 'completed'") > 5
    assert balanced(db)


def test_traffic_plays_the_customers_endpoints_with_their_secrets(factory, db, db_url):
    program = factory.program()
    factory.affiliate(program["id"])
    outside = factory.endpoint(program["id"], url="https://hooks.example.com/p/1", secret="abc")
    t = Traffic(db_url, rate=1, fault_rate=0, receiver_port=0, seed=5)
    t.setup()
    try:
        row = db.fetch_one("SELECT url, secret FROM public.webhook_endpoints WHERE id = %s",
                           (outside["id"],))
        assert row["url"] == t.receiver.url(f"/adopted/{outside['id']}") and row["secret"] == "abc"
    finally:
        t.close()
