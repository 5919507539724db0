"""Data access for the checks engine: running a check's SELECT, and the run history in ``recon``.

A check's SELECT is never executed bare: it is wrapped as a subquery so that the database counts
its rows (and computes its value) and only a bounded sample travels to Python. Count and sample
run in one REPEATABLE READ, read-only transaction, so they describe the same snapshot, under the
check's own ``statement_timeout``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from .connection import Database

_AGGREGATES = {"count", "min", "max", "sum", "avg"}


class CheckQueryError(Exception):
    """A check's SQL failed in the database (syntax, missing column, timeout, ...)."""


@dataclass
class Measurement:
    failing_rows: int
    value: Decimal | None
    rows: list[dict]


def count_query(inner_sql: str, aggregate: str | None = None, column: str | None = None) -> str:
    """``SELECT count(*) AS failing_rows, <agg>(col) AS value FROM (<check>) AS check_rows``.

    The newline before ``)`` keeps a check that ends in a ``--`` comment valid; CTEs and ORDER BY
    are legal inside a subquery in PostgreSQL.
    """
    value = "NULL::numeric"
    if aggregate is not None:
        if aggregate not in _AGGREGATES or not column or not (
                column == "*" or column.replace("_", "").isalnum()):
            raise ValueError(f"bad value aggregate {aggregate}({column})")
        target = "*" if column == "*" else f'check_rows."{column}"'
        value = f"{aggregate}({target})::numeric"
    return (f"SELECT count(*) AS failing_rows, {value} AS value FROM (\n{inner_sql}\n) AS check_rows")


def sample_query(inner_sql: str, limit_placeholder: str = "%(sample_limit)s") -> str:
    """The check's rows, in its own order, at most ``limit`` of them."""
    return f"SELECT check_rows.* FROM (\n{inner_sql}\n) AS check_rows LIMIT {limit_placeholder}"


def measure(db: Database, psycopg_sql: str, params: Mapping[str, Any], *,
            aggregate: str | None, column: str | None, sample_limit: int,
            timeout_seconds: int) -> Measurement:
    """Count the check's rows and compute its value in the database; fetch a bounded sample.

    ``psycopg_sql`` is the check's SELECT with ``%(name)s`` placeholders. Raises
    :class:`CheckQueryError` when the database rejects the query.
    """
    bound = {**params, "sample_limit": sample_limit}
    conn = db.connect(read_only=True)
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            conn.execute("SELECT set_config('statement_timeout', %s, true)",
                         (str(timeout_seconds * 1000),))
            counted = conn.execute(count_query(psycopg_sql, aggregate, column), bound).fetchone()
            rows = conn.execute(sample_query(psycopg_sql), bound).fetchall()
    except psycopg.errors.QueryCanceled:
        raise CheckQueryError(f"timed out after {timeout_seconds} s (statement_timeout); make "
                              "the query cheaper or raise timeout_seconds in checks.yml") from None
    except psycopg.Error as exc:
        raise CheckQueryError(_first_line(exc)) from None
    finally:
        conn.close()
    value = counted["value"]
    return Measurement(int(counted["failing_rows"]), None if value is None else Decimal(value),
                       rows)


def time_raw_query(db: Database, psycopg_sql: str, params: Mapping[str, Any]) -> int:
    """Run the bare SELECT, fetching everything (the benchmark's baseline); returns the rows."""
    with db.transaction(read_only=True) as conn:
        return len(conn.execute(psycopg_sql, dict(params)).fetchall())


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- history ---------------------------------------------------------------------------------
def store_run(db: Database, run: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """One run and its results, in one transaction: all stored or none."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO recon.check_runs (run_id, started_at, finished_at, status, engine, "
            "trigger, only_checks, error) VALUES (%(run_id)s, %(started_at)s, %(finished_at)s, "
            "%(status)s, %(engine)s, %(trigger)s, %(only_checks)s, %(error)s)", run)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO recon.check_results (run_id, name, status, priority, failing_rows, "
                "value, rows, duration_ms, error, engine, details) VALUES (%(run_id)s, %(name)s, "
                "%(status)s, %(priority)s, %(failing_rows)s, %(value)s, %(rows)s::jsonb, "
                "%(duration_ms)s, %(error)s, %(engine)s, %(details)s::jsonb)",
                [{**r, "rows": json.dumps(r["rows"]),
                  "details": None if r["details"] is None else json.dumps(r["details"])}
                 for r in results])


_RESULT_COLUMNS = ("r.run_id, r.name, r.status, r.priority, r.failing_rows, r.value, r.rows, "
                   "r.duration_ms, r.error, r.engine, r.details, r.created_at")


def latest_run(db: Database) -> dict | None:
    return db.fetch_one("SELECT run_id, started_at, finished_at, status, engine, trigger "
                        "FROM recon.check_runs WHERE finished_at IS NOT NULL "
                        "ORDER BY started_at DESC LIMIT 1")


def results_of_run(db: Database, run_id: Any) -> list[dict]:
    return db.fetch_all(f"SELECT {_RESULT_COLUMNS} FROM recon.check_results r "
                        "WHERE r.run_id = %s ORDER BY r.created_at, r.name", (run_id,))


def latest_results(db: Database) -> list[dict]:
    return db.fetch_all(f"SELECT DISTINCT ON (r.name) {_RESULT_COLUMNS} "
                        "FROM recon.check_results r JOIN recon.check_runs c USING (run_id) "
                        "ORDER BY r.name, c.started_at DESC")


def result_history(db: Database, name: str, limit: int) -> list[dict]:
    return db.fetch_all(f"SELECT {_RESULT_COLUMNS}, c.started_at FROM recon.check_results r "
                        "JOIN recon.check_runs c USING (run_id) WHERE r.name = %s "
                        "ORDER BY c.started_at DESC LIMIT %s", (name, limit))
