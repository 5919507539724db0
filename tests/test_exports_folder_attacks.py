"""What someone with write access to an export folder could do that `export verify` must catch
(exit 1, each problem named), even when the manifest's signature is valid."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sge_recon.context import Recon
from sge_recon.exports import ExportService
from sge_recon.exports.signing import generate_private_key_pem, public_key_pem

from .conftest import settings_for
from .factories import PlatformFactory
from .test_exports_cli import PERIOD, small_month


@pytest.fixture(scope="module")
def signed(module_db_url, tmp_path_factory):
    """One signed export of a small month, and the public key that verifies it."""
    home = tmp_path_factory.mktemp("signed")
    key = home / "signing.pem"
    key.write_text(generate_private_key_pem())
    recon = Recon(settings_for(module_db_url, EXPORT_SIGNING_KEY_FILE=str(key)))
    small_month(PlatformFactory(recon.db))
    folder = recon.exports.export(PERIOD, out_dir=home / "exports").directory
    return folder, public_key_pem(key.read_text())


def copy_of(signed, dest: Path) -> Path:
    shutil.copytree(signed[0], dest)
    return dest


def problems(report) -> str:
    return "\n".join(str(m) for m in report.mismatches)


def test_a_folder_renamed_to_another_month_is_named_and_not_listed_as_that_month(signed,
                                                                                 tmp_path):
    moved = copy_of(signed, tmp_path / "exports" / "2025-04")
    report = ExportService.verify(moved, public_key=signed[1])
    assert report.exit_code == 1
    assert "the folder is named 2025-04 but its manifest is the export of period 2025-03" \
        in problems(report)
    # export list and the columnar engine's months take a folder's name as its period
    (summary,) = ExportService(out_dir=tmp_path / "exports").list_periods()
    assert summary.problem and "period 2025-03" in summary.problem
    # a copy under a name that is not a month (auditors rename copies) still verifies
    renamed = copy_of(signed, tmp_path / "audit-copy-of-march")
    assert ExportService.verify(renamed, public_key=signed[1]).exit_code == 0


def test_a_listed_file_or_the_manifest_as_a_symlink_out_of_the_folder_is_named(signed, tmp_path):
    folder = copy_of(signed, tmp_path / PERIOD)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for name in ("ledger_entries.parquet", "manifest.json"):
        shutil.move(folder / name, outside / name)
        os.symlink(outside / name, folder / name)  # same bytes today, whatever they are tomorrow
    report = ExportService.verify(folder, public_key=signed[1])
    assert report.exit_code == 1
    text = problems(report)
    assert f"ledger_entries.parquet: is a symbolic link to {outside / 'ledger_entries.parquet'}" \
        in text
    assert f"manifest.json: is a symbolic link to {outside / 'manifest.json'}" in text


def _rewrite(folder: Path, name: str, change) -> None:
    """Rewrite a Parquet file and fix up its rows, bytes and sha256 in the (unsigned) manifest."""
    import pyarrow.parquet as pq

    table = change(pq.read_table(folder / name))
    pq.write_table(table, folder / name)
    _fix_up(folder, name, rows=table.num_rows)


def _fix_up(folder: Path, name: str, **extra) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["name"] == name:
            entry.update(bytes=(folder / name).stat().st_size,
                         sha256=hashlib.sha256((folder / name).read_bytes()).hexdigest(), **extra)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (folder / "manifest.sig").unlink(missing_ok=True)


def test_a_parquet_schema_that_is_not_the_manifests_is_named_even_with_fixed_up_hashes(signed,
                                                                                       tmp_path):
    import pyarrow as pa

    def rescale(table):  # same amounts, scale 2 instead of 6: totals and counts still match
        i = table.schema.get_field_index("amount")
        return table.set_column(i, pa.field("amount", pa.decimal128(38, 2)),
                                table.column(i).cast(pa.decimal128(38, 2)))

    cases = {
        "scale": (rescale, "column amount is decimal128(38, 2), the manifest says "
                           "decimal128(38, 6)"),
        "extra": (lambda t: t.append_column("note", pa.array(["x"] * t.num_rows)),
                  "has a column note that the manifest does not list"),
        "renamed": (lambda t: t.rename_columns(["acct" if c == "account" else c
                                                for c in t.column_names]),
                    "lacks the column account that the manifest lists"),
    }
    for label, (change, expected) in cases.items():
        folder = copy_of(signed, tmp_path / label / PERIOD)
        _rewrite(folder, "ledger_entries.parquet", change)
        report = ExportService.verify(folder)
        assert report.exit_code == 1, (label, problems(report))
        assert f"ledger_entries.parquet: {expected}" in problems(report), label

    # two files swapped, with their hashes, sizes and row counts swapped in the manifest
    folder = copy_of(signed, tmp_path / "swapped" / PERIOD)
    a, b = "commissions.parquet", "silences.parquet"
    os.rename(folder / a, folder / "x")
    os.rename(folder / b, folder / a)
    os.rename(folder / "x", folder / b)
    _fix_up(folder, a)
    _fix_up(folder, b)
    report = ExportService.verify(folder)
    assert report.exit_code == 1, problems(report)
    assert "commissions.parquet: holds the table recon.silences, the manifest says " \
           "public.commissions" in problems(report)


def test_an_audit_duckdb_whose_views_read_other_files_is_named(signed, tmp_path):
    import duckdb

    folder = copy_of(signed, tmp_path / PERIOD)
    elsewhere = tmp_path / "made-up.parquet"
    shutil.copy(folder / "ledger_entries.parquet", elsewhere)
    con = duckdb.connect(str(folder / "audit.duckdb"))
    con.execute("DROP VIEW ledger_entries")
    con.execute(f"CREATE VIEW ledger_entries AS SELECT * FROM read_parquet('{elsewhere}')")
    con.execute("DROP VIEW trial_balance")
    con.execute("CREATE TABLE trial_balance AS SELECT 'p' AS program_id, 0 AS difference")
    con.execute("DROP VIEW unbalanced_transactions")
    con.execute(f"CREATE VIEW unbalanced_transactions AS SELECT * FROM '{elsewhere}' LIMIT 0")
    con.close()
    _fix_up(folder, "audit.duckdb")
    report = ExportService.verify(folder)
    assert report.exit_code == 1, problems(report)
    text = problems(report)
    assert "audit.duckdb: its view main.ledger_entries is not the one sge-recon writes: it is " \
           f"\"CREATE VIEW ledger_entries AS SELECT * FROM read_parquet('{elsewhere}');\"" in text
    assert "audit.duckdb: holds a table main.trial_balance that sge-recon does not write" in text
    assert "audit.duckdb: lacks the view main.trial_balance" in text
    assert "audit.duckdb: its view main.unbalanced_transactions is not the one sge-recon " \
           "writes" in text
    # the export as written passes this check, also verified from inside another export's folder
    intact = copy_of(signed, tmp_path / "intact" / PERIOD)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert ExportService.verify(intact, public_key=signed[1]).exit_code == 0
    finally:
        os.chdir(cwd)


def test_a_manifest_with_a_key_twice_cannot_be_verified(signed, tmp_path, cli_env):
    """JSON readers disagree on a key given twice (first or last wins): such a manifest says two
    things, so it is refused (exit 3), never read one way by verify and another by the auditor."""
    folder = copy_of(signed, tmp_path / PERIOD)
    text = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(
        text.replace('"period": "2025-03",', '"period": "2025-04", "period": "2025-03",', 1))
    done = subprocess.run([sys.executable, "-m", "sge_recon", "export", "verify", str(folder)],
                          env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.startswith("Error: ") and "Traceback" not in done.stderr
    assert "gives the key 'period' twice" in done.stderr


def test_a_ready_view_as_an_earlier_version_wrote_it_still_verifies(signed, tmp_path,
                                                                   monkeypatch):
    """Exports written by an earlier sge-recon (or DuckDB) render the ready views differently;
    over the folder's own table views they stay valid (exit 0): only the table views, which
    name the files, must be exactly sge-recon's."""
    import duckdb

    folder = copy_of(signed, tmp_path / PERIOD)
    monkeypatch.chdir(folder)  # the view binds the relative file names when it is created
    con = duckdb.connect(str(folder / "audit.duckdb"))
    con.execute("CREATE OR REPLACE VIEW unbalanced_transactions AS "
                "SELECT * FROM transaction_balance WHERE difference != 0")
    con.close()
    _fix_up(folder, "audit.duckdb")
    monkeypatch.chdir(tmp_path)
    report = ExportService.verify(folder)
    assert report.exit_code == 0, problems(report)


def test_a_table_absent_from_the_source_is_checked_against_its_reference_schema(db_url, factory,
                                                                                db, tmp_path):
    import pyarrow as pa

    small_month(factory)
    db.execute("DROP TABLE public.admin_audit_log")
    recon = Recon(settings_for(db_url))
    folder = recon.exports.export(PERIOD, out_dir=tmp_path / "exports").directory
    assert ExportService.verify(folder).exit_code == 0
    _rewrite(folder, "admin_audit_log.parquet",
             lambda t: t.append_column("note", pa.array([], type=pa.string())))
    report = ExportService.verify(folder)
    assert report.exit_code == 1
    assert "admin_audit_log.parquet: has a column note that the manifest does not list" \
        in problems(report)


def test_a_manifest_nested_beyond_reading_is_refused_with_a_sentence(cli_env, tmp_path):
    folder = tmp_path / "exports" / PERIOD
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    done = subprocess.run([sys.executable, "-m", "sge_recon", "export", "verify", str(folder)],
                          env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert done.stderr.startswith(f"Error: {folder / 'manifest.json'} is nested too deeply")
    assert "a bug in sge-recon" not in done.stderr
    listed = subprocess.run([sys.executable, "-m", "sge_recon", "export", "list", "--out",
                             str(tmp_path / "exports")], env=cli_env, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert f"{PERIOD}  manifest unreadable (RecursionError); run verify" in listed.stdout


def test_an_export_without_its_audit_duckdb_is_named(signed, tmp_path):
    """audit.duckdb is part of every export (DESIGN §8): removed with its manifest entry, the
    folder is not the export that was written."""
    folder = copy_of(signed, tmp_path / PERIOD)
    (folder / "audit.duckdb").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = [f for f in manifest["files"] if f["name"] != "audit.duckdb"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "manifest.sig").unlink()
    report = ExportService.verify(folder)
    assert report.exit_code == 1
    assert "manifest.json: does not list audit.duckdb (the DuckDB views auditors query)" \
        in problems(report)
