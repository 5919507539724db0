"""Two console sessions downloading the same period's zip at the same moment.

The console's sessions are threads of one Streamlit process: each download builds the zip under
a temporary name and renames it into place. Both builds used one temporary name (the process id
only), so one truncated and renamed the other's half-written archive: that download failed
(FileNotFoundError) or could read a corrupt archive."""

from __future__ import annotations

import io
import threading
import zipfile
from datetime import datetime, timezone

from sge_recon.exports import ExportService

PERIOD = "2025-03"


def test_two_sessions_downloading_one_zip_at_once_both_get_the_whole_archive(recon, factory,
                                                                             tmp_path):
    p = factory.program()["id"]
    for day in range(1, 28):
        factory.journal(p, [("treasury", "debit", "10.25"), ("user:a", "credit", "10.25")],
                        created_at=datetime(2025, 3, day, 12, tzinfo=timezone.utc))
    out = tmp_path / "exports"
    recon.exports.export(PERIOD, out_dir=out)
    names = sorted(f"{PERIOD}/{f.name}" for f in (out / PERIOD).iterdir())
    service = ExportService(out_dir=out)  # as the console's page holds it
    failures: list[str] = []
    for _ in range(30):
        barrier = threading.Barrier(2)

        def download() -> None:
            barrier.wait()
            try:  # what the page's "Download … as zip" button does
                data = service.zip_bytes(PERIOD)
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    assert archive.testzip() is None
                    assert sorted(archive.namelist()) == names
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(repr(exc))

        threads = [threading.Thread(target=download) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert failures == []
