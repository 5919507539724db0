"""The admin API's force-reconcile answers a ledger_balance row as the check does: the
difference is debits − credits, signed, so a ledger short of debits never reads as one with
too many (it answered abs(debits − credits), while its own "balances" said −4)."""

from __future__ import annotations

from .platform_helpers import ADMIN, api, make, mdb, running_api  # noqa: F401


def test_force_reconcile_answers_a_negative_difference_as_negative(api, make):  # noqa: F811
    program = make.program()
    make.journal(program["id"], [("treasury", "debit", "1"), ("user:u1", "credit", "5")])
    r = api.post("/admin/reconciliation/force-reconcile", json={"programId": program["id"]},
                 headers=ADMIN)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [b["difference"] for b in answer["balances"]] == ["-4.000000"]
    [row] = {c["name"]: c for c in answer["checks"]}["ledger_balance"]["rows"]
    assert (row["total_debits"], row["total_credits"], row["difference"]) == \
        ("1.000000", "5.000000", "-4.000000")
