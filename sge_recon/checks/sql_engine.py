"""The SQL engine: each check's SELECT wrapped, counted and sampled in PostgreSQL."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Mapping

from ..db import Database
from ..db.checks import CheckQueryError, CheckSession
from ..errors import DatabaseUnavailable
from . import sqltext
from .model import CheckDefinition, CheckResult

ENGINE = "sql"


def run_sql_checks(definitions: list[CheckDefinition], db: Database,
                   params: Mapping[str, Decimal | int], sample_rows: int,
                   deadline: float | None = None) -> list[CheckResult]:
    """``deadline`` (a ``time.monotonic()`` instant) is the run's time budget: each check's
    statement_timeout is cut to what is left of it, and a check with nothing left is not run;
    both report ``error`` (never pass), so the per-minute run always ends in its minute."""
    with CheckSession(db) as session:
        return [run_sql_check(d, session, params, sample_rows, deadline) for d in definitions]


def run_sql_check(definition: CheckDefinition, session: CheckSession,
                  params: Mapping[str, Decimal | int], sample_rows: int,
                  deadline: float | None = None) -> CheckResult:
    """One check; any failure of the check itself becomes status ``error``, never an exception."""
    started = time.perf_counter()
    if definition.problem:
        return errored(definition, definition.problem, started, ENGINE)
    timeout: float = definition.timeout_seconds
    cut = False
    if deadline is not None:
        left = deadline - time.monotonic()
        if left < 0.05:
            return errored(definition, "not run: the run's time budget was spent by the checks "
                           "before it (FAST_RUN_BUDGET_SECONDS); make them cheaper or raise "
                           "the budget", started, ENGINE)
        if left < timeout:
            timeout, cut = left, True
    spec = definition.value
    try:
        m = session.measure(sqltext.for_psycopg(definition.sql), params,
                            aggregate=spec.aggregate if spec else None,
                            column=spec.column if spec else None,
                            sample_limit=sample_rows, timeout_seconds=timeout,
                            prelude=definition.prelude)
    except CheckQueryError as exc:
        if cut and "timed out" in str(exc):
            return errored(definition, f"cut after {timeout:.1f} s at the end of the run's time "
                           "budget (FAST_RUN_BUDGET_SECONDS): the check did not finish, its "
                           "result is unknown", started, ENGINE)
        return errored(definition, f"the check's SQL failed: {exc}", started, ENGINE)
    except DatabaseUnavailable as exc:
        return errored(definition, exc.message, started, ENGINE)
    return evaluate(definition, m.failing_rows, m.value, m.rows, started, ENGINE)


def evaluate(definition: CheckDefinition, count: int, value: Decimal | None, rows: list[dict],
             started: float, engine: str, details: dict | None = None) -> CheckResult:
    """Apply the check's thresholds to what the engine measured."""
    if value is None and count == 0 and definition.value is not None:
        value = definition.value.if_empty
    value = plain_number(value)
    failing_rows = count if definition.counts_rows else None
    status = definition.thresholds.status(failing_rows=failing_rows, value=value)
    return CheckResult(name=definition.name, status=status, priority=definition.priority,
                       failing_rows=failing_rows, value=value, rows=rows,
                       duration_ms=(time.perf_counter() - started) * 1000, error=None,
                       engine=engine, details=details)


def errored(definition: CheckDefinition, message: str, started: float, engine: str,
            details: dict | None = None) -> CheckResult:
    return CheckResult(name=definition.name, status="error", priority=definition.priority,
                       failing_rows=None, value=None, rows=[],
                       duration_ms=(time.perf_counter() - started) * 1000, error=message,
                       engine=engine, details=details)


def plain_number(value: Decimal | None) -> Decimal | None:
    """A value without representation noise (``5.500000`` → ``5.5``, ``0.0`` → ``0``), so both
    engines (GX hands values back as floats) report the same text."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()
