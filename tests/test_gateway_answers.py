"""A 5xx answer is no refusal (audit: money under partial failure). A real admin API sits behind
a real reverse proxy on 127.0.0.1 (tests/gateway.py) that gives up on a slow answer with
``504 Gateway Time-out``, as nginx does, while the API goes on and does the action. The console
must treat that like a lost answer — "outcome unknown" — never like a refusal: a correction
sent again must carry the same Idempotency-Key (posted once), an execution that used a breaker
override keeps it used."""

from __future__ import annotations

from sge_recon.context import Recon

from .conftest import settings_for
from .gateway import gateway
from .platform_helpers import KEYS, hold_table_lock, payable_batch
from .test_console_actions import acting_as, actions, api  # noqa: F401 - fixture
from .test_corrections_attempts import ROWS, desk_for, pending_attempts, wait_for
from .test_corrections_idempotency import corrections, hold_ledger_lock
from .test_payout_breaker import make_recon, open_ledger_incident, status


def test_a_correction_answered_504_by_a_gateway_then_sent_again_is_posted_once(
        db_url, db, factory, api):  # noqa: F811
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "50"), ("user:u1", "credit", "50")])
    acting_as(db_url, ada="admin")
    with gateway(api, upstream_timeout=1.0) as proxy:
        lock = hold_ledger_lock(db_url, 3)  # the API is slow: the gateway answers 504
        first = desk_for(db_url, proxy, timeout=15).submit("ada", program, "Refund fee", ROWS)
        assert first.status_code == 504 and not first.ok, first.message
        assert first.maybe_done, first.message
        assert "may have been done" in first.message
        assert len(pending_attempts(db)) == 1  # the key is kept for the retry
        lock.join()
        wait_for(db, 1)
        assert len(corrections(db)) == 1  # the API posted it after all

        again = desk_for(db_url, proxy, timeout=15).submit("ada", program, "Refund fee", ROWS)
    assert again.ok and "Nothing was posted again" in again.message, again.message
    assert len(corrections(db)) == 1  # once, not twice
    keys = {r["request"]["idempotencyKey"] for r in actions(db)}
    assert len(keys) == 1 and pending_attempts(db) == []


def test_an_execution_answered_504_keeps_its_breaker_override_used(db_url, db, factory, api):  # noqa: F811,E501
    recon = make_recon(db_url, api)
    red = payable_batch(factory, status="approved")
    bid = red["batch"]["id"]
    open_ledger_incident(recon, factory, red["program"]["id"])
    asked = recon.console.actions.request_breaker_override("root", bid, "supplier deadline")
    assert recon.console.actions.confirm_breaker_override("root2", asked.data["id"]).ok
    with gateway(api, upstream_timeout=1.0) as proxy:
        behind = Recon(settings_for(db_url, SGE_ADMIN_API_URL=proxy, **KEYS))
        lock = hold_table_lock(db_url, "public.ledger_entries", 3)
        outcome = behind.console.actions.execute_batch("root", bid)
        lock.join()
    assert outcome.status_code == 504 and outcome.maybe_done, outcome.message
    assert "was not used up" not in outcome.message
    deadline_ok = wait_status(db, bid, "executed")
    assert deadline_ok, "the API never executed the batch"
    row = db.fetch_one("SELECT used_at, used_by FROM recon.breaker_overrides")
    assert row["used_by"] == "root" and row["used_at"] is not None  # paid: not lent again


def wait_status(db, batch_id: str, wanted: str) -> bool:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if status(db, batch_id) == wanted:
            return True
        time.sleep(0.1)
    return False
