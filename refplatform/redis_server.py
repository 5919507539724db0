"""A private ``redis-server`` for the tests and the SGE-shaped demo (no Docker, no sudo at run time).

Debian's ``redis-server`` (``python3 dev.py test`` / ``demo`` install it when it is missing) is
started on a free 127.0.0.1 port with its data in a temporary folder, no persistence, and stopped
with the owner. Only this module starts a Redis server; the product itself only connects to
``REDIS_URL``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sge_recon.lifetime import die_with_parent
from sge_recon.errors import ReconError

REDIS_SERVER = "/usr/bin/redis-server"


class RedisServerError(ReconError):
    exit_code = 3


def redis_server_binary() -> str:
    path = shutil.which("redis-server") or (REDIS_SERVER if Path(REDIS_SERVER).exists() else None)
    if path is None:
        raise RedisServerError("redis-server is not installed: run `python3 dev.py sync` "
                               "(or `apt-get install redis-server`), or set REDIS_URL to a "
                               "Redis you run yourself")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PrivateRedis:
    """One redis-server process on 127.0.0.1:<port>, data in ``directory``."""

    directory: Path
    port: int
    process: subprocess.Popen | None = None
    owns_directory: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, directory: Path | None = None, port: int | None = None,
              timeout: float = 10.0) -> "PrivateRedis":
        owns = directory is None
        directory = Path(directory or tempfile.mkdtemp(prefix="sgr-redis-"))
        directory.mkdir(parents=True, exist_ok=True)
        server = cls(directory, port or free_port(), owns_directory=owns)
        server._spawn(timeout)
        return server

    def _spawn(self, timeout: float) -> None:
        argv = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.directory), "--save", "", "--appendonly", "no",
                "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning",
                "--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log")
                tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                raise RedisServerError(f"redis-server exited at start (code "
                                       f"{self.process.returncode}): {tail.strip()}")
            if self.ping():
                return
            time.sleep(0.05)
        self.stop()
        raise RedisServerError(f"redis-server did not answer on 127.0.0.1:{self.port} within "
                               f"{timeout:.0f} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the server (keeps the folder, so that ``restart`` starts on the same port)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self, timeout: float = 10.0) -> None:
        self.stop()
        self._spawn(timeout)

    def close(self) -> None:
        self.stop()
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
