"""The checks' value objects: definitions from the catalogue, results of a run."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..db.checks import TotalsQuery
from .thresholds import Thresholds
from .. import check_names
from ..money import apart_counts

STATUSES = ("pass", "warn", "fail", "error")
# DESIGN §5: the connected platform has no data for the check (its profile declares the source
# absent). Never a pass, and it never moves a run's status or exit code.
UNAVAILABLE = "unavailable"
_SEVERITY = {status: rank for rank, status in enumerate(STATUSES)}
EXIT_CODES = {"pass": 0, "warn": 1, "fail": 2, "error": 3}
_VALUE_SPEC = re.compile(r"^\s*(count|min|max|sum|avg)\(\s*([a-z_][a-z0-9_]*|\*)\s*\)\s*$")


@dataclass(frozen=True)
class ValueSpec:
    """How a check's value is computed from its rows, in the database: ``agg(column)``."""

    aggregate: str
    column: str
    if_empty: Decimal | None = None

    @classmethod
    def parse(cls, text: str, if_empty: Decimal | None = None) -> "ValueSpec | None":
        match = _VALUE_SPEC.match(text)
        if not match:
            return None
        return cls(match.group(1), match.group(2), if_empty)

    def __str__(self) -> str:
        return f"{self.aggregate}({self.column})"


_TOTALS_SPEC = re.compile(
    r"^\s*sum\(\s*(?:(abs)\(\s*([a-z_][a-z0-9_]*)\s*\)|([a-z_][a-z0-9_]*))\s*\)"
    r"\s+by\s+([a-z_][a-z0-9_]*)"
    r"(?:\s+where\s+([a-z_][a-z0-9_]*)\s*(>=|<=|>|<)\s*([a-z_][a-z0-9_]*|-?\d+(?:\.\d+)?))?\s*$")


@dataclass(frozen=True)
class TotalsSpec(TotalsQuery):
    """One named per-group total over ALL the check's failing rows, computed in the database with
    the count and the sample (checks.yml ``totals: {<name>: <spec>}``): ``sum(<col>) by <col>``,
    the column may be ``abs(<col>)``, optionally ``where <col> <op> <number or parameter>``. Each
    group yields its row count and its exact sum (e.g. money at stake per currency). It is the
    data layer's query (name, column, by, absolute, where) plus the bound as the catalogue wrote
    it, which the engine binds."""

    where_bound: str | None = None   # a parameter name or a number (text)

    @classmethod
    def parse(cls, name: str, text: str) -> "TotalsSpec | None":
        match = _TOTALS_SPEC.match(text)
        if not match:
            return None
        absolute, abs_col, col, by, w_col, w_op, w_bound = match.groups()
        return cls(name, abs_col or col, by, bool(absolute), w_col, w_op, w_bound)

    @property
    def bound_is_parameter(self) -> bool:
        return self.where_bound is not None and not re.match(r"^-?\d", self.where_bound)

    def __str__(self) -> str:
        target = f"abs({self.column})" if self.absolute else self.column
        where = (f" where {self.where_column} {self.where_op} {self.where_bound}"
                 if self.where_column else "")
        return f"sum({target}) by {self.by}{where}"


@dataclass(frozen=True)
class CheckDefinition:
    name: str
    description: str
    priority: str                 # "P0".."P3"
    owner: str
    runbook: str
    kind: str                     # "rows" | "metric"
    fast: bool                    # cheap enough for the per-minute run
    thresholds: Thresholds
    sql: str                      # the SELECT, cleaned (no trailing ';' or comments)
    value: ValueSpec | None = None
    timeout_seconds: int = 300
    path: Path | None = None
    problem: str | None = None    # why the .sql cannot run (the check reports error)
    prelude: str | None = None    # one-row SELECT of extra parameters, same snapshot (incremental)
    caused_by: tuple[str, ...] = ()  # checks whose failure causes this one's (alert inhibition)
    fused: str | None = None      # the fused query (checks/fused/<name>.sql) that also yields it
    totals: tuple[TotalsSpec, ...] = ()  # named per-group count and sum over all failing rows

    @property
    def counts_rows(self) -> bool:
        return self.kind == "rows"


@dataclass(frozen=True)
class FusedQuery:
    """One SELECT that yields the results of several rows checks from one pass over their shared
    table (``checks/fused/<name>.sql``; the members name it with ``fused: <name>``). It returns
    one row per member: ``check_name``, ``failing_rows`` (the true count) and ``rows`` (json
    text: the first ``:sample_limit`` failing rows in the member's own order). The full SQL run
    uses it when two or more members run; each member stays runnable alone from its own file."""

    name: str
    sql: str                      # cleaned; may use :sample_limit besides the check parameters
    members: tuple[str, ...]
    path: Path | None = None
    problem: str | None = None    # why it cannot run (the members then run one by one)


@dataclass
class CheckResult:
    name: str
    status: str                   # pass | warn | fail | error | unavailable
    priority: str | None
    failing_rows: int | None
    value: Decimal | None
    rows: list[dict] = field(default_factory=list)
    duration_ms: float = 0.0
    error: str | None = None
    engine: str = "sql"
    details: dict | None = None   # engine-specific (GX validation result), stored beside
    reason: str | None = None     # why the check is unavailable on this platform

    def totals(self, name: str) -> "dict[str, Total] | None":
        """The catalogue's total ``name`` (``totals:``) of this result, per group, over ALL
        failing rows; None when the engine did not compute it (GX, a fused query)."""
        stored = ((self.details or {}).get("totals") or {}).get(name)
        if stored is None:
            return None
        # [count, finite sum, {word: count}]; a total stored before the NaN and infinite
        # amounts were counted apart is [count, sum] (its sum then NaN when it met one)
        return {k: Total(int(v[0]), Decimal(str(v[1] if v[1] is not None else 0)),
                         apart_counts(v[2] if len(v) > 2 else None))
                for k, v in stored.items()}

    def to_json(self) -> dict:
        """The DESIGN §5 JSON object of one check, with stable types (see ``report_value``):
        money decimal strings, counts integers, measures numbers, statuses words.

        ``failing_rows`` is an integer for every check that ran: for a rows check the true count
        of failing rows; for a metric check (one measurement) 0 when its value is within the
        thresholds and 1 when it breaches one (warn or fail). It is null only when the check
        could not run (status error) or was not run (status unavailable, which also carries its
        ``reason``)."""
        failing = self.failing_rows
        if failing is None and self.status in ("pass", "warn", "fail"):
            failing = 0 if self.status == "pass" else 1
        out = {"name": self.name, "status": self.status, "priority": self.priority,
               "failing_rows": failing, "value": report_value(self.name, self.value),
               "rows": [report_row(self.name, r) for r in self.rows],
               "duration_ms": round(self.duration_ms, 3), "error": self.error}
        if self.status == UNAVAILABLE:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Total:
    count: int
    sum: Decimal   # of the finite amounts
    # NaN / Infinity / -Infinity amounts left out of ``sum``, counted per word
    apart: dict[str, int] = field(default_factory=dict)


@dataclass
class RunResult:
    run_id: str
    started_at: datetime
    finished_at: datetime
    status: str
    engine: str
    checks: list[CheckResult]
    trigger: str = "cli"
    # where the platform was read and how far behind the primary (recon.check_runs, 0012)
    replica: dict | None = None

    def to_json(self) -> dict:
        """Exactly the DESIGN §5 JSON."""
        return {"run_id": self.run_id, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(), "status": self.status,
                "checks": [c.to_json() for c in self.checks]}

    def exit_code(self) -> int:
        """0 all pass, 1 warnings only, 2 any fail, 3 any check errored."""
        return EXIT_CODES[self.status]

    def by_name(self) -> dict[str, CheckResult]:
        return {c.name: c for c in self.checks}


def overall_status(statuses: list[str]) -> str:
    """The worst evaluated status; ``unavailable`` checks were not evaluated and do not count."""
    return max((s for s in statuses if s != UNAVAILABLE), key=_SEVERITY.__getitem__,
               default="pass")


def json_value(value: Any) -> Any:
    """A row value as JSON: Decimal as a decimal string, times in ISO 8601, bytes (bytea) as
    PostgreSQL's hex text, a non-finite float as its word (JSON has no NaN), and any other type a
    check's SELECT may return (interval, time, inet, ranges, ...) as its text: whatever the check
    returns, the printed and stored result is valid JSON."""
    if isinstance(value, str):
        # a json column's text may hold \u0000, which PostgreSQL's jsonb (the stored results)
        # refuses: it would fail the storing of the whole run
        return _bounded(value.replace("\x00", "\ufffd") if "\x00" in value else value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, Decimal):
        # positional like PostgreSQL prints numeric; a json number's exponent is unbounded
        # (1e999999999 would print a billion digits): beyond numeric's range, scientific
        exponent = value.as_tuple().exponent
        return format(value, "f") if isinstance(exponent, str) or \
            abs(exponent) <= _NUMERIC_DIGITS else str(value)
    if isinstance(value, float):  # never money (money is numeric); e.g. a percentile
        return value if math.isfinite(value) else _NON_FINITE[str(value)]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bounded("\\x" + bytes(value[:MAX_TEXT_CHARS]).hex(), len(value) * 2 + 2)
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {json_value(str(k)): json_value(v) for k, v in value.items()}
    return str(value)  # UUID, timedelta, IP addresses, ranges, ...


# A sample row is evidence for a person, not a copy of the data: a longer text cell (an HTTP error
# page a platform stored as last_error, a payload) is cut, saying how much, so that a run's printed
# JSON and stored results stay bounded (SAMPLE_ROWS rows of at most this per cell).
MAX_TEXT_CHARS = 10_000


def _bounded(text: str, length: int | None = None) -> str:
    length = len(text) if length is None else length
    if length <= MAX_TEXT_CHARS:
        return text
    return f"{text[:MAX_TEXT_CHARS]}… [{length - MAX_TEXT_CHARS} more characters not kept]"


_NUMERIC_DIGITS = 131072 + 16383  # PostgreSQL numeric: digits before + after the point
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def json_row(row: dict) -> dict:
    return {k: json_cell(v) for k, v in row.items()}


def json_cell(value: Any) -> Any:
    """One cell of a sample row as JSON (:func:`json_value`), bounded as a whole: a json or array
    cell longer than MAX_TEXT_CHARS once printed is kept as its cut text."""
    out = json_value(value)
    if isinstance(out, (dict, list)):
        text = json.dumps(out, ensure_ascii=False)
        if len(text) > MAX_TEXT_CHARS:
            return _bounded(text)
    return out


# -- `check --format json`: stable types ----------------------------------------------------------
# A check's value is a measure, never money (seconds, jobs, a status): a JSON number, except where
# it encodes a status, which is reported as its word.
VALUE_WORDS = {check_names.WORKER_STATUS: {0: "healthy", 1: "degraded", 2: "down"}}
# row columns holding a status code: reported under a new name as the word
ROW_WORDS = {check_names.WORKER_STATUS: {"overall_code": "overall"}}
# Decimal row columns that are measures or counts (numbers), not money (decimal strings)
MEASURE_COLUMNS = frozenset({"value", "intents"})
MEASURE_SUFFIXES = ("_seconds", "_hours", "_minutes", "_ms", "_count", "_failures")


def report_value(check: str, value: Any) -> Any:
    if value is None:
        return None
    words = VALUE_WORDS.get(check)
    if words is not None:
        return words.get(int(value), str(value))
    return _number(value)


def report_row(check: str, row: dict) -> dict:
    out: dict[str, Any] = {}
    renames = ROW_WORDS.get(check, {})
    for key, value in row.items():
        if key in renames and value is not None:
            out[renames[key]] = VALUE_WORDS[check].get(int(value), str(value))
        elif isinstance(value, Decimal) and (key in MEASURE_COLUMNS
                                             or key.endswith(MEASURE_SUFFIXES)):
            out[key] = _number(value)
        else:
            out[key] = json_cell(value)
    return out


def _number(value: Any) -> int | float | str:
    """A measure as a JSON number (never money): a count (no fractional digits in its type)
    an integer, a measure with fractional digits a float, even when whole (25.00 hours: 25.0),
    so one column always has one type."""
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[str(value)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    d = Decimal(str(value))
    if not d.is_finite():  # JSON has no NaN or infinity: the word, as a Decimal prints it
        return format(d, "f")
    exponent = d.as_tuple().exponent
    return float(d) if isinstance(exponent, str) or exponent < 0 else int(d)


def column_types(rows: list[dict]) -> dict[str, str]:
    """Which columns hold decimals or timestamps, so stored JSON rows can be restored exactly."""
    kinds: dict[str, str] = {}
    for row in rows:
        for key, value in row.items():
            if isinstance(value, Decimal):
                kinds[key] = "decimal"
            elif isinstance(value, datetime):
                kinds[key] = "datetime"
    return kinds


def restore_row(row: dict, kinds: dict[str, str]) -> dict:
    out = dict(row)
    for key, kind in kinds.items():
        value = out.get(key)
        if value is None:
            continue
        try:
            if kind == "decimal":
                out[key] = Decimal(str(value))
            elif kind == "datetime":
                out[key] = datetime.fromisoformat(value)
        except (ValueError, TypeError, ArithmeticError):
            pass  # not every row of the column held one ('infinity', a string): keep its text
    return out
