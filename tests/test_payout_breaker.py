"""The payout circuit breaker (issue 19): while a P0 ledger incident is open for a program, the
console refuses to execute that program's payout batches (recorded, with why); an override needs
one admin's request with a reason and a DIFFERENT admin's confirmation, and lets one execution
through. Real admin API (uvicorn on 127.0.0.1), real accounts, incidents opened by the monitor."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sge_recon.accounts import AccountService
from sge_recon.console.breaker import state as breaker_state
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.scheduling import ManualClock, Scheduler, default_jobs

from .conftest import settings_for
from .platform_helpers import KEYS, payable_batch, running_api

PASSWORD = "correct horse battery"


@pytest.fixture
def api(db_url):
    with running_api(db_url) as url:
        yield url


def make_recon(db_url, api):
    accounts = AccountService(Database(db_url))
    for name, role in (("root", "admin"), ("root2", "admin"), ("ada", "operator")):
        accounts.add(name, role, PASSWORD, replace=True)
    return Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))


def open_ledger_incident(recon, factory, program_id):
    factory.journal(program_id, [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.00")])
    clock = ManualClock(datetime.now(timezone.utc).replace(second=5, microsecond=0))
    sched = Scheduler(recon.job_services, [j for j in default_jobs() if j.name == "monitor"], clock)
    assert sched.tick()[0].status == "succeeded"
    [incident] = recon.incidents.incidents()
    assert (incident["kind"], incident["priority"]) == ("ledger_imbalance", "P0")
    return incident


def status(db, batch_id):
    return db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                        (batch_id,))["status"]


def log(db):
    return db.fetch_all("SELECT operator, action, target, result, request, error "
                        "FROM recon.action_log ORDER BY id")


def test_breaker_refuses_execution_while_the_programs_ledger_is_red(db_url, db, factory, api):
    recon = make_recon(db_url, api)
    red = payable_batch(factory, status="approved")
    green = payable_batch(factory, status="approved")
    incident = open_ledger_incident(recon, factory, red["program"]["id"])
    actions = recon.console.actions

    refused = actions.execute_batch("root", red["batch"]["id"])
    assert not refused.ok and refused.logged
    assert refused.message.startswith("Refused: the payout circuit breaker is closed for program "
                                      f"{red['program']['id']}")
    assert f"#{incident['id']} (ledger_imbalance, P0)" in refused.message
    assert status(db, red["batch"]["id"]) == "approved"  # nothing reached the platform

    # another program's batch is not held
    done = actions.execute_batch("root", green["batch"]["id"])
    assert done.ok, done.message
    assert status(db, green["batch"]["id"]) == "executed"

    [first, second] = log(db)
    assert (first["operator"], first["action"], first["result"]) == \
        ("root", "execute_payout_batch", "failed")
    assert first["request"]["breaker"] == {"programId": red["program"]["id"],
                                           "incidents": [incident["id"]]}
    assert "circuit breaker" in first["error"]
    assert second["result"] == "ok" and "breaker" not in second["request"]


def test_override_needs_a_reason_and_a_second_different_admin_and_works_once(db_url, db, factory,
                                                                             api):
    recon = make_recon(db_url, api)
    red = payable_batch(factory, status="approved")
    bid = red["batch"]["id"]
    open_ledger_incident(recon, factory, red["program"]["id"])
    actions = recon.console.actions

    no_reason = actions.request_breaker_override("root", bid, "   ")
    assert not no_reason.ok and "reason" in no_reason.message
    not_admin = actions.request_breaker_override("ada", bid, "supplier deadline")
    assert not not_admin.ok and "only an admin account" in not_admin.message

    asked = actions.request_breaker_override(
        "root", bid, "Imbalance is a known 1.00 USD fee booking; payouts are unaffected")
    assert asked.ok, asked.message
    override_id = asked.data["id"]
    assert "a different admin must confirm" in asked.message

    # requested but not confirmed: still refused
    assert not actions.execute_batch("root", bid).ok
    # the requester cannot confirm their own override; an operator cannot either
    same = actions.confirm_breaker_override("root", override_id)
    assert not same.ok and "different admin must confirm" in same.message
    assert not actions.confirm_breaker_override("ada", override_id).ok
    assert status(db, bid) == "approved"

    confirmed = actions.confirm_breaker_override("root2", override_id)
    assert confirmed.ok, confirmed.message
    assert not actions.confirm_breaker_override("root2", override_id).ok  # once

    done = actions.execute_batch("root", bid)
    assert done.ok, done.message
    assert status(db, bid) == "executed"
    row = db.fetch_one("SELECT * FROM recon.breaker_overrides WHERE id = %s", (override_id,))
    assert (row["requested_by"], row["confirmed_by"], row["used_by"]) == ("root", "root2", "root")
    assert row["reason"].startswith("Imbalance is a known")

    # used once: the next attempt is held by the breaker again
    again = actions.execute_batch("root", bid)
    assert not again.ok and again.message.startswith("Refused: the payout circuit breaker")

    entries = [(r["operator"], r["action"], r["result"]) for r in log(db)]
    assert entries == [
        ("root", "request_breaker_override", "failed"),
        ("ada", "request_breaker_override", "failed"),
        ("root", "request_breaker_override", "ok"),
        ("root", "execute_payout_batch", "failed"),
        ("root", "confirm_breaker_override", "failed"),
        ("ada", "confirm_breaker_override", "failed"),
        ("root2", "confirm_breaker_override", "ok"),
        ("root2", "confirm_breaker_override", "failed"),
        ("root", "execute_payout_batch", "ok"),
        ("root", "execute_payout_batch", "failed")]
    executed = log(db)[8]
    assert executed["request"]["breaker"]["override"] == override_id
    assert executed["request"]["breaker"]["confirmedBy"] == "root2"


def test_payouts_page_shows_the_breaker_and_takes_the_override_from_two_admins(
        db_url, db, factory, api, monkeypatch, tmp_path):
    from .console_support import app, console_env, open_page, texts
    from .test_console_actions import choose, confirm

    console_env(monkeypatch, db_url, api, tmp_path)
    recon = make_recon(db_url, api)
    red = payable_batch(factory, status="approved")
    bid = red["batch"]["id"]
    incident = open_ledger_incident(recon, factory, red["program"]["id"])

    at = open_page(app(operator="root"), "payouts")
    choose(at, "batch_choice", bid)
    assert f"Execution refused: the payout circuit breaker is closed for program " \
           f"{red['program']['id']}: P0 ledger incident #{incident['id']}" in texts(at)
    assert at.button(key="execute_batch").disabled
    at.text_input(key="override_reason").input("supplier contract deadline today").run()
    at.button(key="request_override").click().run()
    confirm(at)
    [override] = db.fetch_all("SELECT * FROM recon.breaker_overrides")
    assert at.button(key=f"confirm_override_{override['id']}").disabled  # not the requester

    at = open_page(app(operator="root2"), "payouts")
    choose(at, "batch_choice", bid)
    at.button(key=f"confirm_override_{override['id']}").click().run()
    confirm(at)
    assert "is confirmed: the next execution goes through once" in texts(at)
    assert not at.button(key="execute_batch").disabled
    at.button(key="execute_batch").click().run()
    confirm(at)
    assert status(db, bid) == "executed"
    assert [(r["operator"], r["action"], r["result"]) for r in log(db)] == [
        ("root", "request_breaker_override", "ok"),
        ("root2", "confirm_breaker_override", "ok"),
        ("root2", "execute_payout_batch", "ok")]


def test_an_override_is_not_used_up_by_an_execution_that_was_not_done(db_url, db, factory, api):
    """The API unreachable (the call never left) or refusing: the confirmed override stays
    ready, so the retry does not need two admins again in the middle of an incident."""
    recon = make_recon(db_url, api)
    red = payable_batch(factory, status="approved")
    bid = red["batch"]["id"]
    open_ledger_incident(recon, factory, red["program"]["id"])
    asked = recon.console.actions.request_breaker_override("root", bid, "supplier deadline")
    assert recon.console.actions.confirm_breaker_override("root2", asked.data["id"]).ok

    down = Recon(settings_for(db_url, SGE_ADMIN_API_URL="http://127.0.0.1:9", **KEYS))
    unreachable = down.console.actions.execute_batch("root", bid)
    assert not unreachable.ok and "was not used up" in unreachable.message, unreachable.message
    db.execute("UPDATE public.payout_batches SET status = 'pending_approval' WHERE id = %s",
               (bid,))
    refused = recon.console.actions.execute_batch("root", bid)
    assert refused.status_code == 409 and "was not used up" in refused.message
    row = db.fetch_one("SELECT used_at, used_by FROM recon.breaker_overrides")
    assert (row["used_at"], row["used_by"]) == (None, None)

    db.execute("UPDATE public.payout_batches SET status = 'approved' WHERE id = %s", (bid,))
    done = recon.console.actions.execute_batch("root", bid)
    assert done.ok, done.message
    assert status(db, bid) == "executed"
    assert db.fetch_one("SELECT used_by FROM recon.breaker_overrides")["used_by"] == "root"
    assert not recon.console.actions.execute_batch("root", bid).ok  # used once, now for real


def monitor_tick(recon, at: datetime) -> None:
    clock = ManualClock(at)
    sched = Scheduler(recon.job_services, [j for j in default_jobs() if j.name == "monitor"], clock)
    assert sched.tick()[0].status == "succeeded"


def test_an_override_does_not_outlive_the_evidence_it_was_given_for(db_url, db, factory, api):
    """Audit (money under time): an override confirmed for "off by 1.00 USD" must not pay the
    batch once the program's ledger is off by millions more (the grouped incident keeps its id,
    its evidence changes), nor confirm it; two admins must decide again on what holds now."""
    recon = make_recon(db_url, api)
    red = payable_batch(factory, status="approved")
    bid, program = red["batch"]["id"], red["program"]["id"]
    factory.journal(program, [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.00")])
    monitor_tick(recon, datetime.now(timezone.utc) - timedelta(minutes=2))  # opens the incident
    actions = recon.console.actions
    first = actions.request_breaker_override("root", bid, "known 1.00 USD fee booking")
    assert actions.confirm_breaker_override("root2", first.data["id"]).ok
    second = actions.request_breaker_override("root", bid, "known 1.00 USD fee booking")

    factory.journal(program, [("treasury", "debit", "5000000.00"), ("user:u9", "credit", "1.00")],
                    currency="EUR")
    monitor_tick(recon, datetime.now(timezone.utc))  # sees the change, after the requests
    [incident] = recon.incidents.incidents()  # the same incident, now off by 4,999,999 EUR too
    assert "EUR" in incident["title"]
    with db.transaction() as conn:
        assert breaker_state(conn, bid).ready_override is None  # the page offers no execution

    stale = actions.confirm_breaker_override("root2", second.data["id"])
    assert not stale.ok and "other evidence" in stale.message, stale.message
    refused = actions.execute_batch("root", bid)
    assert not refused.ok and refused.message.startswith("Refused: the payout circuit breaker")
    assert status(db, bid) == "approved"  # nothing was paid
    assert db.fetch_one("SELECT used_at FROM recon.breaker_overrides WHERE id = %s",
                        (first.data["id"],))["used_at"] is None

    # two admins decide on what holds now: a new override goes through, once
    fresh = actions.request_breaker_override("root", bid, "EUR booking explained by finance")
    assert actions.confirm_breaker_override("root2", fresh.data["id"]).ok
    done = actions.execute_batch("root", bid)
    assert done.ok, done.message
    assert db.fetch_one("SELECT used_by FROM recon.breaker_overrides WHERE id = %s",
                        (fresh.data["id"],))["used_by"] == "root"
