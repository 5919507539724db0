"""The reference admin API writes a state-changing call's admin_audit_log row in the same
transaction as its effect (audit D4b): the payout and its audit row commit together or not at
all. Real PostgreSQL, the real API over HTTP; for the crash, a real `sge-recon api` process
SIGKILLed while its execute waits to write the audit row."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import pytest

from .platform_helpers import ADMIN, KEYS, payable_batch, running_api

REFUSE_OK_ROWS = """
CREATE FUNCTION public.test_refuse_ok_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status_code < 400 THEN
        RAISE EXCEPTION 'audit log refuses ok rows (test)';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_refuse_ok_audit BEFORE INSERT ON public.admin_audit_log
    FOR EACH ROW EXECUTE FUNCTION public.test_refuse_ok_audit();
"""


def state(db, batch_id: str) -> dict:
    return {
        "batch": db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                              (batch_id,))["status"],
        "paid": db.fetch_one("SELECT count(*) AS n FROM public.commissions "
                             "WHERE payout_batch_id = %s AND status = 'paid'", (batch_id,))["n"],
        "audit": [(r["status_code"], r["result"]) for r in db.fetch_all(
            "SELECT status_code, result FROM public.admin_audit_log WHERE target = %s "
            "ORDER BY id", (batch_id,))]}


def test_an_audit_row_that_cannot_be_written_undoes_the_payout(db_url, db, factory):
    bid = payable_batch(factory, status="approved")["batch"]["id"]
    db.execute(REFUSE_OK_ROWS)
    with running_api(db_url) as url:
        with httpx.Client(base_url=url, headers=ADMIN, timeout=30) as api:
            refused = api.post(f"/admin/payouts/batch/{bid}/execute")
            assert refused.status_code == 500, refused.text
            # nothing paid, and the failed call is audited as such
            assert state(db, bid) == {"batch": "approved", "paid": 0, "audit": [(500, "error")]}
            db.execute("DROP TRIGGER test_refuse_ok_audit ON public.admin_audit_log")
            done = api.post(f"/admin/payouts/batch/{bid}/execute")
    assert done.status_code == 200 and done.json()["status"] == "executed", done.text
    assert state(db, bid) == {"batch": "executed", "paid": 4,
                              "audit": [(500, "error"), (200, "ok")]}


@pytest.mark.parametrize("path, body", [
    ("/admin/queue/pause", None),
    ("/admin/reconciliation/force-reconcile", "program"),
])
def test_every_state_change_is_undone_without_its_audit_row(db_url, db, factory, path, body):
    program = factory.program()
    db.execute(REFUSE_OK_ROWS)
    with running_api(db_url) as url:
        r = httpx.post(url + path, headers=ADMIN, timeout=30,
                       json={"programId": program["id"]} if body else None)
    assert r.status_code == 500, r.text
    assert db.fetch_one("SELECT paused FROM public.queue_control")["paused"] is False
    assert db.fetch_one("SELECT count(*) AS n FROM public.reconcile_runs")["n"] == 0
    assert [(a["status_code"], a["result"]) for a in db.fetch_all(
        "SELECT status_code, result FROM public.admin_audit_log")] == [(500, "error")]


def waiting_on_a_lock(db, query_like: str) -> bool:
    return bool(db.fetch_all("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             "AND query ILIKE %s", (query_like,)))


def wait_for(what: str, probe, seconds: float = 30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if probe():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_an_api_killed_before_its_audit_row_leaves_the_payout_undone(db_url, db, factory,
                                                                     cli_env):
    bid = payable_batch(factory, status="approved")["batch"]["id"]
    port = random.randint(18500, 19400)
    api = subprocess.Popen([sys.executable, "-m", "sge_recon", "api", "--port", str(port)],
                           env={**cli_env, **KEYS}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    answers: list = []
    try:
        wait_for("the API", lambda: _healthy(port))
        with psycopg.connect(db_url) as locker:
            # the audit log is held: the execute waits to write its row
            locker.execute("LOCK TABLE public.admin_audit_log IN SHARE MODE")
            call = threading.Thread(target=lambda: answers.append(_execute(port, bid)))
            call.start()
            wait_for("the execute writing its audit row",
                     lambda: waiting_on_a_lock(db, "%admin_audit_log%"))
            assert state(db, bid)["batch"] == "approved"  # the payout is not committed alone
            os.kill(api.pid, signal.SIGKILL)
            api.wait(10)
            locker.rollback()
        call.join(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            api.kill()
        api.wait(10)
    assert answers and isinstance(answers[0], httpx.HTTPError)  # no answer: the process died
    # neither the payout nor its audit row: the batch can simply be executed again
    assert state(db, bid) == {"batch": "approved", "paid": 0, "audit": []}
    with running_api(db_url) as url:
        again = httpx.post(f"{url}/admin/payouts/batch/{bid}/execute", headers=ADMIN, timeout=30)
    assert again.status_code == 200, again.text
    assert state(db, bid) == {"batch": "executed", "paid": 4, "audit": [(200, "ok")]}


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _execute(port: int, batch_id: str):
    try:
        return httpx.post(f"http://127.0.0.1:{port}/admin/payouts/batch/{batch_id}/execute",
                          headers=ADMIN, timeout=30)
    except httpx.HTTPError as exc:
        return exc
