"""The reference platform store's base: ids, connections (pool and long-lived) and the audit log."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from sge_recon.db import describe_url
from sge_recon.errors import DatabaseUnavailable

QUEUE = "settlement"
LIVE_STATUSES = ("created", "payment_pending", "verifying", "processing")
WORKER_LOCK_CLASS = 0x5E6E  # advisory lock class: a live worker holds (class, hashtext(worker_id))

Conn = psycopg.Connection


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


# ---------------------------------------------------------------------------------------------
# connections
# ---------------------------------------------------------------------------------------------
class PlatformPool:
    """A connection pool for the admin API (many short transactions from a thread pool)."""

    def __init__(self, url: str, *, max_size: int = 10, application_name: str = "sge-platform-api"):
        self.where = describe_url(url)
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, check=ConnectionPool.check_connection,
            kwargs={"row_factory": dict_row, "application_name": application_name,
                    "connect_timeout": 5})

    def open(self) -> None:
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close()

    @contextlib.contextmanager
    def transaction(self, timeout: float = 15) -> Iterator[Conn]:
        try:
            with self.pool.connection(timeout=timeout) as conn:
                with conn.transaction():
                    yield conn
        except PoolTimeout:
            raise DatabaseUnavailable(
                f"the platform database at {self.where} did not answer within {timeout:g} s; "
                "check that PostgreSQL is running and DATABASE_URL is right") from None
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                f"lost the connection to the platform database at {self.where} "
                f"({type(exc).__name__}); check that PostgreSQL is running") from None


def connect(url: str, application_name: str) -> Conn:
    """One long-lived connection (a worker, the dispatcher, traffic)."""
    try:
        return psycopg.connect(url, row_factory=dict_row, application_name=application_name,
                               connect_timeout=5)
    except psycopg.OperationalError:
        raise DatabaseUnavailable(
            f"cannot connect to the platform database at {describe_url(url)}; check that "
            "PostgreSQL is running and DATABASE_URL is right") from None


def ping(conn: Conn) -> None:
    conn.execute("SELECT 1")


# ---------------------------------------------------------------------------------------------
# audit log
# ---------------------------------------------------------------------------------------------
def write_audit(conn: Conn, *, actor: str, method: str, path: str, target: str | None,
                body: Any, status_code: int, result: str, message: str | None) -> None:
    conn.execute(
        "INSERT INTO public.admin_audit_log (actor, method, path, target, body, status_code, "
        "result, message) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (actor, method, path, target, Jsonb(body) if body is not None else None, status_code,
         result, message))


def audit_entries(conn: Conn, limit: int = 100) -> list[dict]:
    return conn.execute("SELECT * FROM public.admin_audit_log ORDER BY id DESC LIMIT %s",
                        (limit,)).fetchall()
