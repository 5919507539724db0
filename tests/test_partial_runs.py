"""Partial runs (DESIGN §5) record what they evaluated and never replace the standing status of a
check they did not evaluate in full: a force-reconcile of program B (over real HTTP) does not
clear program A's imbalance on the Overview, in the alert facts or in /metrics' statuses, and a
run with --only leaves the other checks' results standing."""

from __future__ import annotations

import httpx

from sge_recon.checks.service import record_platform_run
from sge_recon.console.overview import ledger_metric
from sge_recon.db import checks as check_rows

from .platform_helpers import ADMIN, running_api


def plant(factory):
    a, b = factory.program(), factory.program()
    factory.journal(a["id"], [("treasury", "debit", "100"), ("user:u1", "credit", "99")])
    factory.journal(b["id"], [("treasury", "debit", "5"), ("user:u2", "credit", "5")])
    return a, b


def standing(recon) -> dict[str, str]:
    return {name: r.status for name, r in recon.checks.latest_results().items()}


def test_a_program_b_reconcile_does_not_clear_program_a(recon, factory, db_url):
    a, b = plant(factory)
    full = recon.checks.run()
    assert full.by_name()["ledger_balance"].status == "fail"
    with running_api(db_url) as url:
        r = httpx.post(f"{url}/admin/reconciliation/force-reconcile",
                       json={"programId": b["id"]}, headers=ADMIN, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "pass"  # B itself is balanced
    # the B run is recorded (by sge-recon, from the answer: what the console's action does) ...
    assert record_platform_run(recon.db, r.json()) == r.json()["runId"]
    assert recon.db.fetch_one("SELECT count(*) AS n FROM recon.check_results WHERE run_id = %s",
                              (r.json()["runId"],))["n"] == 2
    # ... but the standing status still comes from the run that covered A
    assert standing(recon)["ledger_balance"] == "fail"
    assert standing(recon)["transaction_balance"] == "fail"  # A's journal is unbalanced too
    assert recon.checks.latest().run_id == full.run_id
    metric = ledger_metric(recon.checks.latest_results())
    assert metric.value != "Balanced" and metric.light.name == "RED"
    metrics_view = {r["name"]: r["status"] for r in check_rows.latest_check_statuses(recon.db)}
    assert metrics_view["ledger_balance"] == "fail"


def test_a_fresh_full_run_still_moves_the_standing_status(recon, factory, db_url):
    a, _ = plant(factory)
    recon.checks.run(only=["ledger_balance"])
    factory.journal(a["id"], [("treasury", "credit", "1")])  # credits +1: A balances again
    recon.checks.run(only=["ledger_balance"])
    assert standing(recon)["ledger_balance"] == "pass"


def test_an_only_run_leaves_the_other_checks_standing(recon, factory):
    plant(factory)
    recon.checks.run()
    recon.checks.run(only=["transaction_balance"])
    results = recon.checks.latest_results()
    assert results["ledger_balance"].status == "fail"
    assert len(results) == len(recon.checks.catalogue())
