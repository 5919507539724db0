"""Corrections an accountant would trust (issue 15): a proposal from the offending transaction
(its missing leg against the suspense account), a dry run of the balances before and after,
accounts only from the ledger (a misspelling is caught), and a second admin above the
threshold — through the real admin API and database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sge_recon.console.actions import CorrectionEntry
from sge_recon.console.corrections import (check_accounts, dry_run, needs_second_person,
                                           propose)
from sge_recon.context import Recon
from sge_recon.errors import UsageError

from .conftest import settings_for
from .platform_helpers import KEYS
from .test_console_actions import actions, api  # noqa: F401

D = Decimal


def entry(account, kind, amount, currency="USD", program="p1"):
    return {"program_id": program, "account": account, "type": kind, "amount": D(amount),
            "currency": currency}


@pytest.mark.parametrize("entries, legs", [
    ([entry("user:u1", "debit", "100")], [("suspense", "credit", D(100), "USD")]),
    ([entry("treasury", "debit", "10"), entry("affiliate:a", "credit", "9.99")],
     [("suspense", "credit", D("0.01"), "USD")]),
    ([entry("treasury", "credit", "5", "EUR"), entry("x", "debit", "5", "USD")],
     [("suspense", "debit", D(5), "EUR"), ("suspense", "credit", D(5), "USD")]),
])
def test_the_proposal_is_the_missing_leg_against_suspense(entries, legs):
    proposal = propose("t1", entries, "suspense")
    assert [(e.account, e.type, e.amount, e.currency) for e in proposal.entries] == legs
    assert proposal.program_id == "p1" and "t1" in proposal.reason


@pytest.mark.parametrize("entries, message", [
    ([], "no ledger entries"),
    ([entry("a", "debit", "1"), entry("b", "credit", "1")], "balances in every currency"),
    ([entry("a", "debit", "1"), entry("b", "credit", "2", program="p2")], "spans programs"),
])
def test_nothing_to_propose_is_said_in_words(entries, message):
    with pytest.raises(UsageError, match=message):
        propose("t1", entries, "suspense")


def test_the_dry_run_shows_the_transaction_and_the_program_before_and_after():
    legs = [CorrectionEntry("suspense", "credit", D("0.01"), "USD")]
    lines = dry_run({"USD": D("0.01")}, "t1", "p1",
                    [{"currency": "USD", "difference": D("0.01")},
                     {"currency": "EUR", "difference": D(0)}], legs)
    assert [(ln.scope, ln.currency, ln.before, ln.after) for ln in lines] == [
        ("transaction t1", "USD", D("0.01"), D(0)),
        ("program p1", "EUR", D(0), D(0)), ("program p1", "USD", D("0.01"), D(0))]
    assert all(ln.balanced_after for ln in lines)


def test_a_misspelled_account_is_refused_with_the_closest_one():
    with pytest.raises(UsageError, match="'tresury' has no entries.*did you mean treasury"):
        check_accounts([CorrectionEntry("tresury", "debit", D(1), "USD")],
                       ["treasury", "user:u1"], "suspense")
    check_accounts([CorrectionEntry("suspense", "debit", D(1), "USD")], [], "suspense")


@pytest.mark.parametrize("amounts, over", [(["1000"], False), (["1000.01"], True),
                                           (["5", "2000"], True), (["999.99", "999.99"], False)])
def test_a_second_person_is_needed_over_the_threshold_in_any_one_currency(amounts, over):
    legs = [CorrectionEntry("a", "debit", D(a), "USD") for a in amounts]
    assert needs_second_person(legs, D(1000)) is over


def test_over_the_threshold_one_admin_requests_and_another_posts_once(db_url, db, factory,
                                                                      api):  # noqa: F811
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "5000"), ("user:u1", "credit", "5000")])
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))
    desk = recon.console.corrections
    rows = [{"account": "user:u1", "type": "debit", "amount": "2500", "currency": "USD"},
            {"account": "treasury", "type": "credit", "amount": "2500", "currency": "USD"}]
    with pytest.raises(UsageError, match="'tresury' has no entries"):
        desk.submit("ada", program["id"], "fix", [rows[0], {**rows[1], "account": "tresury"}])
    requested = desk.submit("ada", program["id"], "Reverse a double posting", rows)
    assert requested.ok and "second admin must confirm" in requested.message
    assert db.fetch_all("SELECT 1 FROM public.ledger_corrections") == []  # nothing posted yet
    [waiting] = desk.pending()
    with pytest.raises(UsageError, match="a second admin must confirm"):
        desk.confirm("ada", waiting["id"])
    posted = desk.confirm("bob", waiting["id"])
    assert posted.ok, posted.message
    assert desk.pending() == []
    with pytest.raises(UsageError, match="not waiting"):
        desk.confirm("carol", waiting["id"])  # once only
    [row] = db.fetch_all("SELECT reason FROM public.ledger_corrections")
    assert "requested by ada, confirmed by bob" in row["reason"]
    logged = [(r["action"], r["operator"], r["result"]) for r in actions(db)]
    assert logged == [("request_correction", "ada", "ok"), ("ledger_correction", "bob", "ok")]
    decided = db.fetch_one("SELECT status, decided_by FROM recon.correction_requests")
    assert (decided["status"], decided["decided_by"]) == ("posted", "bob")
