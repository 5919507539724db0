"""NULL is a currency (program) of its own, distinct from '' and from every other value, and the
entries without a transaction_id are one transaction (as GROUP BY groups them), checked per
currency like any other: in every form of transaction_balance and journal_single_program — the
full run's fused journal pass, each check alone from its own .sql, the per-minute incremental form
over the checkpoint (after the watermark moved over such a transaction), the columnar engine
(`--engine duckdb`) and GX. Each of these was a blind spot: NULL and '' were one currency (program),
and the NULL transaction was never re-checked per currency nor listed by journal_single_program.

The platform schema is loosened (NOT NULL and CHECK constraints dropped), as on a profile's views
or a platform without the contract's constraints."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from sge_recon.context import Recon

from .checkpoint_support import settle_checkpoint
from .conftest import settings_for
from .test_checks_fused import _loosen, _reset

MEMBERS = ["transaction_balance", "journal_single_program"]
_INSERT = ("INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount, "
           "currency) VALUES (%s, %s, 'treasury', %s, %s, %s)")

# (program, transaction, type, amount, currency)
NULL_VS_EMPTY_CURRENCY = [("p1", "t_cur", "debit", 5, None), ("p1", "t_cur", "credit", 5, "")]
NULL_VS_EMPTY_PROGRAM = [(None, "t_prog", "debit", 5, "USD"), ("", "t_prog", "credit", 5, "USD")]
NULL_TRANSACTION = [("p1", None, "debit", 5, "USD"), ("p2", None, "credit", 5, "EUR")]
CLEAN = [("p1", "t_ok", "debit", 3, "USD"), ("p1", "t_ok", "credit", 3, "USD")]


def _row(txn, program, currency, difference) -> dict:
    return {"transaction_id": txn, "program_id": program, "currency": currency,
            "difference": Decimal(difference)}


# ORDER BY transaction_id, currency: '' first, NULLs last (as before)
UNBALANCED = [_row("t_cur", "p1", "", "-5.000000"), _row("t_cur", "p1", None, "5.000000"),
              _row(None, "p2", "EUR", "-5.000000"), _row(None, "p1", "USD", "5.000000")]
MIXED = [{"transaction_id": "t_prog", "programs": 2, "program_ids": "(empty), (null)",
          "entries": 2},
         {"transaction_id": None, "programs": 2, "program_ids": "p1, p2", "entries": 2}]
EXPECTED = {"transaction_balance": UNBALANCED, "journal_single_program": MIXED}


@pytest.fixture(scope="module")
def loose_url(module_db_url) -> str:
    _loosen(module_db_url)
    return module_db_url


@pytest.fixture
def recon(loose_url, tmp_path) -> Recon:
    _reset(loose_url)
    return Recon(settings_for(loose_url, FUSED_LEDGER_PASS="true", EXPORTS_DIR=tmp_path / "x",
                              SGE_RECON_HOME=tmp_path / "home"))


def _write(url: str, *entries: tuple) -> None:
    with psycopg.connect(url) as conn:
        for row in entries:
            conn.execute(_INSERT, row)


def _ledger(url: str) -> None:
    _write(url, *CLEAN, *NULL_VS_EMPTY_CURRENCY, *NULL_VS_EMPTY_PROGRAM, *NULL_TRANSACTION)


def _assert_rows(results: dict, name: str, expected: list[dict]) -> None:
    r = results[name]
    assert r.error is None, r.error
    assert r.status == "fail" and r.failing_rows == len(expected), (name, r.rows)
    assert r.rows == expected, name
    assert [[type(v) for v in row.values()] for row in r.rows] == \
        [[type(v) for v in row.values()] for row in expected], name


def test_the_full_runs_fused_pass(recon, loose_url):
    _ledger(loose_url)
    run = recon.checks.run(only=MEMBERS, store=False).by_name()
    for name in MEMBERS:
        assert (run[name].details or {}).get("fused") == "journal_pass", name
        _assert_rows(run, name, EXPECTED[name])


@pytest.mark.parametrize("name", MEMBERS)
def test_each_check_alone(recon, loose_url, name):
    _ledger(loose_url)
    run = recon.checks.run(only=[name], store=False).by_name()
    assert not (run[name].details or {}).get("fused")
    _assert_rows(run, name, EXPECTED[name])


def test_the_columnar_engine(recon, loose_url):
    _ledger(loose_url)
    run = recon.checks.run(only=MEMBERS, engine="duckdb", store=False).by_name()
    for name in MEMBERS:
        assert run[name].engine == "duckdb", (name, run[name].details)
        _assert_rows(run, name, EXPECTED[name])


@pytest.mark.slow  # imports Great Expectations (~5 s)
def test_gx(recon, loose_url):
    _ledger(loose_url)
    run = recon.checks.run(only=MEMBERS, engine="gx", store=False).by_name()
    for name in MEMBERS:
        _assert_rows(run, name, EXPECTED[name])


def _stored(recon: Recon) -> list[tuple]:
    return [tuple(r.values()) for r in recon.db.fetch_all(
        "SELECT transaction_id, program_id, currency, difference "
        "FROM recon.ledger_checkpoint_unbalanced ORDER BY transaction_id, currency")]


def _per_minute(recon: Recon) -> list[dict]:
    fast = recon.checks.run(only=["transaction_balance"], fast_only=True, store=False).by_name()
    full = recon.checks.run(only=["transaction_balance"], store=False).by_name()
    f, g = fast["transaction_balance"], full["transaction_balance"]
    assert f.error is None and g.error is None, (f.error, g.error)
    assert (f.status, f.failing_rows, f.rows) == (g.status, g.failing_rows, g.rows)
    return f.rows


def test_the_per_minute_form_after_the_watermark_moved(recon, loose_url):
    # The NULL transaction mixing currencies is reconciled history: the checkpoint keeps its rows.
    _write(loose_url, *CLEAN, *NULL_TRANSACTION)
    report = settle_checkpoint(recon.db)
    assert report.watermark == 4 and report.note is None, report
    assert _stored(recon) == [(None, "p2", "EUR", Decimal("-5")), (None, "p1", "USD", Decimal("5"))]
    assert _per_minute(recon) == UNBALANCED[2:]
    # A new entry of the NULL transaction touches it: its checkpointed rows give way to the
    # transaction read again whole (USD now balances, EUR still does not).
    _write(loose_url, ("p1", None, "credit", 5, "USD"))
    assert _per_minute(recon) == [_row(None, "p2", "EUR", "-5.000000")]
    assert settle_checkpoint(recon.db).watermark == 5
    assert _stored(recon) == [(None, "p2", "EUR", Decimal("-5"))]
    assert _per_minute(recon) == [_row(None, "p2", "EUR", "-5.000000")]
    # NULL and '' as two currencies above the watermark (a NULL currency keeps the watermark from
    # moving over it: the checkpoint's totals hold no NULL currency), and '' checkpointed.
    _write(loose_url, ("p1", "t_empty", "debit", 2, ""), ("p1", "t_empty", "credit", 2, "USD"))
    assert settle_checkpoint(recon.db).watermark == 7
    assert _stored(recon) == [("t_empty", "p1", "", Decimal("2")),
                              ("t_empty", "p1", "USD", Decimal("-2")),
                              (None, "p2", "EUR", Decimal("-5"))]
    _write(loose_url, *NULL_VS_EMPTY_CURRENCY)
    assert _per_minute(recon) == [
        *UNBALANCED[:2], _row("t_empty", "p1", "", "2.000000"),
        _row("t_empty", "p1", "USD", "-2.000000"), _row(None, "p2", "EUR", "-5.000000")]
