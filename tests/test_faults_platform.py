"""Fault injection against the reference platform with real processes, real HTTP and the real
database, each scenario ending with the invariant checker (tests/invariants.py):

- workers SIGKILLed again and again in the middle of intents, two at a time;
- 50 concurrent approvals and executions of one payout batch through the real API;
- the admin API going down while the console acts (the console's action service).

The single-kill test and the 20-execute race live in test_platform_worker.py / test_platform_api.py;
these extend them with repeated kills, mixed approve+execute races and the invariants.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from sge_recon.context import Recon

from .conftest import settings_for
from .factories import ago
from .invariants import LIVENESS_CHECKS, INVARIANT_FIGURES, assert_invariants
from .platform_helpers import (ADMIN, ADMIN_KEY, APPROVER_1, APPROVER_2, bearer,
                               enqueue_intents, running_api)
from .test_console_actions import acting_as
from .test_platform_worker import consistent, tree  # noqa: F401 - fixture


def enqueue(db, tree, count: int, prefix: str) -> None:
    enqueue_intents(db, tree["program"]["id"], tree["user"]["id"],
                    [f"{prefix}_{n:04d}" for n in range(count)], Decimal("42.42"))


def start_worker(env, worker_id: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "sge_recon", "worker", "--no-webhooks", "--poll-interval",
            "0.05", "--worker-id", worker_id]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.slow
def test_workers_killed_again_and_again_lose_nothing_and_pay_nothing_twice(
        factory, db, db_url, tree, cli_env):  # noqa: F811 - fixture
    per_round, rounds = 60, 4
    intents = per_round * rounds
    rng = random.Random(9)
    kills = 0
    for round_no in range(rounds):
        # fresh work every round, so that the kill always lands with plenty still queued
        enqueue(db, tree, per_round, f"int_fk{round_no}")
        before = consistent(db)["completed"]
        workers = [start_worker(cli_env, f"w-{n}") for n in (1, 2)]  # same slots every round
        deadline = time.monotonic() + 60
        while consistent(db)["completed"] < before + 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.03))  # land the kill at a random point of a transaction
        for w in workers:
            w.send_signal(signal.SIGKILL)
        for w in workers:
            w.wait(timeout=10)
            assert w.returncode == -signal.SIGKILL
            kills += 1
        state = consistent(db)  # after every kill: each intent all-or-nothing, ledger balanced
        assert before < state["completed"] < state["total"], "the kill missed the run"
        assert_invariants(db_url, expected=LIVENESS_CHECKS, settle=True)

    # a final pair drains the queue, taking back the jobs the killed workers held
    workers = [start_worker(cli_env, f"w-{n}") for n in (1, 2)]
    deadline = time.monotonic() + 120
    while consistent(db)["completed"] < intents and time.monotonic() < deadline:
        time.sleep(0.1)
    for w in workers:
        w.send_signal(signal.SIGTERM)
        _, err = w.communicate(timeout=30)
        assert w.returncode == 0, err
        assert "Traceback" not in err
    assert consistent(db) == {"completed": intents, "total": intents}
    assert db.fetch_one("SELECT count(*) AS n FROM public.ledger_entries")["n"] == 6 * intents
    assert db.fetch_one("SELECT count(*) AS n FROM public.jobs WHERE status <> 'completed'")["n"] == 0
    assert_invariants(db_url, expected={"worker_status", "processing_time"}, settle=True)
    INVARIANT_FIGURES["faults survived"] += kills


# -- 50 concurrent approvals and executions -------------------------------------------------------
def accrued_batch(factory, affiliates: int = 4, per_affiliate: int = 3) -> dict:
    """A payable batch built the way the platform builds it: each commission accrued in the ledger
    (debit treasury, credit affiliate:<id>), so that every check passes before the payout."""
    program = factory.program(direct_commission_rate=Decimal("0.01"))
    user = factory.user(program["id"])
    batch = factory.payout_batch(program["id"], affiliate_count=affiliates,
                                 total_amount=Decimal("1.50") * affiliates * per_affiliate)
    for _ in range(affiliates):
        aff = factory.affiliate(program["id"])
        for _ in range(per_affiliate):
            intent = factory.completed_intent(program, user["id"], amount=Decimal("150.00"))
            factory.commission(program["id"], aff["id"], intent["id"], amount=Decimal("1.50"),
                               base_amount=Decimal("150.00"), rate=Decimal("0.01"),
                               status="payable", payout_batch_id=batch["id"])
            factory.journal(program["id"], [("treasury", "debit", "1.50"),
                                             (f"affiliate:{aff['id']}", "credit", "1.50")])
    return {"program": program, "batch": batch, "total": Decimal("1.50") * affiliates * per_affiliate}


@pytest.mark.slow
def test_fifty_concurrent_approvals_and_executions_pay_exactly_once(factory, db, db_url):
    setup = accrued_batch(factory)
    batch_id = setup["batch"]["id"]
    keys = [APPROVER_1, APPROVER_2]
    with running_api(db_url) as url, httpx.Client(base_url=url, timeout=60) as api:
        def call(n: int):
            if n % 2:  # half approve (both approvers, many times), half execute, all at once
                return "approve", api.post(f"/admin/payouts/batch/{batch_id}/approve",
                                           headers=bearer(keys[n // 2 % 2]))
            return "execute", api.post(f"/admin/payouts/batch/{batch_id}/execute", headers=ADMIN)

        answers = []
        with ThreadPoolExecutor(50) as pool:
            answers += pool.map(call, range(50))
            if not any(kind == "execute" and a.status_code == 200 for kind, a in answers):
                # every execute may have raced ahead of the second approval: race 50 more
                answers += pool.map(lambda n: call(2 * n), range(50))
    codes = [a.status_code for _, a in answers]
    assert all(c < 500 for c in codes), codes
    assert {c for c in codes} <= {200, 409}
    assert sum(1 for kind, a in answers if kind == "approve" and a.status_code == 200) == 2
    assert sum(1 for kind, a in answers if kind == "execute" and a.status_code == 200) == 1
    paid = next(a.json() for kind, a in answers if kind == "execute" and a.status_code == 200)
    assert Decimal(paid["totalPaid"]) == setup["total"]
    assert db.fetch_one("SELECT count(*) AS n FROM public.payout_approvals WHERE batch_id = %s",
                        (batch_id,))["n"] == 2
    assert db.fetch_one("SELECT count(*) AS n FROM public.ledger_entries WHERE transaction_id = %s",
                        (f"txn_payout_{batch_id}",))["n"] == 8  # 4 affiliates x (debit, credit)
    audited = db.fetch_one("SELECT count(*) AS n FROM public.admin_audit_log"
                           " WHERE path LIKE %s", (f"%{batch_id}%",))["n"]
    assert audited == len(answers)  # every call audited, the refused ones too
    assert_invariants(db_url, expected=LIVENESS_CHECKS)
    INVARIANT_FIGURES["faults survived"] += 1
    INVARIANT_FIGURES["concurrent calls raced"] += len(answers)
    INVARIANT_FIGURES["5xx seen"] += sum(c >= 500 for c in codes)


# -- the admin API goes away while the console acts ----------------------------------------------
def test_the_admin_api_dying_mid_session_shows_and_logs_the_action_as_failed(factory, db, db_url):
    program = factory.program()
    user = factory.user(program["id"])
    stuck = factory.intent(program["id"], user["id"], status="processing",
                           status_changed_at=ago(minutes=25))
    with running_api(db_url) as url:
        recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=url, ADMIN_API_KEY=ADMIN_KEY))
        console = recon.console
        acting_as(db_url, ada="operator")
        assert console.api_health().ok
        before = console.actions.pause_queue("ada")
        assert before.ok and before.logged
    # the API is gone now; the same console keeps going
    health = console.api_health()
    assert not health.ok and "is not available" in health.message
    outcome = console.actions.retry_intent("ada", stuck["id"])
    assert not outcome.ok and outcome.logged and outcome.status_code is None
    assert "did not answer" in outcome.message or "unreachable" in outcome.message.lower()
    assert ADMIN_KEY not in outcome.message
    rows = db.fetch_all("SELECT operator, action, target, result, status_code, error"
                        " FROM recon.action_log ORDER BY id")
    assert [(r["action"], r["result"]) for r in rows] == [("pause_queue", "ok"),
                                                         ("retry_intent", "failed")]
    assert rows[1]["target"] == stuck["id"] and rows[1]["operator"] == "ada"
    assert rows[1]["error"] and ADMIN_KEY not in rows[1]["error"]
    # nothing happened on the platform side: the intent still has no job
    assert db.fetch_one("SELECT count(*) AS n FROM public.jobs WHERE intent_id = %s",
                        (stuck["id"],))["n"] == 0
    assert_invariants(db_url, expected=LIVENESS_CHECKS)
    INVARIANT_FIGURES["faults survived"] += 1
