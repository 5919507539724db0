"""The full SQL run on several sessions at once (CHECK_SESSIONS, issue 18): the checks really run
side by side, each on one connection, and the run's results are exactly those of the run one
check at a time, in catalogue order; the per-minute run (a time budget) stays on one session."""

from __future__ import annotations

import pytest

from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.errors import ConfigError

from .conftest import settings_for
from .test_checks_runner import make_catalogue

# each check names the backend that ran it, after a pause long enough that the next free
# session picks up the next check while this one still runs
WHO_RAN = {f"check_{n}": "SELECT pg_backend_pid() AS pid FROM pg_sleep(0.3)" for n in range(4)}


def backends(recon: Recon) -> list[int]:
    run = recon.checks.run(store=False)
    assert [c.name for c in run.checks] == list(WHO_RAN)  # catalogue order, whatever finished first
    assert all(c.status == "pass" or c.failing_rows == 1 for c in run.checks)
    return [c.rows[0]["pid"] for c in run.checks]


def test_two_sessions_run_checks_side_by_side(tmp_path, db_url):
    make_catalogue(tmp_path, WHO_RAN)
    assert len(set(backends(Recon(settings_for(db_url, CHECKS_DIR=tmp_path,
                                                CHECK_SESSIONS="2"))))) == 2
    assert len(set(backends(Recon(settings_for(db_url, CHECKS_DIR=tmp_path,
                                                CHECK_SESSIONS="1"))))) == 1


def _outcome(recon: Recon, **run) -> list[tuple]:
    return [(c.name, c.status, c.failing_rows, c.value, c.rows, c.error, c.engine,
             (c.details or {}).get("fused"), (c.details or {}).get("totals"))
            for c in recon.checks.run(store=False, **run).checks]


def test_the_catalogue_gives_the_same_results_on_one_session_or_four(db_url, factory):
    """The project's catalogue on a platform where checks fail (an unbalanced transaction, a
    mixed-program journal, a settlement that is not on chain): every result is the same on 1
    and on 4 sessions."""
    p1, p2 = factory.program(), factory.program()
    user = factory.user(p1["id"])
    factory.completed_intent(p1, user["id"])
    factory.journal(p1["id"], [("treasury", "debit", "5")])
    mixed = factory.journal(p1["id"], [("treasury", "debit", "2")])
    factory.journal(p2["id"], [("treasury", "credit", "2")], transaction_id=mixed)
    intent = factory.intent(p1["id"], user["id"])
    factory.settlement(intent["id"], p1["id"])
    one = _outcome(Recon(settings_for(db_url, CHECK_SESSIONS="1")))
    four = _outcome(Recon(settings_for(db_url, CHECK_SESSIONS="4")))
    assert four == one
    by_name = {row[0]: row for row in four}
    for name in ("transaction_balance", "journal_single_program", "settlement_chain_match",
                 "ledger_balance"):
        assert by_name[name][1] == "fail", name
    assert by_name["transaction_balance"][7] == "journal_pass"


def test_a_broken_check_is_an_error_on_any_session(tmp_path, db_url):
    make_catalogue(tmp_path, {**WHO_RAN, "broken": "SELECT no_such_column FROM public.programs"})
    run = Recon(settings_for(db_url, CHECKS_DIR=tmp_path, CHECK_SESSIONS="3")).checks.run(
        store=False).by_name()
    assert run["broken"].status == "error" and "no_such_column" in run["broken"].error
    assert all(run[n].error is None for n in WHO_RAN)


def test_the_per_minute_run_keeps_one_session(tmp_path, db_url):
    """The per-minute checks are cheap and run in order, and a run with a time budget spends it
    in order: one connection."""
    make_catalogue(tmp_path, WHO_RAN, yml="".join(
        f"{n}:\n  description: d\n  priority: P2\n  owner: tests\n  runbook: r\n  kind: rows\n"
        f"  fast: true\n  thresholds:\n    fail: failing_rows > 0\n" for n in WHO_RAN))
    recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path, CHECK_SESSIONS="4"))
    for run in (recon.checks.run(fast_only=True, store=False),
                recon.checks.run(budget_seconds=30, store=False)):
        assert len({c.rows[0]["pid"] for c in run.checks}) == 1


@pytest.mark.parametrize("value, message", [
    ("0", "at least 1"), ("9", "at most 8"), ("two", "whole number")])
def test_check_sessions_is_validated_by_name(value, message):
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.load(env={"CHECK_SESSIONS": value})
    assert "CHECK_SESSIONS" in str(caught.value)


@pytest.mark.slow  # imports Great Expectations (~5 s)
def test_gx_runs_side_by_side_with_the_same_results(tmp_path, db_url):
    """The GX engine on two sessions: two connections at once, and every result (status,
    count, sample, error) as on one; a broken check still errors alone."""
    make_catalogue(tmp_path, {**WHO_RAN, "broken": "SELECT no_such_column FROM public.programs"})

    def gx(sessions: str):
        recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path, CHECK_SESSIONS=sessions))
        return recon.checks.run(engine="gx", store=False).checks

    one, two = gx("1"), gx("2")
    assert [c.name for c in two] == [*WHO_RAN, "broken"]
    assert len({c.rows[0]["pid"] for c in two[:4]}) == 2
    assert len({c.rows[0]["pid"] for c in one[:4]}) == 1
    assert [(c.status, c.failing_rows) for c in two] == [(c.status, c.failing_rows) for c in one]
    assert two[4].status == "error" and "no_such_column" in two[4].error
