"""A transaction whose entries fall in two months (a debit at 23:59:59 UTC, its credit at
00:00:01) balances in the ledger but in neither month's file: each export states it in
manifest.json's spanning_transactions with the month's figures, and `export verify` accepts it
there (exit 0, not "the ledger file may have been altered", exit 1), while any other figure for
it, and a spanning transaction that does not balance over both months, are still named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from datetime import datetime, timezone

import pytest

from sge_recon.context import Recon

from .conftest import settings_for

LAST = datetime(2025, 3, 31, 23, 59, 59, tzinfo=timezone.utc)
FIRST = datetime(2025, 4, 1, 0, 0, 1, tzinfo=timezone.utc)


@pytest.fixture
def exported(db_url, factory, tmp_path):
    """March and April exported, with the transaction_balance check passing at export."""
    def export(credit: str) -> tuple[Recon, dict]:
        p = factory.program()["id"]
        factory.journal(p, [("treasury", "debit", "5.00")], transaction_id="span",
                        created_at=LAST)
        factory.journal(p, [("user:u1", "credit", credit)], transaction_id="span",
                        created_at=FIRST)
        factory.journal(p, [("treasury", "debit", "1"), ("user:u1", "credit", "1")],
                        transaction_id="inside", created_at=LAST)
        run = factory.check_run(started_at=FIRST, status="pass")["run_id"]
        factory.check_result(run, "transaction_balance", status="pass", failing_rows=0)
        recon = Recon(settings_for(db_url))
        return recon, {m: recon.exports.export(m, out_dir=tmp_path / "exports").directory
                       for m in ("2025-03", "2025-04")}
    return export


def test_a_balanced_transaction_across_two_months_verifies(exported):
    recon, folders = exported("5.00")
    for month, (debits, credits) in {"2025-03": ("5.000000", "0"),
                                     "2025-04": ("0", "5.000000")}.items():
        manifest = json.loads((folders[month] / "manifest.json").read_text())
        [entry] = manifest["spanning_transactions"]["entries"]
        assert (entry["transaction_id"], entry["currency"]) == ("span", "USD")
        assert (entry["debits"], entry["credits"]) == (debits, credits)
        report = recon.exports.verify(folders[month])
        assert (report.exit_code, report.mismatches, report.findings) == (0, [], []), month


def test_other_figures_for_a_spanning_transaction_are_still_named(exported, tmp_path):
    recon, folders = exported("5.00")
    altered = tmp_path / "altered"
    shutil.copytree(folders["2025-03"], altered)
    manifest = json.loads((altered / "manifest.json").read_text())
    manifest["spanning_transactions"]["entries"][0]["debits"] = "4.000000"
    (altered / "manifest.json").write_text(json.dumps(manifest))
    report = recon.exports.verify(altered)
    assert report.exit_code == 1
    assert any("transaction span " in m.problem and "may have been altered" in m.problem
               for m in report.mismatches), report.mismatches
    manifest["spanning_transactions"]["entries"] = [{"transaction_id": 5}, "x"]
    (altered / "manifest.json").write_text(json.dumps(manifest))
    report = recon.exports.verify(altered)
    assert report.exit_code == 1
    assert sum("spanning_transactions holds a malformed entry" in m.problem
               for m in report.mismatches) == 2


def test_a_transaction_unbalanced_over_both_months_is_not_listed(exported):
    recon, folders = exported("4.00")
    for month in ("2025-03", "2025-04"):
        manifest = json.loads((folders[month] / "manifest.json").read_text())
        assert manifest["spanning_transactions"]["entries"] == []
        report = recon.exports.verify(folders[month])
        # the source ledger's own finding, counted by the export (unbalanced_at_export): exit 2,
        # although the transaction_balance result stored before the export says pass
        assert report.exit_code == 2 and report.mismatches == []
        assert any("transaction span " in f.problem and "exported faithfully" in f.problem
                   for f in report.findings)


def test_an_unbalanced_transaction_at_the_columns_width_is_named_not_an_overflow(
        db_url, factory, tmp_path):
    """A debit of 10^32 - 0.000001 beside a debit of 1 (both valid numeric(38,6)) is unbalanced
    by 10^32 + …, past DECIMAL(38,6): the export's spanning list and verify compare the parts
    without adding them, so the month exports and verify names the transaction (it used to
    stop the export with DuckDB's 'Overflow in addition of DECIMAL(38)')."""
    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "99999999999999999999999999999999.999999"),
                        ("user:u1", "debit", "1")], transaction_id="wide", created_at=LAST)
    recon = Recon(settings_for(db_url))
    folder = recon.exports.export("2025-03", out_dir=tmp_path / "exports").directory
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["spanning_transactions"]["entries"] == []  # all in March: not spanning
    report = recon.exports.verify(folder)
    assert report.exit_code in (1, 2), (report.exit_code, report.mismatches, report.findings)
    named = [str(m) for m in [*report.mismatches, *report.findings]]
    assert any("wide" in text for text in named), named



@pytest.fixture(scope="module")
def big_ledger_file(tmp_path_factory) -> Path:
    """2.4 M entries in 1.2 M transactions (more than the bound holds in memory), 3 unbalanced."""
    import duckdb

    folder = tmp_path_factory.mktemp("big") / "2025-03"
    folder.mkdir()
    with duckdb.connect() as con:
        con.execute(
            "COPY (SELECT 'e' || i AS id, 'p1' AS program_id, 't' || lpad((i // 2)::VARCHAR, 7, "
            "'0') AS transaction_id, CASE WHEN i % 2 = 0 THEN 'debit' ELSE 'credit' END AS type, "
            "(CASE WHEN i IN (1, 3, 5) THEN 2 ELSE 1 END)::DECIMAL(38, 6) AS amount, "
            f"'USD' AS currency FROM range(2400000) t(i)) TO '{folder}/ledger_entries.parquet' "
            "(FORMAT parquet)")
    return folder


def _three_unbalanced(found: tuple[int, list[dict]]) -> bool:
    count, rows = found
    return count == 3 and [(r["transaction_id"], str(r["debits"]), str(r["credits"]))
                           for r in rows] == [("t000000" + str(n), "1.000000", "2.000000")
                                              for n in range(3)]


def test_the_exports_own_grouping_stays_in_its_memory_bound_and_exact(big_ledger_file):
    """The export groups its ledger file by transaction in DuckDB (the unbalanced ones, for the
    manifest). Unbounded, that took 370 MB beside the export's own ~200 MB at 2 M entries and
    1.25 GB at 8 M; bounded, DuckDB spills to a private folder, removed at the end."""
    from sge_recon.db import exports as store

    folder = big_ledger_file
    with store.bounded_audit_db(folder) as bounded:
        limit = bounded.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        spill = bounded.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        found = store.unbalanced(bounded, store.in_folder(folder, "ledger_entries.parquet"), 10)
    assert limit.endswith("MiB") and float(limit.split()[0]) <= 128, limit
    assert _three_unbalanced(found)
    assert spill and not Path(spill).exists()


def test_a_bound_duckdb_cannot_spill_within_never_fails_the_export(big_ledger_file, monkeypatch):
    """Where DuckDB runs out of memory within the bound (here a bound far too small), the
    grouping runs again without it: the same exact answer, never a failed export."""
    from sge_recon.db import audit_bounded
    from sge_recon.db import exports as store

    monkeypatch.setattr(audit_bounded, "_BOUNDED", ("SET memory_limit = '16MB'", "SET threads = 1"))
    with pytest.raises(Exception, match="Out of Memory"), \
            store.bounded_audit_db(big_ledger_file) as bounded:  # the bound alone fails here
        store.unbalanced(bounded, store.in_folder(big_ledger_file, "ledger_entries.parquet"), 10)
    assert _three_unbalanced(store.unbalanced_within_bound(big_ledger_file,
                                                           "ledger_entries.parquet", 10))
