"""One-snapshot reads: every fact of a round (``/metrics``) from the same moment, on one
connection. The read-only functions of the data layer that say ``Reader`` accept either a
:class:`~sge_recon.db.connection.Database` or a :class:`Snapshot`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeAlias

from psycopg import IsolationLevel

from .connection import Database


class Snapshot:
    """Reads on one connection in one REPEATABLE READ transaction: every fact of a round comes
    from the same moment, and a round costs one connection instead of one per query."""

    def __init__(self, conn):
        self._conn = conn

    def fetch_all(self, sql: str, params: Any = None) -> list[dict]:
        return self._conn.execute(sql, params).fetchall()

    def fetch_one(self, sql: str, params: Any = None) -> dict | None:
        return self._conn.execute(sql, params).fetchone()


Reader: TypeAlias = "Database | Snapshot"  # what the data layer's read-only functions accept


@contextlib.contextmanager
def snapshot(db: Database) -> Iterator[Snapshot]:
    conn = db.connect()
    try:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            yield Snapshot(conn)
    finally:
        conn.close()
