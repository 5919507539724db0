"""Connections to PostgreSQL. The only module (with its siblings in ``db/``) that imports a driver."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlencode, urlparse, urlunparse

import psycopg
from psycopg.abc import PQGen
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row

from ..config import Settings
from ..errors import DatabaseUnavailable, ProfileDrift, first_line
from .child_secrets import SECRET_KEYWORDS, off_command_line
from .embedded import start_embedded
from .profile_drift import profile_error
from .readable_styles import pin_readable_styles
from .relations import CONTRACT_RELATIONS, PlatformRelations

# Re-exported so that callers outside db/ can catch driver errors without importing the driver.
DriverError = psycopg.Error
QueryCanceled = psycopg.errors.QueryCanceled
# libpq TCP keepalives of a long-lived session (Database.connect(keepalive=True)): probe after 30 s
# idle, every 10 s, give up after 3 unanswered probes.
TCP_KEEPALIVES: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                  "keepalives_count": 3}
# What Database.connect opens (row_factory=dict_row): its rows are dicts keyed by column name.
DictConnection = psycopg.Connection[DictRow]
# DB_ANSWER_GRACE_SECONDS's default: how long past its statement_timeout a statement's answer is
# awaited before sge-recon gives up on the server client-side
DEFAULT_ANSWER_GRACE_SECONDS = 60
_RV = TypeVar("_RV")


class NoAnswer(psycopg.OperationalError):
    """The server did not answer within the client-side deadline (a frozen server, a host that
    hangs, a network that drops everything): the connection was closed. A driver error like a
    lost connection, so every reader reports it as one (a check: ``error``, never a pass)."""


class _AnswerBoundConnection(psycopg.Connection[DictRow]):
    """A connection whose every wait for the server (a statement's answer, a COPY's result) is
    bounded client-side: ``statement_timeout`` is enforced by the server, which a SIGSTOPped or
    hung server cannot do, and TCP keepalives do not help (a stopped process's kernel still
    answers them; a unix socket has none).

    While a wait lasts longer than ``answer_grace`` the server is probed every ``answer_grace``
    seconds with a new connection (``connect_timeout``): a server that cannot even accept one is
    frozen or gone, so the connection is shut and :class:`NoAnswer` raised. A server that
    accepts the probe is only slow: the wait goes on, up to ``answer_timeout`` in all (its
    statement_timeout plus the grace; infinite for a statement without one, such as an export's
    COPY: probed only). ``answer_timeout`` None: neither bound nor probe (the default)."""

    answer_timeout: float | None = None
    answer_grace: float = DEFAULT_ANSWER_GRACE_SECONDS
    answer_where: str = "the database"
    answer_probe: str | None = None  # the URL to probe (None: no probe)
    probe_connect_timeout: int = 5

    def wait(self, gen: PQGen[_RV], interval: float = 0.1,
             timeout: float | None = None) -> _RV:
        limit = self.answer_timeout
        if limit is None or timeout is not None:
            return super().wait(gen, interval=interval, timeout=timeout)
        hard = None if limit == float("inf") else limit
        with ServerWatch(self.answer_probe, self.answer_grace, self.probe_connect_timeout,
                         lambda: shut_socket(self)) as watch:
            try:
                return super().wait(gen, interval=interval, timeout=hard)
            except psycopg.errors._WaitTimeout:
                self.close()  # the server's side is in an unknown state: never reused
                raise NoAnswer(no_answer_sentence(self.answer_where, limit)) from None
            except psycopg.OperationalError:
                if watch.frozen is None:
                    raise
                self.close()
                raise NoAnswer(no_answer_sentence(self.answer_where, None, watch.frozen)) \
                    from None


def shut_socket(conn: Any) -> None:
    """Shut a connection's socket under a thread blocked reading it: its wait returns with an
    error at once (closing the descriptor from another thread would not wake it)."""
    try:
        with socket.socket(fileno=os.dup(conn.pgconn.socket)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, psycopg.Error):
        pass


class ServerWatch:
    """While the block runs, probe the server of ``url`` every ``every`` seconds with a new
    connection; a server that accepts none within ``connect_timeout`` (frozen, hung, gone; an
    error it sends back, such as too many clients, is an answer) is given up: ``frozen`` is
    set to why and ``on_frozen()`` called once, from the watching thread. ``url`` None: no
    probe."""

    def __init__(self, url: str | None, every: float, connect_timeout: int,
                 on_frozen: Any) -> None:
        self.url, self.every, self.connect_timeout = url, every, connect_timeout
        self.on_frozen = on_frozen
        self.frozen: str | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "ServerWatch":
        if self.url is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True,
                                            name="sge-recon-server-watch")
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(self.every):
            reason = self._probe()
            if reason is not None and not self._done.is_set():
                self.frozen = reason
                self.on_frozen()
                return

    def _probe(self) -> str | None:
        assert self.url is not None
        try:
            psycopg.connect(self.url, connect_timeout=self.connect_timeout,
                            application_name="sge-recon (answer probe)").close()
        except psycopg.OperationalError as exc:
            said = first_line(exc)
            if exc.sqlstate or "sorry, too many clients" in said:
                return None  # it answered: alive, if unwelcoming
            return _redact(said, self.url)
        except psycopg.Error:
            return None
        return None


def no_answer_sentence(where: str, seconds: float | None, probe: str | None = None) -> str:
    """A statement given up client-side: after ``seconds`` in all, or when a new connection
    (``probe``: its error) could not be made while it waited."""
    why = f"within {seconds:g} s" if probe is None else \
        f"and it accepts no new connection either ({probe})"
    return (f"no answer from the database at {where} {why}, so sge-recon gave up and closed the "
            "connection (the server is frozen, hung or unreachable: it cannot enforce its own "
            "statement_timeout); nothing was concluded from it — see DB_ANSWER_GRACE_SECONDS")


@contextlib.contextmanager
def answer_within(conn: Any, statement_timeout_seconds: float) -> Iterator[None]:
    """The statements run in this block, which have a server-side ``statement_timeout`` of
    ``statement_timeout_seconds``, are awaited that long plus the connection's grace
    (DB_ANSWER_GRACE_SECONDS), then given up client-side (:class:`NoAnswer`)."""
    if not isinstance(conn, _AnswerBoundConnection):
        yield
        return
    before = conn.answer_timeout
    conn.answer_timeout = statement_timeout_seconds + conn.answer_grace
    try:
        yield
    finally:
        conn.answer_timeout = before


def expect_row(row: DictRow | None) -> DictRow:
    """The row of a statement that always returns one (an aggregate, a function call, the
    singleton checkpoint row): typed as present, and a clear error should it ever be missing."""
    if row is None:
        raise LookupError("a statement that always returns one row returned none")
    return row


def driver_failure(exc: BaseException) -> str | None:
    """What a driver error that no library code turned into a ReconError means for the person
    who ran the command (the CLI's last resort), or None for one that is a bug of ours.

    A write refused by a read-only server (DATABASE_URL on a hot standby: the two URLs swapped)
    and a session lost mid-command (PostgreSQL stopped or restarted, pg_terminate_backend, a
    pooler) are the database's state, not a bug; a statement cancelled on the server (its
    timeout, pg_cancel_backend) likewise."""
    if not isinstance(exc, psycopg.Error):
        return None
    said = _redact(first_line(exc))
    state = exc.sqlstate or ""
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return (f"the database refused a write ({said}): DATABASE_URL points at a read-only "
                "server (a hot standby in recovery, or default_transaction_read_only on); "
                "sge-recon keeps its state on DATABASE_URL, so point it at the primary (a "
                "streaming standby belongs in PLATFORM_READ_URL: are the two swapped?); nothing "
                "was concluded from this run")
    if isinstance(exc, NoAnswer):
        return f"{said}; run it again once the server answers"
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return (f"the database cancelled a statement ({said}): a statement_timeout, a "
                "lock_timeout or pg_cancel_backend; nothing was concluded from this run; run it "
                "again (a lock held by another session: see pg_stat_activity)")
    if isinstance(exc, psycopg.OperationalError) and (not state or state.startswith(("08", "57P"))):
        return (f"the connection to PostgreSQL was lost mid-command ({said}): the server was "
                "stopped or restarted, or the session was ended (pg_terminate_backend, "
                "idle_session_timeout, a pooler); nothing was concluded from this run; run it "
                "again once the database answers")
    return None


def resolve_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set; otherwise start (or attach to) the embedded server."""
    if settings.DATABASE_URL:
        return settings.DATABASE_URL
    return start_embedded(settings.home / "pgdata")


def describe_url(url: str) -> str:
    """Where a URL points, without its password: safe for messages and logs."""
    parsed = urlparse(url)
    host = parsed.hostname or parse_qs(parsed.query).get("host", ["local socket"])[0]
    port = f":{parsed.port}" if parsed.port else ""
    dbname = (parsed.path or "/").lstrip("/") or "postgres"
    if host.startswith("/"):
        return f"{dbname} on the local socket in {host}"
    return f"{host}{port}/{dbname}"


def describe_embedded(data_dir: Path, url: str) -> str:
    """Where the embedded server of ``data_dir`` is, for people: its data folder (what
    SGE_RECON_HOME holds), and its socket folder when that is elsewhere (pgserver's short
    ``/tmp/<hash>`` for a data folder whose path has a space or is too long for a socket)."""
    parsed = urlparse(url)
    socket_folder = parse_qs(parsed.query).get("host", [""])[0]
    dbname = (parsed.path or "/").lstrip("/") or "postgres"
    where = f"{dbname} on the embedded PostgreSQL in {data_dir}"
    if socket_folder and Path(socket_folder) != Path(data_dir):
        where += f", its socket in {socket_folder}"
    return where


def masked_url(url: str) -> str:
    """The URL with its password (in the authority or a ``password=`` option) shown as ***;
    user, host, port, database and options stay, so it can be read and adapted."""
    url = re.sub(r"(://[^:@/]*):[^@/]+@", r"\1:***@", url)
    return re.sub(r"([?&](?:ssl)?password=)[^&]*", r"\1***", url)


def psql_target(url: str, folder: Path | None = None) -> tuple[str, dict[str, str]]:
    """(URL without its secrets, extra environment) for running ``psql``: the password goes in
    PGPASSWORD and an ``sslpassword`` in a service file in ``folder`` (private, kept while psql
    runs; child_secrets.py), never on a command line that ``ps`` shows."""
    parsed = urlparse(url)
    netloc = parsed.netloc
    query = parse_qs(parsed.query, keep_blank_values=True)
    params = {k: query.pop(k)[0] for k in ("password", *SECRET_KEYWORDS) if k in query}
    if parsed.password:
        params["password"] = unquote(parsed.password)
        netloc = re.sub(r"^([^:@]*):[^@]*@", r"\1@", netloc)
    if "service" in query:
        params["service"] = query.pop("service")[0]
    kept, env = off_command_line(params, folder)
    query.update({k: [v] for k, v in kept.items()})
    rebuilt = parsed._replace(netloc=netloc, query=urlencode(query, doseq=True, safe="/"))
    return urlunparse(rebuilt), env


def is_embedded(settings: Settings) -> bool:
    return not settings.DATABASE_URL


def _redact(text: str, url: str = "") -> str:
    """A driver's message without credentials: URL userinfo, ``password=`` and, anywhere in it
    (a quoted bad token, say), the password of ``url`` as written or decoded."""
    found = re.match(r"[^:/?#]+://[^:/?#@]*:([^/?#]*)@", url)
    if found and found.group(1):
        for secret in sorted({found.group(1), unquote(found.group(1))}, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
    return re.sub(r"password=\S+|://[^@/\s]*@", lambda m: "password=***" if m.group(0).startswith(
        "password") else "://***@", text)


@contextlib.contextmanager
def said_as_drift() -> Iterator[None]:
    """Every reader's one translation of a profile relation that no longer fits the platform's
    tables (a platform migration since ``db init``): the driver's error becomes
    :class:`ProfileDrift`, which names the relation and says to run ``db init`` again
    (profile_drift.profile_error); any other driver error passes unchanged."""
    try:
        yield
    except psycopg.Error as exc:
        said = profile_error(exc)
        if said is None:
            raise
        raise ProfileDrift(said) from exc


@functools.lru_cache(maxsize=32)
def _resolving_cursor(relations: PlatformRelations) -> type[psycopg.Cursor[DictRow]]:
    """A cursor class that resolves ``platform.<table>`` in every statement it runs: the one
    guarded way product SQL reaches the platform's relations (see relations.py)."""

    def resolved(query: Any) -> Any:
        return relations.resolve(query) if isinstance(query, str) else query

    class ResolvingCursor(psycopg.Cursor[DictRow]):
        def execute(self, query, params=None, **kw):
            with said_as_drift():
                return super().execute(resolved(query), params, **kw)

        def executemany(self, query, params_seq, **kw):
            with said_as_drift():
                return super().executemany(resolved(query), params_seq, **kw)

        def stream(self, query, params=None, **kw):
            with said_as_drift():
                yield from super().stream(resolved(query), params, **kw)

        @contextlib.contextmanager
        def copy(self, statement, params=None, **kw):
            with said_as_drift(), super().copy(resolved(statement), params, **kw) as cp:
                yield cp

    return ResolvingCursor


class Database:
    """A PostgreSQL database, addressed by URL. Opens short-lived connections on demand.

    ``relations`` is the active platform profile's mapping: every statement run on a connection
    of this database has its ``platform.<table>`` references resolved through it.
    """

    def __init__(self, url: str, *, application_name: str = "sge-recon", connect_timeout: int = 5,
                 relations: PlatformRelations = CONTRACT_RELATIONS,
                 session_settings: dict[str, str] | None = None, setting: str = "DATABASE_URL",
                 answer_grace: float = DEFAULT_ANSWER_GRACE_SECONDS,
                 bound_every_answer: bool = False):
        """``answer_grace``: how long past a statement's statement_timeout its answer is awaited
        (the checks' statements, every statement of a ``bounded`` database), and how often the
        server is probed meanwhile; with ``bound_every_answer`` (the standby of
        PLATFORM_READ_URL) every statement is watched so: a frozen server never hangs a reader."""
        self.url = url
        # a statement on this handle that was given up client-side (NoAnswer): a check run's
        # sessions then stop reconnecting to the server (db.checks.CheckSession)
        self.gave_up: str | None = None
        self.answer_grace = answer_grace
        self.bound_every_answer = bound_every_answer
        self.setting = setting  # the setting that gave the URL, named in connection errors
        self.application_name = application_name
        self.connect_timeout = connect_timeout
        self.relations = relations
        self.session_settings = dict(session_settings or {})

    def bounded(self, *, statement_timeout_ms: int, lock_timeout_ms: int) -> "Database":
        """The same database whose every session has these timeouts (server-side GUCs set at
        connect), for jobs that must never hang on a slow query or a table lock."""
        return self.with_session_settings(statement_timeout=str(int(statement_timeout_ms)),
                                          lock_timeout=str(int(lock_timeout_ms)))

    def with_session_settings(self, **settings: str) -> "Database":
        """The same database whose every session sets these server GUCs at connect (an empty
        value leaves the server's own)."""
        merged = {**self.session_settings, **{k: v for k, v in settings.items() if v}}
        return self.with_url(self.url, merged)

    def with_url(self, url: str, session_settings: dict[str, str] | None = None) -> "Database":
        """This database's handle (profile, timeouts, settings) on another URL: the same
        server under the checks' own login (sge_recon.db.check_login)."""
        return Database(url, application_name=self.application_name,
                        connect_timeout=self.connect_timeout, relations=self.relations,
                        session_settings=(self.session_settings if session_settings is None
                                          else session_settings), setting=self.setting,
                        answer_grace=self.answer_grace,
                        bound_every_answer=self.bound_every_answer)

    @property
    def answer_timeout(self) -> float | None:
        """How long one statement's answer is awaited client-side (None: unwatched): its
        session statement_timeout plus the grace; with ``bound_every_answer`` and no
        statement_timeout, infinite but watched (the server probed every grace seconds)."""
        ms = self.session_settings.get("statement_timeout")
        if ms and ms.isdigit() and int(ms) > 0:
            return int(ms) / 1000 + self.answer_grace
        return float("inf") if self.bound_every_answer else None

    def _options(self) -> dict[str, Any]:
        if not self.session_settings:
            return {}
        given = conninfo_to_dict(self.url).get("options") or ""
        ours = " ".join(f"-c {k}={v}" for k, v in self.session_settings.items())
        return {"options": f"{given} {ours}".strip()}

    @classmethod
    def from_settings(cls, settings: Settings, relations: PlatformRelations,
                      **kw: Any) -> "Database":
        """The database of DATABASE_URL (the embedded server when it is unset), reading the
        platform through ``relations`` (the profile's, which the composition root resolves:
        sge_recon.profiles.relations_for)."""
        return cls(resolve_url(settings), relations=relations,
                   answer_grace=settings.DB_ANSWER_GRACE_SECONDS, **kw)

    @property
    def where(self) -> str:
        try:
            return describe_url(self.url)
        except ValueError:  # malformed (an unclosed IPv6 bracket, a bad port)
            return "a malformed URL"

    def connect(self, *, autocommit: bool = False, read_only: bool = False,
                keepalive: bool = False) -> DictConnection:
        """``keepalive``: TCP keepalives on (a long-lived session, such as a job's lock, notices a
        dead peer within about a minute instead of the kernel's two hours)."""
        try:
            conn = _AnswerBoundConnection.connect(
                                   self.url, autocommit=autocommit, row_factory=dict_row,
                                   cursor_factory=_resolving_cursor(self.relations),
                                   connect_timeout=self.connect_timeout,
                                   application_name=self.application_name,
                                   **(TCP_KEEPALIVES if keepalive else {}), **self._options())
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
            raise DatabaseUnavailable(
                f"cannot connect to the database at {self.where}: "
                f"{_redact(reason, self.url)}; "
                f"check that PostgreSQL is running and {self.setting} is right") from None
        except psycopg.ProgrammingError as exc:  # the URL itself: an unknown ?option, a bad %XX
            raise DatabaseUnavailable(
                f"{self.setting}: not a usable PostgreSQL URL ({_redact(first_line(exc), self.url)}"
                "); fix the URL: its ?options must be libpq connection parameters (sslmode, "
                "connect_timeout, ...) and a literal % is written %25") from None
        conn.answer_grace, conn.answer_where = self.answer_grace, self.where
        conn.answer_timeout, conn.answer_probe = self.answer_timeout, self.url
        conn.probe_connect_timeout = self.connect_timeout
        pin_readable_styles(conn)
        if read_only:
            conn.read_only = True
        return conn

    @contextlib.contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[DictConnection]:
        """One transaction: committed when the block ends, rolled back on any error."""
        conn = self.connect(read_only=read_only)
        try:
            with conn.transaction():
                yield conn
        finally:
            conn.close()

    def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict]:
        with self.transaction(read_only=True) as conn:
            return conn.execute(sql, params).fetchall()

    def fetch_one(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> dict | None:
        with self.transaction(read_only=True) as conn:
            return conn.execute(sql, params).fetchone()

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> int:
        with self.transaction() as conn:
            return conn.execute(sql, params).rowcount

    def execute_script(self, sql: str) -> None:
        """Run a multi-statement SQL script (no parameters) in one transaction."""
        with self.transaction() as conn:
            conn.execute(sql)

    def ping(self) -> bool:
        try:
            with self.connect(autocommit=True) as conn:
                conn.execute("SELECT 1")
            return True
        except (DatabaseUnavailable, psycopg.Error):
            return False

    def server_version(self) -> str:
        row = self.fetch_one("SHOW server_version")
        return row["server_version"] if row else "unknown"


def database_url_named(url: str, dbname: str) -> str:
    """The URL of another database on the same server (same user, host and options)."""
    from urllib.parse import urlunparse

    return urlunparse(urlparse(url)._replace(path=f"/{dbname}"))


def ensure_database(url: str, dbname: str) -> str:
    """Create database ``dbname`` on the server of ``url`` unless it exists; return its URL.
    (The demo keeps each platform shape in a database of its own on one embedded server.)"""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", dbname):
        raise ValueError(f"not a plain database name: {dbname!r}")
    with Database(url).connect(autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() \
                is None:
            conn.execute(f"CREATE DATABASE {dbname}")
    return database_url_named(url, dbname)
