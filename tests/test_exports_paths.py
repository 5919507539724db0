"""Export folders whose paths hold what DuckDB or a shell gives a meaning to: a comma
(``file_search_path`` is a comma-separated list), beside spaces, quotes and unicode, and a
leading ``~``. Real PostgreSQL, real files, DuckDB (this one and the auditors' 1.4 LTS)
re-reading them."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone

from sge_recon.context import Recon
from sge_recon.exports import ExportService

from .conftest import settings_for
from .test_exports import duckdb14  # noqa: F401 - fixture

PERIOD = "2025-03"
IN = datetime(2025, 3, 14, 9, tzinfo=timezone.utc)
READER = """
import duckdb, json
con = duckdb.connect("audit.duckdb", read_only=True)
print(json.dumps(con.execute("SELECT program_id, total_debits::VARCHAR, entry_count "
                             "FROM trial_balance").fetchall()))
"""


def test_an_export_folder_with_a_comma_in_its_path_is_written_and_verifies(
        recon, factory, tmp_path, duckdb14):  # noqa: F811 - fixture
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "12.5"), ("b", "credit", "12.5")], created_at=IN)
    out = tmp_path / "Q1, 2025 'audit' é"
    result = recon.exports.export(PERIOD, out_dir=out)
    assert result.directory == out / PERIOD
    report = ExportService.verify(result.directory)
    assert report.exit_code == 0, report.mismatches
    # an auditor's copy under another such name verifies too, and opens in DuckDB 1.4 LTS
    copy = tmp_path / "a, b" / PERIOD
    shutil.copytree(result.directory, copy)
    report = ExportService.verify(copy)
    assert report.exit_code == 0, report.mismatches
    done = subprocess.run([str(duckdb14), "-c", READER], cwd=copy, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[p, "12.500000", 2]]


def test_exports_dir_under_the_home_folder_is_expanded_not_a_folder_named_tilde(
        db_url, factory, tmp_path, monkeypatch):
    """EXPORTS_DIR = "~/audit-exports" (a config file, a systemd Environment=: no shell expands
    it) is the home folder's, for the export, `export list` and the console alike."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "3"), ("b", "credit", "3")], created_at=IN)
    recon = Recon(settings_for(db_url, EXPORTS_DIR="~/audit-exports"))
    result = recon.exports.export(PERIOD)
    assert result.directory.resolve() == (home / "audit-exports" / PERIOD).resolve()
    assert not (work / "~").exists()
    assert [s.period for s in recon.exports.list_periods()] == [PERIOD]
    assert recon.exports.period_dir(PERIOD).resolve() == result.directory.resolve()
    assert recon.exports.export("2025-02", out_dir="~/other").directory.resolve() == \
        (home / "other" / "2025-02").resolve()


MAX = "99999999999999999999999999999999.999999"  # the largest numeric(38,6)
WIDE_READER = """
import duckdb
con = duckdb.connect("audit.duckdb", read_only=True)
try:
    print(con.execute("SELECT total_debits FROM trial_balance").fetchall())
except duckdb.Error as exc:
    print(exc)
"""


def test_a_folder_with_a_question_mark_or_a_glob_character_gets_the_exact_views(
        recon, factory, tmp_path, duckdb14):  # noqa: F811 - fixture
    """DuckDB's ATTACH takes what follows a "?" for parameters (the export failed: "Cannot open
    file …/q.wal?x/…"), and a folder with a glob character had its views built without the
    exact sums (a sum past 38 digits: "Overflow in HUGEINT addition", not the view's sentence)."""
    p = factory.program()["id"]
    for _ in range(2):  # debits of 2 x MAX: past the 38 digits of DECIMAL(38,6)
        factory.journal(p, [("a", "debit", MAX), ("b", "credit", MAX)], created_at=IN)
    for name in ("what? [draft] *", "Q[1]"):
        result = recon.exports.export(PERIOD, out_dir=tmp_path / name)
        report = ExportService.verify(result.directory)
        assert report.exit_code == 0, report.mismatches
        done = subprocess.run([str(duckdb14), "-c", WIDE_READER], cwd=result.directory,
                              capture_output=True, text=True, timeout=60)
        assert "trial_balance: a sum of amount needs more than the 38 digits of " \
               "DECIMAL(38,6) and cannot be shown in this view" in done.stdout, (name, done)


def test_a_folder_with_a_comma_and_a_glob_character_is_written_and_verifies(recon, factory,
                                                                            tmp_path):
    """sge-recon's own queries read such a folder's files by relative names through
    file_search_path, which the comma split: "No files found that match the pattern
    ledger_entries.parquet"."""
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "7.25"), ("b", "credit", "7.25")], created_at=IN)
    result = recon.exports.export(PERIOD, out_dir=tmp_path / "all [x] *, y")
    report = ExportService.verify(result.directory)
    assert report.exit_code == 0 and report.rows_checked > 0, report.mismatches
    assert result.manifest["control_totals"][0]["debits"] == "7.250000"
