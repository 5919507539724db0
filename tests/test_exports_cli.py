"""`sge-recon export` as a user runs it (real subprocesses), a SIGKILL in the middle of an export,
and the one-snapshot guarantee under concurrent writes."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from sge_recon.exports import ExportService

PERIOD = "2025-03"
IN = datetime(2025, 3, 10, 12, tzinfo=timezone.utc)
EXE = str(Path(sys.executable).with_name("sge-recon"))


def run(env, *args, timeout=120, **kw):
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          **kw)


def small_month(factory) -> str:
    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "10.25"), ("user:a", "credit", "10.25")],
                    created_at=IN)
    factory.journal(p, [("treasury", "debit", "0.75"), ("user:b", "credit", "0.75")],
                    currency="EUR", created_at=IN)
    return p


@pytest.mark.slow
def test_export_verify_refuse_force_and_list_from_the_command_line(cli_env, factory, tmp_path):
    small_month(factory)
    out = tmp_path / "exports"
    first = run(cli_env, "export", "--period", PERIOD, "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert f"Exported {PERIOD} to {out / PERIOD}" in first.stdout
    assert "debits 10.250000, credits 10.250000, 2 entries" in first.stdout
    assert "manifest.json sha256: " in first.stdout
    assert first.stderr == ""  # no progress bar when stderr is not a terminal

    again = run(cli_env, "export", "--period", PERIOD, "--out", str(out))
    assert again.returncode == 3 and "Traceback" not in again.stderr
    assert again.stderr.startswith(f"Error: {out / PERIOD} already exists")
    assert "--force" in again.stderr

    forced = run(cli_env, "export", "--period", PERIOD, "--out", str(out), "--force",
                 "--format", "json")
    assert forced.returncode == 0, forced.stderr
    summary = json.loads(forced.stdout)
    assert summary["replaced"].startswith(str(out / f"{PERIOD}.replaced-"))
    assert {f["name"] for f in summary["files"]} >= {"ledger_entries.parquet", "audit.duckdb"}

    ok = run(cli_env, "export", "verify", str(out / PERIOD), cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: "), ok.stdout + ok.stderr
    with_hash = run(cli_env, "export", "verify", str(out / PERIOD), "--manifest-sha256",
                    summary["manifest_sha256"])
    assert with_hash.returncode == 0, with_hash.stdout

    listed = run(cli_env, "export", "list", "--out", str(out))
    assert listed.returncode == 0 and listed.stdout.startswith(PERIOD)
    assert "1 earlier version(s) kept" in listed.stdout


@pytest.mark.slow
def test_verify_names_every_mismatch_and_exits_non_zero(cli_env, factory, tmp_path):
    small_month(factory)
    out = tmp_path / "exports"
    assert run(cli_env, "export", "--period", PERIOD, "--out", str(out)).returncode == 0
    folder = out / PERIOD
    (folder / "settlements.parquet").unlink()
    path = folder / "ledger_entries.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    m = json.loads((folder / "manifest.json").read_text())
    m["control_totals"][0]["entry_count"] += 1
    (folder / "manifest.json").write_text(json.dumps(m))
    bad = run(cli_env, "export", "verify", str(folder))
    assert bad.returncode == 1
    assert bad.stdout.startswith("FAILED: ")
    assert "settlements.parquet: is missing from the folder" in bad.stdout
    assert "ledger_entries.parquet: sha256 is" in bad.stdout
    assert "entry_count stated" in bad.stdout or "cannot be read" in bad.stdout
    as_json = run(cli_env, "export", "verify", str(folder), "--format", "json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["ok"] is False


@pytest.mark.slow
def test_user_mistakes_are_clear_errors_without_a_traceback(cli_env, tmp_path):
    out = tmp_path / "out"
    cases = [
        (["export", "--period", "2026-13", "--out", str(out)], "Error: period '2026-13' has month 13"),
        (["export", "--period", "26-01", "--out", str(out)],
         "Error: period '26-01' is not a month in the form YYYY-MM"),
        (["export", "--period", "2999-01", "--out", str(out)], "is in the future"),
        (["export", "--out", str(out)], "Error: give the month to export with --period YYYY-MM"),
        (["export", "--period", "2025-03", "verify", str(out)], "belong to the export itself"),
        (["export", "verify", str(tmp_path / "nowhere")], "is not a folder"),
        (["export", "verify", str(tmp_path)], "manifest.json does not exist"),
    ]
    for args, message in cases:
        result = run(cli_env, *args)
        assert result.returncode == 3, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
    assert not out.exists()  # nothing written for a refused period


@pytest.mark.slow
def test_progress_bar_on_a_terminal(cli_env, factory, tmp_path):
    small_month(factory)
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([EXE, "export", "--period", PERIOD, "--out", str(tmp_path)],
                              env=cli_env, stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert b"Exporting 2025-03" in seen


# -- killed mid-export, and the snapshot ---------------------------------------------------------
def _hold_lock(db_url: str) -> psycopg.Connection:
    """Block the export at its last table: every earlier file is written, then it waits."""
    conn = psycopg.connect(db_url)
    conn.execute("LOCK TABLE recon.incidents IN ACCESS EXCLUSIVE MODE")
    return conn


def _wait_until_blocked(db_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND wait_event_type = 'Lock'").fetchone()
            if row[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the export never reached the locked table")


@pytest.mark.slow
def test_a_killed_export_leaves_no_period_and_a_rerun_succeeds(cli_env, db_url, factory, recon,
                                                                tmp_path):
    small_month(factory)
    out = tmp_path / "exports"
    lock = _hold_lock(db_url)
    try:
        proc = subprocess.Popen([EXE, "export", "--period", PERIOD, "--out", str(out)],
                                env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_until_blocked(db_url)
        partial = [p for p in out.iterdir() if p.name.startswith(f".{PERIOD}.partial-")]
        assert len(partial) == 1 and (partial[0] / "ledger_entries.parquet").is_file()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        lock.rollback()
        lock.close()
    assert not (out / PERIOD).exists()                      # no half period
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []
    result = recon.exports.export(PERIOD, out_dir=out)      # a clean re-run succeeds …
    assert ExportService.verify(result.directory).ok
    assert sorted(p.name for p in out.iterdir()) == [PERIOD]  # … and clears the leftovers


def test_all_tables_are_read_in_one_snapshot(db_url, factory, recon, tmp_path):
    """Rows committed while an export runs are in none of its files, even in tables read later."""
    program = small_month(factory)
    lock = _hold_lock(db_url)
    outcome: dict = {}

    def export() -> None:
        try:
            outcome["result"] = recon.exports.export(PERIOD, out_dir=tmp_path)
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            outcome["error"] = exc

    worker = threading.Thread(target=export)
    worker.start()
    try:
        _wait_until_blocked(db_url)
        factory.journal(program, [("treasury", "debit", "1"), ("user:c", "credit", "1")],
                        created_at=IN)
        lock.execute("INSERT INTO recon.incidents (kind, priority, status, title, opened_at) "
                     "VALUES ('late', 'P3', 'open', 'committed during the export', %s)", (IN,))
        lock.commit()
    finally:
        lock.close()
    worker.join(timeout=120)
    assert "error" not in outcome, outcome.get("error")
    files = {f["name"]: f for f in outcome["result"].manifest["files"]}
    assert files["incidents.parquet"]["rows"] == 0        # read after the commit, yet not seen
    assert files["ledger_entries.parquet"]["rows"] == 4
    assert outcome["result"].manifest["control_totals"][1]["debits"] == str(Decimal("10.250000"))


def test_a_second_export_of_the_same_period_waits_its_turn(db_url, factory, recon, tmp_path):
    """The console may export from several threads: the second is refused, the first unharmed."""
    from sge_recon.errors import AlreadyRunning

    small_month(factory)
    lock = _hold_lock(db_url)
    outcome: dict = {}
    worker = threading.Thread(
        target=lambda: outcome.update(result=recon.exports.export(PERIOD, out_dir=tmp_path)))
    worker.start()
    try:
        _wait_until_blocked(db_url)
        with pytest.raises(AlreadyRunning, match=f"another export of {PERIOD} is running"):
            recon.exports.export(PERIOD, out_dir=tmp_path, force=True)
    finally:
        lock.rollback()
        lock.close()
    worker.join(timeout=120)
    assert ExportService.verify(outcome["result"].directory).ok
