"""Query plans for the performance guard (issue 8): record the statements a piece of library code
runs, then ``EXPLAIN (FORMAT JSON)`` each and list the sequential scans of large tables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg

from sge_recon.db.connection import Database

# The tables that grow with the business: a hot query must never read one of them in full.
LARGE_TABLES = ("ledger_entries", "settlement_intents", "jobs", "webhook_deliveries",
                "commissions")


class RecordingConnection:
    """A connection stand-in that runs every statement for real and remembers (sql, params), so
    that code written against a connection (the console's Overview) can have its plans checked."""

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn
        self.statements: list[tuple[str, Any]] = []

    def execute(self, sql: Any, params: Any = None, **kw: Any):
        self.statements.append((sql, params))
        return self._conn.execute(sql, params, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def explain(conn: psycopg.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] | None
            ) -> dict:
    """The planner's plan (no execution) as the JSON document PostgreSQL returns."""
    row = conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()  # type: ignore[operator]
    value = row["QUERY PLAN"] if isinstance(row, dict) else row[0]
    return value[0]


def nodes(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    node = plan.get("Plan", plan)
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def full_scans(plan: Mapping[str, Any], tables: Sequence[str] = LARGE_TABLES) -> list[str]:
    """The large tables the plan reads with a sequential scan."""
    return sorted({n["Relation Name"] for n in nodes(plan)
                   if n.get("Node Type") == "Seq Scan" and n.get("Relation Name") in tables})


def explain_all(db: Database, statements: list[tuple[str, str, Any]],
                settings: Mapping[str, str] | None = None) -> list[dict]:
    """EXPLAIN every (name, sql, params); returns name, full_scans and the plan of each."""
    out = []
    with db.transaction(read_only=True) as conn:
        for key, value in (settings or {}).items():
            conn.execute("SELECT set_config(%s, %s, true)", (key, value))
        for name, sql, params in statements:
            plan = explain(conn, sql, params)
            out.append({"name": name, "full_scans": full_scans(plan), "plan": plan})
    return out


def analyze(db: Database) -> None:
    with db.connect(autocommit=True) as conn:
        conn.execute("ANALYZE")
