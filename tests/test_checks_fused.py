"""The fused journal pass (issue 18, item 2): the full SQL run takes transaction_balance and
journal_single_program from ONE sort of the ledger by transaction (checks/fused/journal_pass.sql).
Its results must be exactly the separate checks' (each run alone from its own .sql): status, true
count, the bounded sample row by row (values and their Python types), on random ledgers with
imbalances, unbalanced and mixed transactions, entries without a transaction (one transaction,
mixing currencies and programs), tampered history, NULLs where the contract forbids them beside
'' (another currency or program) and sums beyond 38 digits."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
import shutil

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sge_recon.checks.loader import load_catalogue, load_fused
from sge_recon.checks.params import check_params
from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.errors import CheckDefinitionError

from .checkpoint_support import settle_checkpoint
from .conftest import settings_for

MEMBERS = ["transaction_balance", "journal_single_program"]
SAMPLE = 3  # small, so that long failing lists exercise the bounded sample
ROOT = Path(__file__).resolve().parents[1]

PROGRAMS = ["p1", "p2", "", None]  # NULL and '' are two programs (currencies)
CURRENCIES = ["USD", "EUR", "", None]
ACCOUNTS = ["treasury", "user:u1", "affiliate:a1", "affiliate:a2", "affiliate:a1:paid", None]
TYPES = ["debit", "credit", "debit", "credit", "refund", None]
HUGE = Decimal("99999999999999999999999999999999.999999")  # numeric(38,6) at its widest
AMOUNTS = [Decimal("1"), Decimal("10.5"), Decimal("0.004"), Decimal("0.01"), Decimal("99.999999"),
           HUGE, None]

_INSERT = ("INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount, "
           "currency) VALUES (%s, %s, %s, %s, %s, %s)")


def _loosen(url: str) -> None:
    """A platform that writes what the contract rules out (what platform_data_integrity flags):
    NULLs, unknown types, any amount. The checks must still agree on such rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        for column in ("program_id", "transaction_id", "account", "type", "amount", "currency"):
            conn.execute(f"ALTER TABLE public.ledger_entries ALTER COLUMN {column} DROP NOT NULL")
        for name in conn.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'public.ledger_entries'::regclass"
                " AND contype = 'c'").fetchall():
            conn.execute(f'ALTER TABLE public.ledger_entries DROP CONSTRAINT "{name[0]}"')
        conn.execute("ALTER TABLE public.commissions ALTER COLUMN affiliate_id DROP NOT NULL")


def _reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE public.ledger_entries RESTART IDENTITY")
        conn.execute("TRUNCATE public.commissions")
        conn.execute("TRUNCATE recon.ledger_checkpoint, recon.ledger_checkpoint_totals, "
                     "recon.ledger_checkpoint_unbalanced")


def _typed(rows: list[dict]) -> list[list[tuple]]:
    """Rows with each value's type: Decimal('5') == 5, but JSON shows them differently."""
    return [[(k, type(v).__name__, v) for k, v in r.items()] for r in rows]


def _compare(recon: Recon) -> dict:
    fused = recon.checks.run(only=MEMBERS, store=False).by_name()
    for name in MEMBERS:
        alone = recon.checks.run(only=[name], store=False).by_name()[name]
        f = fused[name]
        assert (f.details or {}).get("fused") == "journal_pass", f"{name}: fused pass not used"
        assert alone.details is None or "fused" not in alone.details
        assert alone.error is None and f.error is None, (alone.error, f.error)
        assert (f.status, f.failing_rows, f.value) == (alone.status, alone.failing_rows,
                                                       alone.value), name
        assert _typed(f.rows) == _typed(alone.rows), name
        assert [r.to_json() for r in (f,)][0]["rows"] == alone.to_json()["rows"], name
    return fused


@pytest.fixture
def recon(db_url) -> Recon:
    """The fused pass is on by default (FUSED_LEDGER_PASS); these tests say so explicitly."""
    return Recon(settings_for(db_url, FUSED_LEDGER_PASS="true"))


@pytest.fixture(scope="module")
def loose_url(module_db_url) -> str:
    _loosen(module_db_url)
    return module_db_url


@pytest.fixture(scope="module")
def loose_recon(loose_url) -> Recon:
    return Recon(settings_for(loose_url, SAMPLE_ROWS=SAMPLE, FUSED_LEDGER_PASS="true"))


entry = st.tuples(st.sampled_from(PROGRAMS), st.sampled_from(ACCOUNTS), st.sampled_from(TYPES),
                  st.sampled_from(AMOUNTS), st.sampled_from(CURRENCIES))
journal = st.tuples(
    st.one_of(st.integers(0, 12).map(lambda n: f"t{n}"), st.just(None)),  # transaction id
    st.sampled_from(["p1", "p2", ""]), st.sampled_from(["USD", "EUR", ""]),
    st.sampled_from(["treasury", "affiliate:a1", "affiliate:a2", "affiliate:a3:paid"]),
    st.sampled_from(AMOUNTS[:-1]),
    st.booleans(),                                   # balanced (most journals are)
    st.lists(entry, max_size=2),                     # odd legs: NULLs, unknown types, mixes
)
tamper = st.sampled_from(["none", "update_amount", "update_account", "delete", "insert_below"])
commission = st.tuples(st.sampled_from(["a1", "a2", "a3", None]),
                       st.sampled_from([Decimal("1"), Decimal("10.5"), HUGE]))


def _write(conn: psycopg.Connection, journals) -> None:
    for txn, program, currency, account, amount, balanced, odd in journals:
        conn.execute(_INSERT, (program, txn, "treasury", "debit", amount, currency))
        if balanced:
            conn.execute(_INSERT, (program, txn, account, "credit", amount, currency))
        for p, a, t, amt, c in odd:
            conn.execute(_INSERT, (p, txn, a, t, amt, c))


@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=st.lists(journal, max_size=8), checkpointed=st.booleans(),
       tampering=st.lists(tamper, max_size=2), recent=st.lists(journal, max_size=5),
       commissions=st.lists(commission, max_size=4))
def test_fused_pass_equals_the_separate_checks(loose_url, loose_recon, history, checkpointed,
                                               tampering, recent, commissions):
    _reset(loose_url)
    with psycopg.connect(loose_url) as conn:
        _write(conn, history)
        for n, (affiliate, amount) in enumerate(commissions):
            conn.execute("INSERT INTO public.commissions (id, program_id, affiliate_id, "
                         "intent_id, level, rate, base_amount, amount, status) VALUES "
                         "(%s, 'p1', %s, 'i', 1, 0.1, 0, %s, 'accrued')",
                         (f"c{n}", affiliate, amount))
    if checkpointed:
        try:
            settle_checkpoint(loose_recon.db)  # the history is reconciled
        except psycopg.errors.NotNullViolation:
            pass  # the checkpoint keeps no NULL keys: such history stays unreconciled
    with psycopg.connect(loose_url) as conn:
        for kind in tampering:
            first = "(SELECT min(id) FROM public.ledger_entries)"
            if kind == "update_amount":
                conn.execute(f"UPDATE public.ledger_entries SET amount = amount / 2 "
                             f"WHERE id = {first}")
            elif kind == "update_account":
                conn.execute(f"UPDATE public.ledger_entries SET account = 'user:x' "
                             f"WHERE id = {first}")
            elif kind == "delete":
                conn.execute(f"DELETE FROM public.ledger_entries WHERE id = {first}")
            elif kind == "insert_below":
                conn.execute("INSERT INTO public.ledger_entries (id, program_id, transaction_id, "
                             "account, type, amount, currency) VALUES (-1, 'p1', 't0', "
                             "'treasury', 'debit', 3, 'USD') ON CONFLICT DO NOTHING")
        _write(conn, recent)
    _compare(loose_recon)


def test_fused_pass_on_an_empty_ledger(recon):
    fused = _compare(recon)
    assert all(fused[n].status == "pass" and fused[n].failing_rows == 0 for n in MEMBERS)


def test_fused_pass_finds_each_kind_of_fault(loose_url, loose_recon):
    """A fixed ledger with one fault per member, so that none of them can pass by accident."""
    _reset(loose_url)
    with psycopg.connect(loose_url) as conn:
        _write(conn, [("t1", "p1", "USD", "treasury", Decimal("5"), False, []),  # unbalanced
                      ("t2", "p1", "USD", "affiliate:a1", Decimal("2"), True,
                       [("p2", "user:u1", "credit", Decimal("1"), "EUR")]),  # mixed program
                      ("t3", "p2", "EUR", "user:u1", HUGE, True, [])])
        for n in range(5):  # more failing transactions than the sample holds
            _write(conn, [(f"u{n}", "p2", "EUR", "treasury", Decimal("1"), False, [])])
    settle_checkpoint(loose_recon.db)
    with psycopg.connect(loose_url) as conn:
        conn.execute("UPDATE public.ledger_entries SET amount = 7 WHERE id = 1")  # tampered
    fused = _compare(loose_recon)
    assert {n: fused[n].status for n in MEMBERS} == dict.fromkeys(MEMBERS, "fail")
    assert fused["transaction_balance"].failing_rows == 7  # t1, t2 (its EUR leg), u0-u4
    assert len(fused["transaction_balance"].rows) == SAMPLE
    assert fused["journal_single_program"].rows == [
        {"transaction_id": "t2", "programs": 2, "program_ids": "p1, p2", "entries": 3}]


def test_one_member_alone_runs_from_its_own_file(recon):
    result = recon.checks.run(only=["transaction_balance"], store=False).by_name()[
        "transaction_balance"]
    assert result.status == "pass" and not (result.details or {}).get("fused")


def test_the_full_run_takes_the_pass_by_default(db_url):
    run = Recon(settings_for(db_url)).checks.run(store=False).by_name()
    assert {n: (run[n].details or {}).get("fused") for n in MEMBERS} == dict.fromkeys(
        MEMBERS, "journal_pass")
    assert not (run["ledger_balance"].details or {}).get("fused")


def test_gx_and_the_per_minute_run_do_not_use_the_fused_pass(recon):
    fast = recon.checks.run(fast_only=True, store=False).by_name()
    assert not any((c.details or {}).get("fused") for c in fast.values())


def _catalogue_copy(tmp_path: Path) -> Path:
    target = tmp_path / "checks"
    shutil.copytree(ROOT / "checks", target)
    return target


def test_a_broken_fused_query_falls_back_to_the_checks_own_files(db_url, tmp_path):
    checks = _catalogue_copy(tmp_path)
    (checks / "fused" / "journal_pass.sql").write_text(
        "SELECT 'transaction_balance' AS check_name, 1 / 0 AS failing_rows, NULL AS rows")
    recon = Recon(settings_for(db_url, CHECKS_DIR=checks, FUSED_LEDGER_PASS="true"))
    run = recon.checks.run(only=MEMBERS, store=False)
    assert {c.name: c.status for c in run.checks} == dict.fromkeys(MEMBERS, "pass")
    assert not any((c.details or {}).get("fused") for c in run.checks)


def test_the_loader_refuses_a_fused_file_no_check_names(tmp_path):
    checks = _catalogue_copy(tmp_path)
    (checks / "fused" / "orphan.sql").write_text("SELECT 1")
    params = check_params(Settings.load(env={}))
    with pytest.raises(CheckDefinitionError, match="orphan.sql"):
        load_fused(checks, load_catalogue(checks, params), params)


def test_the_loader_refuses_a_fused_name_without_its_file(tmp_path):
    checks = _catalogue_copy(tmp_path)
    yml = checks / "checks.yml"
    yml.write_text(yml.read_text().replace("fused: journal_pass", "fused: journal_pas", 1))
    with pytest.raises(CheckDefinitionError, match="journal_pas"):
        load_catalogue(checks, check_params(Settings.load(env={})))


def test_the_catalogue_declares_the_fused_pass():
    params = check_params(Settings.load(env={}))
    fused = load_fused(ROOT / "checks", load_catalogue(ROOT / "checks", params), params)
    assert [(f.name, list(f.members), f.problem) for f in fused] == [
        ("journal_pass", MEMBERS, None)]


def test_a_member_edited_since_makes_the_fused_pass_stand_aside(db_url, tmp_path):
    """The member's own file decides its result: once it differs from what the fused query
    mirrors (its sha256 line), the full run runs the members one by one."""
    checks = _catalogue_copy(tmp_path)
    sql = checks / "transaction_balance.sql"
    text = sql.read_text()
    assert "difference + 0.000000 AS difference" in text
    sql.write_text(text.replace("difference + 0.000000 AS difference",
                                "round(difference, 4) AS difference"))
    params = check_params(Settings.load(env={}))
    (fused,) = load_fused(checks, load_catalogue(checks, params), params)
    assert "transaction_balance" in (fused.problem or "")
    recon = Recon(settings_for(db_url, CHECKS_DIR=checks, FUSED_LEDGER_PASS="true"))
    run = recon.checks.run(only=MEMBERS, store=False)
    assert not any((c.details or {}).get("fused") for c in run.checks)
