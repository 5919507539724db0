"""The export's lock dies with its process (no PID test), and a full disk is a clear error.

Real subprocesses: a process that holds the period's lock, a live process whose PID a dead
export's leftovers name, and the CLI writing into a tmpfs that fills up (a private mount
namespace, as root or with user namespaces; skipped where the kernel allows neither)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sge_recon.exports import ExportService

PERIOD = "2025-03"
IN = datetime(2025, 3, 10, 12, tzinfo=timezone.utc)
EXE = str(Path(sys.executable).with_name("sge-recon"))


def _month(factory) -> None:
    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "10.25"), ("user:a", "credit", "10.25")],
                    created_at=IN)


def test_leftovers_of_a_killed_export_are_removed_even_if_their_pid_is_alive(recon, factory,
                                                                             tmp_path):
    """A dead export's partial folder names a PID that now belongs to a live process (PID reuse,
    PID 1 in a container): the next export still removes it and runs."""
    _month(factory)
    out = tmp_path / "exports"
    out.mkdir()
    alive = subprocess.Popen(["sleep", "60"])
    try:
        for pid in (alive.pid, 1):
            stale = out / f".{PERIOD}.partial-{pid}-deadbeef"
            stale.mkdir()
            (stale / "ledger_entries.parquet").write_bytes(b"half")
        result = recon.exports.export(PERIOD, out_dir=out)
    finally:
        alive.kill()
        alive.wait()
    assert ExportService.verify(result.directory).ok
    assert sorted(p.name for p in out.iterdir()) == [PERIOD]  # no leftovers, no lock file


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
"""


def test_a_running_export_is_told_apart_by_its_lock_and_the_lock_dies_with_it(cli_env, factory,
                                                                              tmp_path):
    _month(factory)
    out = tmp_path / "exports"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out / f".{PERIOD}.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = subprocess.run([EXE, "export", "--period", PERIOD, "--out", str(out)],
                                 env=cli_env, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 3, refused.stderr
        assert refused.stderr.startswith(f"Error: another export of {PERIOD} is running")
        assert "Traceback" not in refused.stderr
    finally:
        holder.kill()  # as kill -9: the kernel drops the lock
        holder.wait()
    done = subprocess.run([EXE, "export", "--period", PERIOD, "--out", str(out)], env=cli_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ExportService.verify(out / PERIOD).ok


def _in_small_tmpfs(mount: Path, kilobytes: int, args: list[str], env) -> subprocess.CompletedProcess:
    """Run ``args`` with a ``kilobytes`` tmpfs at ``mount`` (a private mount namespace)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare is not installed")
    mount.mkdir(parents=True, exist_ok=True)
    prefix = [unshare, "--mount"] if os.geteuid() == 0 else \
        [unshare, "--user", "--map-root-user", "--mount"]
    script = 'mount -t tmpfs -o size="$1" tmpfs "$2" || exit 97; shift 2; exec "$@"'
    result = subprocess.run([*prefix, "sh", "-c", script, "sh", f"{kilobytes}k", str(mount),
                             *args], env=env, capture_output=True, text=True, timeout=180)
    if result.returncode == 97 or "unshare failed" in result.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()[:200]}")
    return result


@pytest.mark.parametrize("kilobytes", [24, 160])
def test_a_full_disk_is_a_clear_error_and_leaves_nothing(cli_env, factory, tmp_path,
                                                         kilobytes):
    """24 kB fills up while the Parquet files are written (OSError ENOSPC), 160 kB while
    audit.duckdb is (DuckDB's IOException); either is `Error: …`, exit 3, nothing left."""
    _month(factory)
    mount = tmp_path / "small"
    script = [EXE, "export", "--period", PERIOD, "--out", str(mount / "exports")]
    listing = 'ls -A "$0"'
    result = _in_small_tmpfs(mount, kilobytes,
                             ["sh", "-c", f'"$@"; rc=$?; echo "rc=$rc"; {listing}',
                              str(mount / "exports"), *script], cli_env)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "rc=3", result.stdout + result.stderr
    assert lines[1:] == []  # no period, no partial folder, no lock file
    assert result.stderr.startswith(f"Error: writing the export of {PERIOD} into "
                                    f"{mount / 'exports'} failed: ")
    assert "free space there" in result.stderr and "Traceback" not in result.stderr
