"""Audit findings on the exports' figures (area D): control totals exact at the amount column's
own scale, sums past DuckDB's 38 digits, NULL amounts, and files read from the export meant,
whatever the working directory. Real PostgreSQL, real files, DuckDB re-reading them."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from sge_recon.errors import ExportError
from sge_recon.exports import ExportService

from .test_exports import duckdb14  # noqa: F401 - fixture

PERIOD = "2025-03"
IN = datetime(2025, 3, 14, 9, tzinfo=timezone.utc)
MAX = Decimal("99999999999999999999999999999999.999999")  # the largest numeric(38,6)


def _edit_manifest(folder: Path, edit) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_totals_keep_the_scale_of_numeric_38_8_and_a_rounded_total_fails(recon, db, factory,
                                                                          tmp_path):
    db.execute("ALTER TABLE public.ledger_entries ALTER COLUMN amount TYPE numeric(38,8)")
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "1.00000001"), ("b", "credit", "1.00000001")],
                    created_at=IN)
    factory.journal(p, [("a", "debit", "0.00000049"), ("b", "credit", "0.00000049")],
                    created_at=IN)
    result = recon.exports.export(PERIOD, out_dir=tmp_path / "out")
    totals = result.manifest["control_totals"]
    assert [(t["debits"], t["credits"], t["difference"]) for t in totals] == [
        ("1.00000050", "1.00000050", "0.00000000")]
    report = ExportService.verify(result.directory)
    assert report.ok and report.exit_code == 0, report.mismatches
    for rounded in ("1.000000", "1.000001"):  # half-even and half-up: both are wrong now
        copy = tmp_path / rounded / PERIOD
        shutil.copytree(result.directory, copy)
        _edit_manifest(copy, lambda m: m["control_totals"][0].update(debits=rounded))
        report = ExportService.verify(copy)
        assert report.exit_code == 1
        assert f"debits stated {rounded}, the ledger file sums to 1.00000050" in \
            str(report.mismatches)


def test_sums_past_38_digits_verify_exactly_and_the_views_say_they_cannot_show_them(
        recon, factory, tmp_path):
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", MAX), ("b", "credit", MAX)], created_at=IN)
    factory.journal(p, [("a", "debit", MAX), ("b", "credit", MAX)], created_at=IN)
    factory.journal(p, [("a", "debit", "0.000001"), ("b", "credit", "0.000001")], created_at=IN)
    # one transaction past 38 digits that balances, one that is off by a millionth
    factory.journal(p, [("a", "debit", MAX), ("a", "debit", MAX), ("b", "credit", MAX),
                        ("b", "credit", MAX)], created_at=IN)
    below = Decimal("99999999999999999999999999999999.999998")
    off = factory.journal(p, [("a", "debit", MAX), ("a", "debit", MAX), ("b", "credit", MAX),
                              ("b", "credit", below)], created_at=IN)
    result = recon.exports.export(PERIOD, out_dir=tmp_path)
    exact = "599999999999999999999999999999999.999995"
    assert result.manifest["control_totals"][0]["debits"] == exact
    report = ExportService.verify(result.directory)
    assert report.intact and report.exit_code == 2, report.mismatches  # the one unbalanced
    assert report.transactions_unbalanced == 1
    assert f"transaction {off} ({p}, USD) does not balance: debits " \
           f"199999999999999999999999999999999.999998, credits " \
           f"199999999999999999999999999999999.999997, difference 0.000001" \
           in str(report.findings)
    # a manifest total one millionth off is still caught
    copy = tmp_path / "edited" / PERIOD
    shutil.copytree(result.directory, copy)
    _edit_manifest(copy, lambda m: m["control_totals"][0].update(
        debits="599999999999999999999999999999999.999994"))
    assert "debits stated" in str(ExportService.verify(copy).mismatches)
    # audit.duckdb: a DECIMAL(38,6) cannot hold these sums; the view says so
    con = duckdb.connect(str(result.directory / "audit.duckdb"), read_only=True)
    con.execute("SET file_search_path = ?", [str(result.directory)])
    for view, named in (("trial_balance", "trial_balance"),
                        ("account_balances", "account_balances"),
                        ("unbalanced_transactions", "transaction_balance")):
        with pytest.raises(duckdb.Error, match=f"{named}: a sum of amount needs more than the "
                                               "38 digits of DECIMAL"):
            con.execute(f"SELECT * FROM {view}").fetchall()
    con.close()


def test_null_amounts_are_counted_as_rows_and_reported_as_a_finding(recon, db, factory,
                                                                    tmp_path):
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "5"), ("b", "credit", "5")], created_at=IN)
    db.execute("ALTER TABLE public.ledger_entries ALTER COLUMN amount DROP NOT NULL")
    factory.journal(p, [("a", "debit", "1")], created_at=IN)
    db.execute("UPDATE public.ledger_entries SET amount = NULL WHERE amount = 1")
    result = recon.exports.export(PERIOD, out_dir=tmp_path)
    assert result.manifest["control_totals"][0]["entry_count"] == 3
    report = ExportService.verify(result.directory)
    assert report.intact and report.exit_code == 2, report.mismatches
    assert "1 entries are neither a positive debit nor a positive credit" in str(report.findings)


def _journal_month(recon, factory, out: Path) -> Path:
    """An export of this month (forced) whose journal holds entries."""
    for _ in range(3):
        factory.check_run(status="pass")
    now = datetime.now(timezone.utc)
    result = recon.exports.export(f"{now:%Y-%m}", out_dir=out, force=True)
    assert result.manifest["journal"]["entries"] >= 3
    return result.directory


def test_export_and_verify_read_their_own_files_from_inside_another_export(
        recon, db, factory, tmp_path, monkeypatch, duckdb14):  # noqa: F811
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "2"), ("b", "credit", "2")], created_at=IN)
    db.execute("ALTER TABLE public.ledger_entries ADD COLUMN note text")  # A's ledger differs
    other = _journal_month(recon, factory, tmp_path / "a")
    db.execute("ALTER TABLE public.ledger_entries DROP COLUMN note")
    monkeypatch.chdir(other)  # README: auditors cd into export folders
    result = recon.exports.export(PERIOD, out_dir=tmp_path / "b")
    assert result.manifest["journal"]["entries"] == 0  # not the other folder's 3+
    report = ExportService.verify(result.directory)
    assert report.ok and report.rows_checked == result.total_rows, report.mismatches
    monkeypatch.chdir(result.directory)
    assert ExportService.verify(other).ok
    # audit.duckdb stays relocatable: a copy elsewhere, read by DuckDB 1.4 inside it, and from
    # an unrelated folder with the search path set
    copy = tmp_path / "elsewhere" / PERIOD
    shutil.copytree(result.directory, copy)
    reader = ("import duckdb, sys; con = duckdb.connect('{db}', read_only=True); "
              "{setup}print(con.execute('SELECT total_debits::VARCHAR, entry_count "
              "FROM trial_balance').fetchall(), "
              "con.execute('SELECT count(*) FROM ledger_entries').fetchone()[0])")
    empty = tmp_path / "empty"
    empty.mkdir()
    for cwd, setup in ((copy, ""), (empty, f"con.execute(\"SET file_search_path = '{copy}'\"); ")):
        done = subprocess.run([str(duckdb14), "-c", reader.format(db=copy / "audit.duckdb",
                                                                   setup=setup)],
                              cwd=cwd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[('2.000000', 2)] 2"


def test_verify_of_a_folder_with_glob_characters_reads_its_files(recon, factory, tmp_path):
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "2"), ("b", "credit", "2")], created_at=IN)
    result = recon.exports.export(PERIOD, out_dir=tmp_path / "odd [1] *")
    assert ExportService.verify(result.directory).ok


@pytest.mark.parametrize("pg_type, value, parquet_type, exported", [
    ("numeric(50,10)", "1234567890123456789012345678901234567890.1234567890", "string",
     "1234567890123456789012345678901234567890.1234567890"),
    ("numeric(10,-2)", "123400", "decimal128(12, 0)", Decimal("123400")),
    ("numeric(3,5)", "0.00123", "decimal128(5, 5)", Decimal("0.00123")),
])
def test_numeric_types_without_a_plain_decimal128_are_exported_exactly(
        recon, db, factory, tmp_path, pg_type, value, parquet_type, exported):
    """Wider than 38 digits: the exact decimal text; a negative scale or one over the
    precision: the decimal128 that holds every value. Never a crash, never rounded."""
    if pg_type != "numeric(50,10)" and db.fetch_one("SHOW server_version_num")[
            "server_version_num"] < "150000":
        pytest.skip("numeric with a negative scale or one over the precision needs PG 15")
    db.execute(f"ALTER TABLE public.ledger_entries ADD COLUMN extra {pg_type}")
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "1"), ("b", "credit", "1")], created_at=IN)
    db.execute(f"UPDATE public.ledger_entries SET extra = %s::{pg_type}", (value,))
    result = recon.exports.export(PERIOD, out_dir=tmp_path)
    ledger = next(f for f in result.manifest["files"] if f["name"] == "ledger_entries.parquet")
    assert {c["name"]: c["parquet_type"] for c in ledger["columns"]}["extra"] == parquet_type
    got = duckdb.connect().execute("SELECT DISTINCT extra FROM read_parquet(?)",
                                   [str(result.directory / "ledger_entries.parquet")]).fetchall()
    assert got == [(exported,)]
    assert ExportService.verify(result.directory).ok


def test_values_and_types_that_cannot_be_exact_name_the_table_column_and_reason(
        recon, db, factory, tmp_path):
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "1"), ("b", "credit", "1")], created_at=IN)
    db.execute("ALTER TABLE public.ledger_entries ADD COLUMN extra numeric")
    db.execute("UPDATE public.ledger_entries SET extra = 1e40")
    with pytest.raises(ExportError, match=r"ledger_entries\.extra: .*41 digits before the "
                                          r"decimal point, more than the 32"):
        recon.exports.export(PERIOD, out_dir=tmp_path)
    db.execute("UPDATE public.ledger_entries SET extra = 1.1234567")
    with pytest.raises(ExportError, match=r"ledger_entries\.extra: .*more than 6 decimal places"):
        recon.exports.export(PERIOD, out_dir=tmp_path)
    db.execute("ALTER TABLE public.ledger_entries DROP COLUMN extra")
    db.execute("ALTER TABLE public.ledger_entries ALTER COLUMN amount TYPE numeric(50,10)")
    with pytest.raises(ExportError, match=r"ledger_entries\.amount is numeric\(50,10\)"):
        recon.exports.export(PERIOD, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
