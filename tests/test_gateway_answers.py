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


def test_an_execution_whose_answer_is_lost_is_shown_as_unknown_not_failed(
        db_url, db, factory, api, monkeypatch, tmp_path):  # noqa: F811
    """The Payouts page after Execute answered by a 504: the batch was paid, so the page must
    not say "Failed" (in red, as a refusal) but that the outcome is unknown."""
    from .console_support import app, console_env, open_page, texts
    from .test_console_actions import choose, confirm

    batch = payable_batch(factory, status="approved")["batch"]
    with gateway(api, upstream_timeout=1.0) as proxy:
        console_env(monkeypatch, db_url, proxy, tmp_path)
        at = open_page(app(operator="root"), "payouts")
        choose(at, "batch_choice", batch["id"])
        at.button(key="execute_batch").click().run()
        lock = hold_table_lock(db_url, "public.ledger_entries", 3)
        confirm(at)
        lock.join()
    assert wait_status(db, batch["id"], "executed")  # it was paid
    shown = " ".join(str(w.value) for w in at.warning)
    assert "Outcome unknown (HTTP 504)" in shown and "may have been done" in shown, texts(at)
    assert not any("execute payout batch" in str(e.value) for e in at.error), texts(at)
    assert "Failed" not in shown


def test_a_bulk_retry_tells_lost_answers_apart_from_refusals(db_url, db, factory, api):  # noqa: F811,E501
    from .factories import ago

    acting_as(db_url, ada="admin")
    program = factory.program()
    user = factory.user(program["id"])
    lost, refused = (factory.intent(program["id"], user["id"], status=s, last_error="RPC timeout")
                     for s in ("failed", "completed"))
    factory.job(intent_id=lost["id"], status="failed", attempts=4, finished_at=ago(minutes=3))
    with gateway(api, upstream_timeout=1.0) as proxy:
        behind = Recon(settings_for(db_url, SGE_ADMIN_API_URL=proxy, **KEYS))
        lock = hold_table_lock(db_url, "public.jobs", 3)  # the retry waits to write its job
        outcome = behind.console.actions.retry_intents("ada", [lost["id"], refused["id"]])
        lock.join()
    assert not outcome.ok and outcome.maybe_done
    assert outcome.message.startswith("Re-enqueued 0 of 2 intent(s)."), outcome.message
    unknown, _, rest = outcome.message.partition("Not done:")
    assert "Outcome unknown" in unknown and lost["id"] in unknown and refused["id"] not in unknown
    assert refused["id"] in rest and "already completed" in rest


def test_the_action_log_records_a_lost_answer_as_unknown_not_failed(db_url, db, factory, api):  # noqa: F811,E501
    """An auditor reading recon.action_log: the execution whose answer was lost paid the batch,
    so its row must not say ``failed``; the console's action log reads it as unclear."""
    acting_as(db_url, root="admin")
    batch = payable_batch(factory, status="approved")["batch"]
    with gateway(api, upstream_timeout=1.0) as proxy:
        behind = Recon(settings_for(db_url, SGE_ADMIN_API_URL=proxy, **KEYS))
        lock = hold_table_lock(db_url, "public.ledger_entries", 3)
        outcome = behind.console.actions.execute_batch("root", batch["id"])
        lock.join()
        assert wait_status(db, batch["id"], "executed")
        refused = behind.console.actions.execute_batch("root", batch["id"])  # the retry
    assert outcome.maybe_done and outcome.logged
    row = actions(db)[0]
    assert (row["action"], row["result"], row["status_code"]) == \
        ("execute_payout_batch", "unknown", 504)
    assert "may have been done" in row["error"]
    from sge_recon.db.action_log import UNKNOWN_SHOWN

    shown = behind.console.recent_actions()  # the console's action log, newest first
    assert shown[-1]["result"] == UNKNOWN_SHOWN
    assert refused.status_code == 409 and not refused.maybe_done
    assert [r["result"] for r in actions(db)] == ["unknown", "failed"]
