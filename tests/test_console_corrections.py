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
from .test_console_actions import acting_as, actions, api  # noqa: F401

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
                                           (["5", "2000"], True), (["999.99", "999.99"], True),
                                           (["500", "500"], False)])
def test_a_second_person_is_needed_over_the_threshold_in_any_one_currency(amounts, over):
    """The amount the correction moves in the currency (its debits added up), never entry by
    entry: two legs of 999.99 move 1,999.98 (audit: split legs skipped the second admin)."""
    legs = [CorrectionEntry("a", "debit", D(a), "USD") for a in amounts]
    assert needs_second_person(legs, D(1000)) is over
    other = [CorrectionEntry("a", "debit", D(a), c) for a, c in zip(amounts, ("USD", "EUR"))]
    assert needs_second_person(other, D(1000)) is any(D(a) > 1000 for a in amounts)


def test_over_the_threshold_one_admin_requests_and_another_posts_once(db_url, db, factory,
                                                                      api):  # noqa: F811
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "5000"), ("user:u1", "credit", "5000")])
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))
    acting_as(db_url, ada="admin", bob="admin", carol="admin", root="admin")
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
    # ada's own confirm and carol's late one were refused, and each refusal is on the record
    assert logged == [("request_correction", "ada", "ok"), ("ledger_correction", "ada", "failed"),
                      ("ledger_correction", "bob", "ok"), ("ledger_correction", "carol", "failed")]
    decided = db.fetch_one("SELECT status, decided_by FROM recon.correction_requests")
    assert (decided["status"], decided["decided_by"]) == ("posted", "bob")


def test_a_correction_split_into_small_legs_still_waits_for_a_second_admin(db_url, db, factory,
                                                                          api):  # noqa: F811
    """Audit (two-person rule): 5,400 USD as six debits and six credits of 900 is a correction of
    5,400 over the 1,000 threshold: recorded as a request, not posted by one admin."""
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "50"), ("user:u1", "credit", "50")])
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))
    acting_as(db_url, ada="admin", bob="admin")
    desk = recon.console.corrections
    rows = [{"account": "user:u1", "type": "debit", "amount": "900", "currency": "USD"}] * 6 + \
           [{"account": "treasury", "type": "credit", "amount": "900", "currency": "USD"}] * 6
    _, _, second = desk.preview(program, rows)
    assert second  # the form says so before anything is sent
    requested = desk.submit("ada", program, "Move 5,400 in small legs", rows)
    assert requested.ok and "second admin must confirm" in requested.message, requested.message
    assert db.fetch_all("SELECT 1 FROM public.ledger_corrections") == []  # nothing posted
    [waiting] = desk.pending()
    assert desk.confirm("bob", waiting["id"]).ok
    assert len(db.fetch_all("SELECT 1 FROM public.ledger_corrections")) == 1


def test_a_one_sided_transaction_is_completed_against_suspense_through_the_api(
        db_url, db, factory, api):  # noqa: F811
    """The P0 step (issue 15): a lone debit cannot be fixed with a balanced new transaction; the
    desk proposes its missing credit on the suspense account and the admin API completes it."""
    program = factory.program()
    lone = factory.journal(program["id"], [("user:u1", "debit", "100.00")])
    ok_txn = factory.journal(program["id"], [("treasury", "debit", "5"), ("user:u1", "credit", "5")])
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))
    acting_as(db_url, ada="admin", bob="admin", carol="admin", root="admin")
    desk = recon.console.corrections
    proposal = desk.propose(lone)
    rows = [e.to_json() for e in proposal.entries]
    assert rows == [{"account": "suspense", "type": "credit", "amount": "100.00",
                     "currency": "USD"}]
    parsed, lines, second = desk.preview(program["id"], rows, lone)
    assert not second and [(ln.scope, ln.before, ln.after) for ln in lines] == [
        (f"transaction {lone}", D("100.00"), D(0)), (f"program {program['id']}", D("100.00"),
                                                     D(0))]
    short = [{**rows[0], "amount": "99.00"}]
    with pytest.raises(UsageError, match="does not balance.*together with the transaction"):
        desk.preview(program["id"], short, lone)
    outcome = desk.submit("root", program["id"], proposal.reason, rows, lone)
    assert outcome.ok, outcome.message
    assert f"Transaction {lone} completed" in outcome.message
    entries = db.fetch_all("SELECT account, type, amount FROM public.ledger_entries "
                           "WHERE transaction_id = %s ORDER BY id", (lone,))
    assert [(e["account"], e["type"], e["amount"]) for e in entries] == [
        ("user:u1", "debit", D("100.00")), ("suspense", "credit", D("100.00"))]
    run = recon.checks.run(only=["transaction_balance", "ledger_balance"], store=False)
    assert {c.name: c.status for c in run.checks} == {"transaction_balance": "pass",
                                                      "ledger_balance": "pass"}
    # the platform refuses what would not be a completion, in words
    client = recon.console._client_factory()
    try:
        again = client.ledger_correction(program["id"], "again", rows, transaction_id=lone)
        assert again.status_code == 409 and "already balances" in again.error
        balanced = client.ledger_correction(program["id"], "x", rows, transaction_id=ok_txn)
        assert balanced.status_code == 409
        missing = client.ledger_correction(program["id"], "x", rows, transaction_id="txn_none")
        assert missing.status_code == 404
        one_leg = client.ledger_correction(program["id"], "x", rows)
        assert one_leg.status_code == 422 and "at least one debit and one credit" in one_leg.error
    finally:
        client.close()


def test_the_ledger_page_proposes_and_posts_the_missing_leg(db_url, db, factory, api,  # noqa: F811
                                                            monkeypatch, tmp_path):
    from .console_support import app, console_env, open_page, texts
    from .test_console_actions import confirm

    console_env(monkeypatch, db_url, api, tmp_path)
    program = factory.program()
    lone = factory.journal(program["id"], [("treasury", "debit", "10.00"),
                                           ("affiliate:a", "credit", "9.99")])
    at = open_page(app(operator="root"), "ledger")
    at.text_input(key="txn_id").input(lone).run()
    assert f"Transaction **{lone}** does not balance. Proposed" in texts(at)
    assert at.selectbox(key=f"corr_account_0_{lone}").value == "suspense"
    assert at.text_input(key=f"corr_amount_0_{lone}").value == "0.01"
    at.button(key=f"FormSubmitter:correction-{lone}-Preview and post…").click().run()
    assert "Dry run (before → after)" in texts(at) or at.button(key="confirm_action")
    confirm(at)
    assert f"Transaction {lone} completed" in texts(at)
    [row] = db.fetch_all("SELECT account, type, amount FROM public.ledger_entries "
                         "WHERE transaction_id = %s AND account = 'suspense'", (lone,))
    assert (row["type"], row["amount"]) == ("credit", D("0.01"))
