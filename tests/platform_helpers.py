"""Shared by the reference-platform tests: the admin API on a real ephemeral port, the keys, and
small builders of platform rows the tests need."""

from __future__ import annotations

import contextlib
import threading
import time
from decimal import Decimal

import httpx
import pytest
import uvicorn

from refplatform.api import create_app
from refplatform.sge_platform import create_sge_schema, load_sge_platform
from sge_recon.context import Recon
from sge_recon.db import Database

from .conftest import settings_for
from .factories import PlatformFactory

ADMIN_KEY = "test-admin-key-0123456789"
APPROVER_1 = "test-approver-one-0123456789"
APPROVER_2 = "test-approver-two-0123456789"
KEYS = {"ADMIN_API_KEY": ADMIN_KEY, "PAYOUT_APPROVER_1": APPROVER_1,
        "PAYOUT_APPROVER_2": APPROVER_2}


def sge_through_profile(url: str, *, intents: int, seed: int) -> Recon:
    """An SGE-shaped platform of ``intents`` intents in the empty database ``url``, read through
    the sge profile (db init done)."""
    create_sge_schema(Database(url))
    load_sge_platform(Database(url), intents=intents, seed=seed)
    recon = Recon(settings_for(url, PLATFORM_PROFILE="sge"))
    recon.init_db()
    return recon


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ADMIN = bearer(ADMIN_KEY)


@contextlib.contextmanager
def running_api(db_url: str, *, database_url: str | None = None, clock=None, **settings):
    """uvicorn serving the admin API on 127.0.0.1:<ephemeral>, in a thread; yields the base URL."""
    cfg = settings_for(db_url, **{**KEYS, **settings})
    kwargs = {"clock": clock} if clock else {}
    app = create_app(cfg, database_url=database_url or db_url, pool_size=8, **kwargs)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the admin API did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def payable_batch(factory, *, affiliates: int = 2, per_affiliate: int = 2,
                  status: str = "pending_approval") -> dict:
    """A program, affiliates with payable commissions gathered in one batch."""
    program = factory.program()
    batch = factory.payout_batch(program["id"], status=status, affiliate_count=affiliates,
                                 total_amount=Decimal("1.50") * affiliates * per_affiliate)
    user = factory.user(program["id"])
    for _ in range(affiliates):
        aff = factory.affiliate(program["id"])
        for _ in range(per_affiliate):
            intent = factory.completed_intent(program, user["id"])
            factory.commission(program["id"], aff["id"], intent["id"], amount=Decimal("1.50"),
                               base_amount=Decimal("150.00"), rate=Decimal("0.01"),
                               status="payable", payout_batch_id=batch["id"])
    return {"program": program, "batch": batch}


def balanced(db, where: str = "TRUE", params=()) -> bool:
    rows = db.fetch_all(
        "SELECT transaction_id FROM public.ledger_entries WHERE " + where +
        " GROUP BY transaction_id HAVING sum(CASE WHEN type = 'debit' THEN amount"
        " ELSE -amount END) <> 0", params)
    return not rows


def enqueue_intents(db, program_id: str, user_id: str, intent_ids, amount: Decimal) -> None:
    """Create intents with their waiting settlement jobs, as the platform does, in one
    transaction."""
    from refplatform import store

    from .factories import ago

    with db.transaction() as conn:
        for intent_id in intent_ids:
            store.insert_intent_with_job(conn, intent_id=intent_id, program_id=program_id,
                                         user_id=user_id, amount=amount, currency="USD",
                                         fault=None, fault_repeats=0, now=ago(seconds=1))



# Module fixtures shared by the API test modules (import them into the module that uses them).
@pytest.fixture(scope="module")
def mdb(module_db_url) -> Database:
    return Database(module_db_url)


@pytest.fixture(scope="module")
def make(mdb) -> PlatformFactory:
    return PlatformFactory(mdb)


@pytest.fixture(scope="module")
def api(module_db_url):
    with running_api(module_db_url) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client


def hold_table_lock(db_url: str, table: str, seconds: float) -> threading.Thread:
    """A session that holds ``table`` IN SHARE MODE for ``seconds``: every write to it waits
    (the API's write waits behind it, so a short client timeout loses the answer of an action
    that is then made)."""
    import psycopg

    locked, released = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(db_url) as conn:
            conn.execute(f"LOCK TABLE {table} IN SHARE MODE")
            locked.set()
            released.wait(seconds)
    thread = threading.Thread(target=hold, daemon=True)
    thread.release = released.set  # type: ignore[attr-defined]  # ends the hold early
    thread.start()
    assert locked.wait(10)
    return thread
