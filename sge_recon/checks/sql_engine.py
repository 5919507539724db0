"""The SQL engine: each check's SELECT wrapped, counted and sampled in PostgreSQL."""

from __future__ import annotations

import logging
import time
from decimal import Context, Decimal, localcontext
from typing import Mapping, Sequence

from ..db import Database
from ..db.checks import CheckQueryError, CheckSession, TotalsQuery
from ..errors import DatabaseUnavailable
from . import sqltext
from .lanes import map_on_lanes
from .model import CheckDefinition, CheckResult, FusedQuery

ENGINE = "sql"
log = logging.getLogger(__name__)
# one step of a run: a fused query and its member checks, or (None, [a check])
Unit = tuple[FusedQuery | None, list[CheckDefinition]]


def run_sql_checks(definitions: list[CheckDefinition], db: Database,
                   params: Mapping[str, Decimal | int], sample_rows: int,
                   deadline: float | None = None,
                   fused: Sequence[FusedQuery] = (), sessions: int = 1) -> list[CheckResult]:
    """``deadline`` (a ``time.monotonic()`` instant) is the run's time budget: each check's
    statement_timeout is cut to what is left of it, and a check with nothing left is not run;
    both report ``error`` (never pass), so the per-minute run always ends in its minute.

    ``fused``: fused queries to use where two or more of their members are among
    ``definitions`` (the full run); they run at their first member's turn, and a fused query
    that fails leaves its members to run one by one from their own SQL.

    ``sessions``: how many connections run checks at once (CHECK_SESSIONS); each takes the next
    check (or fused query) in catalogue order when it is free. A run with a deadline runs one at
    a time: its budget is spent in order. The results come back in ``definitions``' order."""
    plan = {} if deadline is not None else _fused_plan(definitions, fused)
    units = _units(definitions, plan)

    def run_unit(session: CheckSession, unit: Unit) -> dict[str, CheckResult]:
        query, members = unit
        done = run_fused(query, members, session, params, sample_rows) if query else {}
        return {m.name: done.get(m.name) or run_sql_check(m, session, params, sample_rows,
                                                          deadline)
                for m in members}

    # a run with a deadline spends its budget in order, on one session
    done = map_on_lanes(units, 1 if deadline is not None else sessions,
                        lambda: CheckSession(db), run_unit, CheckSession.close)
    results = {name: result for unit in done for name, result in unit.items()}
    return [results[d.name] for d in definitions]


def _units(definitions: list[CheckDefinition], plan: dict[str, FusedQuery]) -> list[Unit]:
    """The run's steps in catalogue order: a fused query with its members at its first member's
    turn, every other check alone."""
    units: list[Unit] = []
    taken: set[str] = set()
    for d in definitions:
        query = plan.get(d.name)
        if query is None:
            units.append((None, [d]))
        elif query.name not in taken:
            taken.add(query.name)
            units.append((query, [m for m in definitions if plan.get(m.name) is query]))
    return units


def _fused_plan(definitions: list[CheckDefinition],
                fused: Sequence[FusedQuery]) -> dict[str, FusedQuery]:
    """Check name -> the fused query that yields it, for fused queries with two or more members
    in this run (one member alone is cheaper from its own file)."""
    names = {d.name for d in definitions if d.problem is None}
    plan = {}
    for query in fused:
        members = [m for m in query.members if m in names]
        if query.problem is not None and len(members) >= 2:
            log.warning("fused query %s not used, its checks run one by one: %s", query.name,
                        query.problem)
        elif len(members) >= 2:
            plan.update({m: query for m in members})
    return plan


def run_fused(query: FusedQuery, members: list[CheckDefinition], session: CheckSession,
              params: Mapping[str, Decimal | int], sample_rows: int) -> dict[str, CheckResult]:
    """The members' results from one run of the fused query; {} when it failed (the members then
    run one by one: a fused query never turns a check that could run into an error). Its time is
    shared out evenly among the members, and each result's details name the fused query."""
    started = time.perf_counter()
    timeout = min(3600, sum(m.timeout_seconds for m in members))
    try:
        measured = session.measure_fused(sqltext.for_psycopg(query.sql), params,
                                         sample_limit=sample_rows, timeout_seconds=timeout)
    except (CheckQueryError, DatabaseUnavailable) as exc:
        log.warning("fused query %s failed, its checks run one by one: %s", query.name,
                    getattr(exc, "message", None) or exc)
        return {}
    elapsed_ms = (time.perf_counter() - started) * 1000
    got = [m for m in members if m.name in measured]
    out = {}
    for m in got:
        mm = measured[m.name]
        result = evaluate(m, mm.failing_rows, None, mm.rows, time.perf_counter(), ENGINE,
                          details={"fused": query.name, "fused_ms": round(elapsed_ms, 3),
                                   "fused_members": [g.name for g in got]})
        result.duration_ms = elapsed_ms / len(got)
        out[m.name] = result
    return out


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
                            prelude=definition.prelude,
                            totals=totals_queries(definition),
                            totals_bounds=totals_bounds(definition, params))
    except CheckQueryError as exc:
        if cut and "timed out" in str(exc):
            return errored(definition, f"cut after {timeout:.1f} s at the end of the run's time "
                           "budget (FAST_RUN_BUDGET_SECONDS): the check did not finish (a "
                           "statement timeout: a slow query or a table lock), its result is "
                           "unknown", started, ENGINE)
        return errored(definition, f"the check's SQL failed: {exc}", started, ENGINE)
    except DatabaseUnavailable as exc:
        return errored(definition, exc.message, started, ENGINE)
    return evaluate(definition, m.failing_rows, m.value, m.rows, started, ENGINE,
                    details=None if m.totals is None else {"totals": m.totals})


def totals_queries(definition: CheckDefinition) -> list[TotalsQuery]:
    """The data layer's form of the check's ``totals:`` (each spec is one)."""
    return list(definition.totals)


def totals_bounds(definition: CheckDefinition,
                  params: Mapping[str, Decimal | int]) -> dict[str, Decimal | int]:
    """The values of the ``where … <bound>`` of each total: a parameter or a number."""
    out: dict[str, Decimal | int] = {}
    for t, q in zip(definition.totals, totals_queries(definition)):
        if t.where_bound is not None:
            out[q.bound_param] = (params[t.where_bound] if t.bound_is_parameter
                                  else Decimal(t.where_bound))
    return out


def evaluate(definition: CheckDefinition, count: int, value: Decimal | None, rows: list[dict],
             started: float, engine: str, details: dict | None = None) -> CheckResult:
    """Apply the check's thresholds to what the engine measured."""
    if value is None and count == 0 and definition.value is not None:
        value = definition.value.if_empty
    if value is not None and not value.is_finite():
        # NaN compares with nothing and neither prints as a JSON number: no verdict, never pass
        return errored(definition, f"the check's value {definition.value} is {value}, not a "
                       "finite measurement; make the SELECT return numbers (e.g. filter out "
                       "'NaN'::numeric or infinite values)", started, engine)
    value = plain_number(value)
    failing_rows = count if definition.counts_rows else None
    status = definition.thresholds.status(failing_rows=failing_rows, value=value)
    return CheckResult(name=definition.name, status=status, priority=definition.priority,
                       failing_rows=failing_rows, value=value, rows=rows,
                       duration_ms=(time.perf_counter() - started) * 1000, error=None,
                       engine=engine, details=details)


MAX_ERROR_CHARS = 2_000  # PostgreSQL quotes the offending value: a 3 MB text in a cast error


def errored(definition: CheckDefinition, message: str, started: float, engine: str,
            details: dict | None = None) -> CheckResult:
    if len(message) > MAX_ERROR_CHARS:
        message = (f"{message[:MAX_ERROR_CHARS]}… [{len(message) - MAX_ERROR_CHARS} more "
                   "characters not kept]")
    return CheckResult(name=definition.name, status="error", priority=definition.priority,
                       failing_rows=None, value=None, rows=[],
                       duration_ms=(time.perf_counter() - started) * 1000, error=message,
                       engine=engine, details=details)


def plain_number(value: Decimal | None) -> Decimal | None:
    """A value without representation noise (``5.500000`` → ``5.5``, ``0.0`` → ``0``), so both
    engines (GX hands values back as floats) report the same text."""
    if value is None:
        return None
    # exact at any size: the default context (28 digits) would round a wide value in normalize
    # and refuse to quantize a whole number of more than 28 digits
    sign_digits_exponent = value.as_tuple()
    digits = len(sign_digits_exponent.digits) + abs(int(sign_digits_exponent.exponent))
    with localcontext(Context(prec=max(28, digits + 2))):
        if value == value.to_integral_value():
            return value.quantize(Decimal(1))
        return value.normalize()
