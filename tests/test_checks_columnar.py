"""The columnar engine (issue 18, item 3: `sge-recon check --engine duckdb`): the ledger checks
in DuckDB over the audit exports' Parquet plus the live tail must give exactly what the
PostgreSQL engine gives (status, true count, every sample row with its Python type, the JSON),
on random ledgers with exported history, rows after the export, exported rows updated, deleted or
inserted late, NULLs the contract rules out, unbalanced transactions and sums beyond 38 digits."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sge_recon.checks.columnar_engine import SERVED
from sge_recon.context import Recon

from .checkpoint_support import settle_checkpoint
from .conftest import settings_for
from .test_checks_fused import (AMOUNTS, HUGE, SAMPLE, _loosen, _reset, _typed, commission,
                                journal)

ROOT = Path(__file__).resolve().parents[1]
LEDGER_CHECKS = [*SERVED, "ledger_tamper"]
MONTHS = {"2026-01": datetime(2026, 1, 15, 12, tzinfo=timezone.utc),
          "2026-02": datetime(2026, 2, 27, 23, 59, 59, 999999, tzinfo=timezone.utc)}
_INSERT = ("INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount, "
           "currency, created_at) VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, now()))")


def _write(conn, journals, at=None) -> None:
    for txn, program, currency, account, amount, balanced, odd in journals:
        conn.execute(_INSERT, (program, txn, "treasury", "debit", amount, currency, at))
        if balanced:
            conn.execute(_INSERT, (program, txn, account, "credit", amount, currency, at))
        for p, a, t, amt, c in odd:
            conn.execute(_INSERT, (p, txn, a, t, amt, c, at))


def _compare(recon: Recon, names=LEDGER_CHECKS) -> dict:
    """The duckdb run against each check alone on PostgreSQL; returns the duckdb results."""
    duck = recon.checks.run(only=names, engine="duckdb", store=False).by_name()
    for name in names:
        alone = recon.checks.run(only=[name], store=False).by_name()[name]
        d = duck[name]
        assert alone.error is None and d.error is None, (alone.error, d.error)
        assert (d.status, d.failing_rows, d.value) == (alone.status, alone.failing_rows,
                                                       alone.value), name
        assert _typed(d.rows) == _typed(alone.rows), name
        assert d.to_json()["rows"] == alone.to_json()["rows"], name
        expected = "duckdb" if name in SERVED and "columnar_fallback" not in (d.details or {}) \
            else "sql"
        assert d.engine == expected, (name, d.engine, d.details)
    return duck


@pytest.fixture(scope="module")
def exports_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="module")
def loose(module_db_url, exports_dir) -> tuple[str, Recon]:
    _loosen(module_db_url)
    with psycopg.connect(module_db_url, autocommit=True) as conn:  # rows without a time too
        conn.execute("ALTER TABLE public.ledger_entries ALTER COLUMN created_at DROP NOT NULL")
    return module_db_url, Recon(settings_for(module_db_url, SAMPLE_ROWS=SAMPLE,
                                             EXPORTS_DIR=exports_dir,
                                             SGE_RECON_HOME=exports_dir.parent / "home"))


def _fresh(url: str, exports_dir: Path) -> None:
    _reset(url)
    for path in exports_dir.iterdir():
        shutil.rmtree(path)


def _export(recon: Recon, *periods: str) -> None:
    for period in periods:
        recon.exports.export(period)


def _served_from(result) -> list[str]:
    return (result.details or {}).get("columnar", {}).get("exports", [])


# Exported history: NULL accounts and types, unknown types, but every entry with its program,
# currency and amount (the exporter's control totals cannot take NULL there: such rows are
# written to the live tail below). Its odd legs are the fused tests' with those filled in.
exported_journal = journal.map(lambda j: (*j[:6], [(p or "p2", a, t, amt or 1, c or "EUR")
                                                   for p, a, t, amt, c in j[6]]))
late = st.sampled_from(["none", "update_amount", "update_account", "update_transaction",
                        "delete", "insert_late", "move_out"])


@settings(max_examples=15, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=st.lists(st.tuples(st.sampled_from(list(MONTHS)), exported_journal), max_size=8),
       checkpointed=st.booleans(), changes=st.lists(late, max_size=2),
       recent=st.lists(journal, max_size=4), commissions=st.lists(commission, max_size=4),
       undated=st.lists(journal, max_size=1))
def test_duckdb_engine_equals_postgresql(loose, exports_dir, history, checkpointed, changes,
                                         recent, commissions, undated):
    url, recon = loose
    _fresh(url, exports_dir)
    with psycopg.connect(url) as conn:
        for month, j in history:
            _write(conn, [j], MONTHS[month])
        for n, (affiliate, amount) in enumerate(commissions):
            conn.execute("INSERT INTO public.commissions (id, program_id, affiliate_id, "
                         "intent_id, level, rate, base_amount, amount, status) VALUES "
                         "(%s, 'p1', %s, 'i', 1, 0.1, 0, %s, 'accrued')",
                         (f"c{n}", affiliate, amount))
    if checkpointed:
        try:
            settle_checkpoint(recon.db)
        except psycopg.errors.NotNullViolation:
            pass
    _export(recon, *MONTHS)
    with psycopg.connect(url) as conn:
        first = "(SELECT min(id) FROM public.ledger_entries)"
        for kind in changes:
            if kind == "update_amount":
                conn.execute(f"UPDATE public.ledger_entries SET amount = amount / 2 WHERE id = {first}")
            elif kind == "update_account":
                conn.execute(f"UPDATE public.ledger_entries SET account = 'affiliate:a9' "
                             f"WHERE id = {first}")
            elif kind == "update_transaction":
                conn.execute(f"UPDATE public.ledger_entries SET transaction_id = 'moved' "
                             f"WHERE id = {first}")
            elif kind == "delete":
                conn.execute(f"DELETE FROM public.ledger_entries WHERE id = {first}")
            elif kind == "insert_late":
                _write(conn, [("t1", "p1", "USD", "treasury", Decimal("3"), False, [])],
                       MONTHS["2026-01"])
            elif kind == "move_out":
                conn.execute(f"UPDATE public.ledger_entries SET created_at = now() "
                             f"WHERE id = {first}")
        _write(conn, recent)
        for j in undated:
            _write(conn, [j])
            conn.execute("UPDATE public.ledger_entries SET created_at = NULL "
                         "WHERE id = (SELECT max(id) FROM public.ledger_entries)")
    duck = _compare(recon)
    if not changes or changes == ["none"]:  # nothing changed since the export: all from Parquet
        # (an export whose control totals exceed DuckDB's DECIMAL(38) does not verify: read live)
        for r in (duck[n] for n in SERVED if duck[n].engine == "duckdb"):
            skipped = r.details["columnar"]["exports_skipped"]
            assert _served_from(r) == [m for m in MONTHS if m not in skipped], r.details


def test_an_empty_ledger_and_no_exports(loose, exports_dir):
    url, recon = loose
    _fresh(url, exports_dir)
    duck = _compare(recon)
    assert all(duck[n].status == "pass" and duck[n].engine == "duckdb" for n in SERVED)
    assert all(_served_from(duck[n]) == [] for n in SERVED)


def test_the_exports_are_read_and_a_changed_month_is_read_live(loose, exports_dir):
    url, recon = loose
    _fresh(url, exports_dir)
    with psycopg.connect(url) as conn:
        _write(conn, [("t1", "p1", "USD", "affiliate:a1", Decimal("5"), True, [])],
               MONTHS["2026-01"])
        _write(conn, [("t2", "p1", "USD", "treasury", Decimal("7"), False, [])],
               MONTHS["2026-02"])
        _write(conn, [("t3", "p2", "EUR", "treasury", Decimal("1"), False, [])])
    _export(recon, *MONTHS)
    duck = _compare(recon)
    details = duck["transaction_balance"].details["columnar"]
    assert details["exports"] == ["2026-01", "2026-02"] and details["live_rows"] == 1
    assert duck["transaction_balance"].failing_rows == 2
    with psycopg.connect(url) as conn:  # history changed after its export
        conn.execute("UPDATE public.ledger_entries SET amount = 4 WHERE transaction_id = 't1' "
                     "AND type = 'credit'")
    duck = _compare(recon)
    details = duck["transaction_balance"].details["columnar"]
    assert details["exports"] == ["2026-02"] and details["changed_since_export"] == ["2026-01"]
    assert duck["transaction_balance"].failing_rows == 3
    assert duck["commission_ledger"].rows == [
        {"affiliate_id": "a1", "commissions_total": Decimal("0.000000"),
         "ledger_total": Decimal("4.000000")}]


def test_an_altered_export_is_not_used(loose, exports_dir):
    url, recon = loose
    _fresh(url, exports_dir)
    with psycopg.connect(url) as conn:
        _write(conn, [("t1", "p1", "USD", "treasury", Decimal("5"), True, [])],
               MONTHS["2026-01"])
    _export(recon, "2026-01")
    with open(exports_dir / "2026-01" / "ledger_entries.parquet", "ab") as fh:
        fh.write(b"x")
    duck = _compare(recon)
    details = duck["ledger_balance"].details["columnar"]
    assert details["exports"] == [] and "2026-01" in details["exports_skipped"]
    assert details["live_rows"] == 2


@pytest.mark.parametrize("exported, changed", [
    # the credit leg's account moves a unit separator into its transaction id: 't1' and
    # 't1<US>x' each unbalanced, the rows' text as before ("t1" US "x" US "treasury")
    ({"account": "x\x1ftreasury"}, {"transaction_id": "t1\x1fx", "account": "treasury"}),
    # a NULL currency becomes chr(30), the mark the row text used for NULL
    ({"currency": None}, {"currency": "\x1e"}),
])
def test_a_month_changed_into_rows_of_the_same_text_is_read_live(loose, exports_dir, exported,
                                                                 changed):
    """A balanced export, then its credit leg rewritten so that the row's old canonical text
    (values joined by chr(31), NULL as chr(30)) is unchanged: PostgreSQL fails it, and the
    DuckDB engine must not prove the month by its export and pass."""
    url, recon = loose
    _fresh(url, exports_dir)
    debit = {"program_id": "p1", "transaction_id": "t1", "account": "treasury", "type": "debit",
             "amount": Decimal("5"), "currency": exported.get("currency", "USD")}
    credit = {**debit, "type": "credit", "account": "user:u1", **exported}
    with psycopg.connect(url) as conn:
        for row in (debit, credit):
            conn.execute(_INSERT, (row["program_id"], row["transaction_id"], row["account"],
                                   row["type"], row["amount"], row["currency"],
                                   MONTHS["2026-01"]))
    _export(recon, "2026-01")
    assert _compare(recon)["transaction_balance"].status == "pass"
    with psycopg.connect(url) as conn:
        sets = ", ".join(f"{column} = %s" for column in changed)
        conn.execute(f"UPDATE public.ledger_entries SET {sets} WHERE type = 'credit'",
                     list(changed.values()))
    duck = _compare(recon)
    assert duck["transaction_balance"].status == "fail"
    assert duck["transaction_balance"].failing_rows == 2
    details = duck["transaction_balance"].details["columnar"]
    assert details["changed_since_export"] == ["2026-01"] and details["exports"] == []


def test_an_unchanged_month_of_unicode_ids_is_read_from_its_export(loose, exports_dir):
    """The row text counts each value's bytes on both sides (PostgreSQL's octet_length, DuckDB's
    strlen): ids with accents, a zero-width space or a separator still prove their export."""
    url, recon = loose
    _fresh(url, exports_dir)
    with psycopg.connect(url) as conn:
        _write(conn, [("t\u00e9", "p\u00e9", "\u20ac", "user:\u00fc", Decimal("5"), True, []),
                      ("t\u200b1", "p1", "USD", "x\x1fy", Decimal("0.000001"), False, []),
                      ("T\u00c9", "p1", "\x1e", "treasury", Decimal("1"), True, [])],
               MONTHS["2026-01"])
    _export(recon, "2026-01")
    duck = _compare(recon)
    details = duck["transaction_balance"].details["columnar"]
    assert details["exports"] == ["2026-01"] and details["changed_since_export"] == []
    assert duck["transaction_balance"].failing_rows == 1


def test_ids_with_line_breaks_in_a_live_tail_of_many_blocks_stay_in_duckdb(loose, exports_dir):
    """The live tail comes from PostgreSQL's COPY as CSV in blocks of COPY_BLOCK bytes: ids that
    hold a line break (quoted in the CSV) must not stop the reader where a block ends inside one
    (the whole sweep then ran on PostgreSQL, as if the amounts did not fit)."""
    url, recon = loose
    _fresh(url, exports_dir)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO public.ledger_entries (program_id, transaction_id, account, "
                     "type, amount, currency) SELECT 'p1', 'line' || chr(10) || (g / 2) || "
                     "chr(13) || chr(10) || repeat('y', 40), 'user:u1', CASE WHEN g % 2 = 0 "
                     "THEN 'debit' ELSE 'credit' END, CASE WHEN g = 7777 THEN 6 ELSE 5 END, "
                     "'USD' FROM generate_series(0, 59999) AS g")
    duck = _compare(recon)
    assert {n: duck[n].engine for n in SERVED} == dict.fromkeys(SERVED, "duckdb")
    assert duck["transaction_balance"].failing_rows == 1
    assert duck["ledger_balance"].details["columnar"]["live_rows"] == 60000


def test_a_sum_beyond_38_digits_runs_on_postgresql(loose, exports_dir):
    url, recon = loose
    _fresh(url, exports_dir)
    with psycopg.connect(url) as conn:
        _write(conn, [("t1", "p1", "USD", "treasury", HUGE, True, []),
                      ("t2", "p1", "USD", "treasury", HUGE, True, [])], MONTHS["2026-01"])
    _export(recon, "2026-01")
    duck = _compare(recon)
    assert duck["ledger_balance"].engine == "sql"
    assert "DECIMAL(38)" in duck["ledger_balance"].details["columnar_fallback"]
    assert duck["journal_single_program"].engine == "duckdb"


def test_the_per_minute_run_stays_incremental_sql(loose):
    _, recon = loose
    run = recon.checks.run(fast_only=True, engine="duckdb", store=False)
    assert run.engine == "sql"


def test_a_duckdb_run_is_stored(loose):
    _, recon = loose
    run = recon.checks.run(only=list(LEDGER_CHECKS), engine="duckdb")
    latest = recon.checks.latest()
    assert latest.run_id == run.run_id and latest.engine == "duckdb"
    assert {c.name: c.engine for c in latest.checks}["ledger_tamper"] == "sql"


def test_an_edited_check_makes_its_duckdb_form_stand_aside(db_url, tmp_path):
    checks = tmp_path / "checks"
    shutil.copytree(ROOT / "checks", checks)
    sql = checks / "ledger_balance.sql"
    sql.write_text(sql.read_text().replace(">= :ledger_tolerance", ">= 0"))
    recon = Recon(settings_for(db_url, CHECKS_DIR=checks, EXPORTS_DIR=tmp_path / "none",
                               SGE_RECON_HOME=tmp_path / "home"))
    run = recon.checks.run(only=list(SERVED), engine="duckdb", store=False).by_name()
    assert run["ledger_balance"].engine == "sql"
    assert "does not mirror" in run["ledger_balance"].details["columnar_fallback"]
    assert run["transaction_balance"].engine == "duckdb"


def test_amounts_list_is_shared_with_the_fused_tests():
    assert HUGE in AMOUNTS


def test_failing_rows_in_a_non_byte_order_collation_are_sorted_by_postgresql(loose, exports_dir):
    """DuckDB sorts text by bytes: where a ledger column names a collation not known to sort by
    bytes, a check with failing rows takes them (and their order) from PostgreSQL; a passing check
    stays in DuckDB. With ICU the order really differs (a1 before B1); without it (this machine's
    build) a copy of "C" under another name still proves the fallback, which is judged by name."""
    url, recon = loose
    _fresh(url, exports_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT collname FROM pg_collation WHERE collprovider = 'i' "
                             "AND collname IN ('und-x-icu', 'en-x-icu') LIMIT 1").fetchone()
        icu = found is not None
        collation = found[0] if icu else "sge_test_c_copy"
        if not icu:
            conn.execute('CREATE COLLATION IF NOT EXISTS sge_test_c_copy '
                         '(provider = libc, locale = \'C\')')
        conn.execute(f'ALTER TABLE public.ledger_entries ALTER COLUMN transaction_id TYPE text '
                     f'COLLATE "{collation}"')
        try:
            _write(conn, [("B1", "p1", "USD", "treasury", Decimal("5"), False, []),
                          ("a1", "p1", "USD", "treasury", Decimal("5"), False, [])])
            duck = _compare(recon)  # every result equals PostgreSQL's, rows in its order
        finally:
            conn.execute('ALTER TABLE public.ledger_entries ALTER COLUMN transaction_id TYPE text '
                         'COLLATE "default"')
    assert duck["transaction_balance"].engine == "sql"
    assert "collation" in duck["transaction_balance"].details["columnar_fallback"]
    assert collation in duck["transaction_balance"].details["columnar_fallback"]
    assert [r["transaction_id"] for r in duck["transaction_balance"].rows] == \
        (["a1", "B1"] if icu else ["B1", "a1"])
    assert duck["journal_single_program"].engine == "duckdb"  # nothing to order: no rows


def test_the_cli_runs_the_duckdb_engine(cli_env, tmp_path):
    import json
    import subprocess
    import sys

    env = {**cli_env, "EXPORTS_DIR": str(tmp_path / "exports")}
    done = subprocess.run([sys.executable, "-m", "sge_recon", "check", "--engine", "duckdb",
                           "--only", "ledger_balance,ledger_tamper", "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [c["status"] for c in out["checks"]] == ["pass", "pass"]
    wrong = subprocess.run([sys.executable, "-m", "sge_recon", "check", "--engine", "duck"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert wrong.returncode != 0 and "duckdb" in wrong.stderr


def test_the_nightly_run_can_use_the_duckdb_engine(db_url, tmp_path):
    from sge_recon.scheduling import ManualClock, Scheduler, default_jobs

    recon = Recon(settings_for(db_url, DAILY_CHECK_ENGINE="duckdb",
                               EXPORTS_DIR=tmp_path / "exports", SGE_RECON_HOME=tmp_path / "h"))
    daily = [s for s in default_jobs() if s.name == "daily_reconciliation"]
    now = datetime.now(timezone.utc).replace(hour=3, minute=0, second=0, microsecond=0)
    [outcome] = Scheduler(recon.job_services, daily, ManualClock(now)).tick()
    assert outcome.status == "succeeded", outcome.error
    assert outcome.details["engine"] == "duckdb"
    engines = {c.name: c.engine for c in recon.checks.latest().checks}
    assert engines["transaction_balance"] == "duckdb" and engines["stuck_intents"] == "sql"


def test_an_unknown_daily_engine_is_refused_at_start():
    from sge_recon.config import Settings
    from sge_recon.errors import ConfigError

    with pytest.raises(ConfigError, match="DAILY_CHECK_ENGINE"):
        Settings.load(env={"DAILY_CHECK_ENGINE": "duck"})


def test_a_nan_amount_falls_back_to_postgresql_and_says_why(loose, exports_dir):
    """A numeric 'NaN' passes the contract's CHECK (amount > 0); Arrow's decimal cannot hold it.
    The sweep runs on PostgreSQL, and the reason names the kind of value, not only the schema."""
    url, recon = loose
    _fresh(url, exports_dir)
    with psycopg.connect(url) as conn:
        _write(conn, [("t1", "p1", "USD", "treasury", Decimal("5"), True, []),
                      ("t2", "p1", "USD", "treasury", Decimal("NaN"), True, [])])
    duck = recon.checks.run(only=LEDGER_CHECKS, engine="duckdb", store=False).by_name()
    reason = duck["ledger_balance"].details["columnar_fallback"]
    assert duck["ledger_balance"].engine == "sql" and duck["ledger_balance"].error is None
    assert "a finite number, at most 6 decimals" in reason and "NaN" in reason, reason
