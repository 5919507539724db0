"""A faithful export of unbalanced books is an accounting finding (exit 2), never "altered"
(exit 1), even when the transaction_balance result stored before the export predates the
unbalanced transaction: the export counts the unbalanced transactions of the file it writes
(manifest ``unbalanced_at_export``) and verify compares that count with the file's.
Real PostgreSQL, real files, DuckDB re-reading them."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

from sge_recon.exports import ExportService

PERIOD = "2025-03"
IN = datetime(2025, 3, 14, 9, tzinfo=timezone.utc)


def test_an_unbalanced_transaction_newer_than_the_stored_check_is_a_finding_not_altered(
        recon, db, factory, tmp_path):
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "1"), ("b", "credit", "1")], created_at=IN)
    recon.checks.run(only=["transaction_balance"])  # passes: stored before the bad one
    assert db.fetch_one("SELECT status FROM recon.check_results "
                        "WHERE name = 'transaction_balance'")["status"] == "pass"
    bad = factory.journal(p, [("a", "debit", "5"), ("b", "credit", "4")], created_at=IN)
    result = recon.exports.export(PERIOD, out_dir=tmp_path / "out")
    report = ExportService.verify(result.directory)
    assert report.mismatches == [] and report.exit_code == 2
    assert result.manifest["unbalanced_at_export"]["count"] == 1
    assert [str(f) for f in report.findings] == [
        f"ledger_entries.parquet: transaction {bad} ({p}, USD) does not balance: debits "
        "5.000000, credits 4.000000, difference 1.000000 (unbalanced in the source ledger when "
        "the export was taken: exported faithfully)"]
    # a manifest whose count is not the file's is named: exit 1
    copy = tmp_path / "edited" / PERIOD
    shutil.copytree(result.directory, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["unbalanced_at_export"]["count"] = 0
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2))
    report = ExportService.verify(copy)
    assert report.exit_code == 1
    assert "ledger_entries.parquet: holds 1 unbalanced transactions, the manifest's " \
           "unbalanced_at_export says 0 (the ledger file was altered)" in \
           [str(m) for m in report.mismatches]
