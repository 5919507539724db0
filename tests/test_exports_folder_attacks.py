"""What someone with write access to an export folder could do that `export verify` must catch
(exit 1, each problem named), even when the manifest's signature is valid."""

from __future__ import annotations

import json
import os
import shutil
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
