"""A console action sent to the admin API is in recon.action_log BEFORE it is sent (result
'pending'), and that same row is completed with the answer. A console that dies, or loses its
database, after the API executed a payout still leaves the record of who sent it, shown as "sent,
outcome unknown — check the platform" (audit D4a). Real PostgreSQL, the real admin API over HTTP,
and for the kill a real console process SIGKILLed at a moment the test holds it in."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from sge_recon.admin_client import AdminClient
from sge_recon.console.actions import ActionService
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.db.action_log import PENDING_SHOWN
from sge_recon.errors import DatabaseUnavailable

from .conftest import settings_for
from .platform_helpers import KEYS, payable_batch, running_api
from .test_console_actions import acting_as


class WritesFailAfterSend:
    """The console's database, whose writes fail once ``down`` is set (reads still work)."""

    def __init__(self, db: Database):
        self._db, self.down = db, False

    def transaction(self, *, read_only: bool = False):
        if self.down and not read_only:
            raise DatabaseUnavailable("connection to the recon database lost (test)")
        return self._db.transaction(read_only=read_only)

    def __getattr__(self, name):
        return getattr(self._db, name)


class SendsThenDatabaseDies:
    """The real admin client; the console's database goes away right after the answer came."""

    def __init__(self, real: AdminClient, db: WritesFailAfterSend):
        self._real, self._db = real, db

    def execute_batch(self, batch_id):
        result = self._real.execute_batch(batch_id)
        self._db.down = True
        return result

    def pause_queue(self):
        return self._real.pause_queue()

    def close(self):
        self._real.close()


def rows_for(db: Database, target: str) -> list[dict]:
    return db.fetch_all("SELECT id, operator, action, target, request, result, status_code, "
                        "response, error, completed_at FROM recon.action_log WHERE target = %s "
                        "ORDER BY id", (target,))


def audit_rows(db: Database, target: str) -> list[dict]:
    return db.fetch_all("SELECT actor, status_code, result FROM public.admin_audit_log "
                        "WHERE target = %s ORDER BY id", (target,))


def batch_status(db: Database, batch_id: str) -> str:
    return db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                        (batch_id,))["status"]


def test_an_answer_that_cannot_be_recorded_leaves_the_attempt_pending(db_url, db, factory):
    bid = payable_batch(factory, status="approved")["batch"]["id"]
    acting_as(db_url, root="admin")
    with running_api(db_url) as url:
        settings = settings_for(db_url, SGE_ADMIN_API_URL=url, **KEYS)
        flaky = WritesFailAfterSend(Database(db_url))
        service = ActionService(flaky, lambda: SendsThenDatabaseDies(
            AdminClient.from_settings(settings), flaky))
        outcome = service.execute_batch("root", bid)
    assert batch_status(db, bid) == "executed"  # the money moved
    assert outcome.ok and outcome.status_code == 200 and not outcome.logged, outcome
    assert PENDING_SHOWN in outcome.message and f"#{outcome.log_id}" in outcome.message
    [row] = rows_for(db, bid)  # the attempt, written before the request was sent
    assert (row["id"], row["operator"], row["action"], row["result"]) == \
        (outcome.log_id, "root", "execute_payout_batch", "pending")
    assert row["request"] == {"batchId": bid} and row["status_code"] is None
    assert row["completed_at"] is None
    # shown as sent with an unknown outcome wherever the action log is shown
    console = Recon(settings_for(db_url)).console
    [shown] = [a for a in console.recent_actions() if a["target"] == bid]
    assert shown["result"] == PENDING_SHOWN
    assert [(a["action"], a["result"]) for a in console.recent_actions()] == \
        [("execute_payout_batch", "sent, outcome unknown — check the platform")]
    # and the platform has its own record of the same call
    assert audit_rows(db, bid) == [{"actor": "admin", "status_code": 200, "result": "ok"}]


def test_an_attempt_that_cannot_be_recorded_is_not_sent(db_url, db):
    acting_as(db_url, ada="operator")
    with running_api(db_url) as url:
        settings = settings_for(db_url, SGE_ADMIN_API_URL=url, **KEYS)
        flaky = WritesFailAfterSend(Database(db_url))
        flaky.down = True  # reads (the account check) work, writes do not
        service = ActionService(flaky, lambda: AdminClient.from_settings(settings))
        outcome = service.pause_queue("ada")
    assert not outcome.ok and not outcome.logged
    assert outcome.message.startswith("Failed: nothing was sent"), outcome.message
    assert db.fetch_one("SELECT paused FROM public.queue_control")["paused"] is False
    assert db.fetch_all("SELECT 1 FROM public.admin_audit_log") == []
    assert db.fetch_all("SELECT 1 FROM recon.action_log") == []


def test_a_sent_action_is_one_row_completed_with_the_answer_and_journaled_twice(db_url, db,
                                                                               factory):
    bid = payable_batch(factory, status="approved")["batch"]["id"]
    acting_as(db_url, root="admin")
    with running_api(db_url) as url:
        recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=url, **KEYS))
        outcome = recon.console.actions.execute_batch("root", bid)
        again = recon.console.actions.execute_batch("root", bid)  # 409: already executed
    assert outcome.ok and outcome.logged and not again.ok and again.status_code == 409
    first, second = rows_for(db, bid)
    assert (first["id"], first["result"], first["status_code"]) == (outcome.log_id, "ok", 200)
    assert first["response"]["status"] == "executed" and first["completed_at"] is not None
    assert (second["id"], second["result"], second["status_code"]) == \
        (again.log_id, "failed", 409)
    assert "already" in second["error"]
    journal = db.fetch_all("SELECT op, event::jsonb -> 'row' ->> 'result' AS result "
                           "FROM recon.journal WHERE source = 'action_log' AND ref = %s "
                           "ORDER BY seq", (str(outcome.log_id),))
    assert [(j["op"], j["result"]) for j in journal] == [("insert", "pending"), ("update", "ok")]


# -- a console process killed after the API executed the payout, before it recorded the answer --
CHILD = """
import sys
from sge_recon.config import Settings
from sge_recon.context import Recon
print(Recon(Settings.load()).console.actions.execute_batch("root", sys.argv[1]), flush=True)
"""


def wait_for(what: str, probe, seconds: float = 30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def waiting_on_a_lock(db: Database, query_like: str) -> bool:
    return bool(db.fetch_all("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             "AND query ILIKE %s", (query_like,)))


@contextlib.contextmanager
def holding(db_url: str, sql: str, params: tuple):
    """A transaction that holds the row locks of ``sql`` until the block ends."""
    with psycopg.connect(db_url) as conn:
        conn.execute(sql, params)
        yield conn
        conn.rollback()


def test_a_console_killed_after_the_api_executed_leaves_a_pending_row(db_url, db, factory,
                                                                      cli_env):
    bid = payable_batch(factory, status="approved")["batch"]["id"]
    acting_as(db_url, root="admin")
    with running_api(db_url) as api:
        env = {**cli_env, **KEYS, "SGE_ADMIN_API_URL": api}
        with contextlib.ExitStack() as stack:
            # 1. the batch is held, so the API waits inside the execute
            batch_lock = stack.enter_context(holding(
                db_url, "SELECT 1 FROM public.payout_batches WHERE id = %s FOR UPDATE", (bid,)))
            child = subprocess.Popen([sys.executable, "-c", CHILD, bid], env=env,
                                     stdout=subprocess.DEVNULL)
            stack.callback(lambda: child.poll() is None and child.kill())
            [attempt] = wait_for("the attempt row", lambda: rows_for(db, bid))
            assert attempt["result"] == "pending"  # written before the request went out
            wait_for("the API inside the execute",
                     lambda: waiting_on_a_lock(db, "%payout_batches%"))
            # 2. the attempt row is held, so the console cannot record the answer
            stack.enter_context(holding(
                db_url, "SELECT 1 FROM recon.action_log WHERE id = %s FOR UPDATE",
                (attempt["id"],)))
            batch_lock.rollback()  # the API executes and answers 200
            wait_for("the execution", lambda: batch_status(db, bid) == "executed")
            wait_for("the console recording the answer",
                     lambda: waiting_on_a_lock(db, "%UPDATE recon.action_log%"))
            os.kill(child.pid, signal.SIGKILL)  # a restart, an OOM kill
            child.wait(10)
    assert audit_rows(db, bid) == [{"actor": "admin", "status_code": 200, "result": "ok"}]
    [row] = rows_for(db, bid)
    assert (row["operator"], row["action"], row["result"], row["status_code"]) == \
        ("root", "execute_payout_batch", "pending", None)
    assert row["request"] == {"batchId": bid}
    [shown] = Recon(settings_for(db_url)).console.recent_actions()
    assert (shown["target"], shown["result"]) == (bid, PENDING_SHOWN)
