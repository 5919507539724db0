"""The console's "Download … as zip" (audit "small", item 5): the archive of a period holds the
books, so it was a 0644 file left behind in /tmp, readable by every local user, one per period
downloaded. It is built private (0600) and removed once the download has its bytes."""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from datetime import datetime, timezone

from sge_recon.exports import ExportService

PERIOD = "2025-04"


def _exported(recon, factory, out):
    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "10.25"), ("user:a", "credit", "10.25")],
                    created_at=datetime(2025, 4, 3, 12, tzinfo=timezone.utc))
    recon.exports.export(PERIOD, out_dir=out)
    return sorted(f"{PERIOD}/{f.name}" for f in (out / PERIOD).iterdir())


def test_the_download_zip_leaves_no_copy_of_the_books_in_the_temporary_folder(
        recon, factory, tmp_path, monkeypatch):
    out = tmp_path / "exports"
    names = _exported(recon, factory, out)
    scratch = tmp_path / "tmp"  # the temporary folder the console process uses (TMPDIR)
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    data = ExportService(out_dir=out).zip_bytes(PERIOD)  # what the page's button downloads
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == names
    assert list(scratch.iterdir()) == []


def test_a_zip_is_written_private(recon, factory, tmp_path):
    out = tmp_path / "exports"
    _exported(recon, factory, out)
    archive = ExportService(out_dir=out).zip_period(PERIOD, dest=tmp_path / "p.zip")
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600


def test_a_symlink_planted_in_the_folder_is_never_downloaded(recon, factory, tmp_path):
    """A symbolic link in a period folder (to a key, to another month's file) is not followed
    by the console's downloads: neither the zip nor the list of files hands out its target."""
    out = tmp_path / "exports"
    exported = _exported(recon, factory, out)
    secret = tmp_path / "signing-key.pem"
    secret.write_text("-----BEGIN PRIVATE KEY-----\nnot for auditors\n")
    (out / PERIOD / "notes.txt").symlink_to(secret)
    archive = zipfile.ZipFile(io.BytesIO(recon.exports.zip_bytes(PERIOD, out_dir=out)))
    assert sorted(archive.namelist()) == exported
    assert all(b"PRIVATE KEY" not in archive.read(name) for name in archive.namelist())
    listed = [f["name"] for f in recon.exports.files(PERIOD, out_dir=out)]
    assert sorted(f"{PERIOD}/{name}" for name in listed) == exported
    report = ExportService.verify(out / PERIOD)  # and verify names it
    assert report.exit_code == 1 and "notes.txt: is in the folder but not in the manifest" in \
        [str(m) for m in report.mismatches]
