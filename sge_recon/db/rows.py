"""The two shapes a data-layer read returns: every row, or the one row (an empty dict when there
is none). Each reader takes an open connection, so that a page's load runs in one read-only
transaction (sge_recon.console opens it)."""

from __future__ import annotations

from typing import Any


def all_rows(conn: Any, sql: str, params: Any = None) -> list[dict]:
    return conn.execute(sql, params).fetchall()


def one_row(conn: Any, sql: str, params: Any = None) -> dict:
    return conn.execute(sql, params).fetchone() or {}
