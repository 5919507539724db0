"""The tamper-evident journal (issue 19): check runs, incident transitions and console actions
append hash-chained entries in their own transaction; the monthly export carries them and
`export verify` recomputes the chain: a removed or altered entry fails (exit 1) naming its seq.
Real PostgreSQL, real scheduler job, real Parquet files, the real CLI for verify."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

import pyarrow.parquet as pq
import pytest

from sge_recon.exports import ExportService
from sge_recon.exports.journal import GENESIS, entry_hash
from sge_recon.exports.manifest import sha256_of

from .test_console_actions import acting_as
from .test_alerts import alerting_recon, monitor_only, plant_webhook_exhausted, receiver  # noqa
from .test_alerts import start_clock


@pytest.fixture
def journaled(db_url, db, factory, receiver, tmp_path):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    acting_as(db_url, ada="operator")
    clock = start_clock()
    plant_webhook_exhausted(factory, db, clock)
    recon.checks.run(fast_only=True, trigger="test")
    monitor_only(recon, clock).tick()
    [incident] = recon.incidents.incidents()
    ack = recon.console.actions.acknowledge_incident("ada", incident["id"])
    assert ack.ok, ack.message
    recon.console.actions.add_incident_note("ada", incident["id"], "endpoint owner called",
                                            clock.now())
    period = datetime.now(timezone.utc).strftime("%Y-%m")
    # the running month: a preliminary export (its journal is what this test is about)
    result = recon.exports.export(period, out_dir=tmp_path / "exports", force=True)
    return recon, result.directory, incident


def test_events_are_journaled_and_chained_in_the_database(journaled, db):
    recon, _, incident = journaled
    rows = db.fetch_all("SELECT * FROM recon.journal ORDER BY seq")
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    sources = [(r["source"], r["op"]) for r in rows]
    assert ("check_runs", "insert") in sources
    assert ("incidents", "insert") in sources and ("incidents", "update") in sources  # acked
    assert sources.count(("action_log", "insert")) == 2
    prev = GENESIS
    for r in rows:
        assert r["prev_hash"] == prev and r["hash"] == entry_hash(prev, r["event"])
        assert json.loads(r["event"])["seq"] == r["seq"]
        prev = r["hash"]
    ack = next(json.loads(r["event"]) for r in rows if r["source"] == "incidents"
               and r["op"] == "update")
    assert ack["row"]["id"] == incident["id"] and ack["row"]["status"] == "acknowledged"


def test_export_carries_the_journal_and_verify_accepts_it(journaled, db):
    _, folder, _ = journaled
    manifest = json.loads((folder / "manifest.json").read_text())
    entries = db.fetch_one("SELECT count(*) AS n, max(seq) AS last FROM recon.journal")
    assert manifest["journal"]["entries"] == entries["n"] > 0
    assert manifest["journal"]["last_seq"] == entries["last"]
    assert "journal.parquet" in {f["name"] for f in manifest["files"]}
    report = ExportService.verify(folder)
    assert report.exit_code == 0, report.mismatches


def _rewrite(folder, keep):
    """Rewrite journal.parquet through ``keep`` and fix the manifest's hash, size and rows, as
    someone covering their tracks would; only the chain can tell."""
    path = folder / "journal.parquet"
    table = pq.read_table(path)
    rows = keep(table.to_pylist())
    pq.write_table(type(table).from_pylist(rows, schema=table.schema), path)
    m = json.loads((folder / "manifest.json").read_text())
    entry = next(f for f in m["files"] if f["name"] == "journal.parquet")
    entry.update(sha256=sha256_of(path), bytes=path.stat().st_size, rows=len(rows))
    (folder / "manifest.json").write_text(json.dumps(m))


def test_a_removed_journal_row_fails_verification_naming_it(journaled, tmp_path):
    _, folder, _ = journaled
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    _rewrite(copy, lambda rows: [r for r in rows if r["seq"] != 3])
    report = ExportService.verify(copy)
    assert report.exit_code == 1
    problems = "\n".join(map(str, report.mismatches))
    assert "journal.parquet: journal entry seq 3 is missing (between seq 2 and seq 4)" in problems

    # the CLI says the same, exit 1
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "sge_recon", "export", "verify", str(copy)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "seq 3 is missing" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_altered_or_cut_journal_fails_verification(journaled, tmp_path):
    _, folder, _ = journaled
    altered = tmp_path / "altered"
    shutil.copytree(folder, altered)

    def edit(rows):
        rows[1]["event"] = rows[1]["event"].replace('"op": "insert"', '"op": "update"')
        return rows
    _rewrite(altered, edit)
    problems = "\n".join(map(str, ExportService.verify(altered).mismatches))
    assert "journal entry seq 2 was altered" in problems

    cut = tmp_path / "cut"
    shutil.copytree(folder, cut)
    _rewrite(cut, lambda rows: rows[:-1])  # the last entry removed: the chain alone still links
    report = ExportService.verify(cut)
    assert report.exit_code == 1
    assert "entries at the end were removed" in "\n".join(map(str, report.mismatches))
