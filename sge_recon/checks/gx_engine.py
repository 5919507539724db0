"""The Great Expectations engine: the same check SQL, run as a GX Core 1.x suite.

Built in code, in an ephemeral context (nothing written to disk): per check, a suite with one
``UnexpectedRowsExpectation`` over the check's SELECT (GX counts the rows and returns them), and
for checks with a value an ``ExpectColumnMaxToBeBetween`` on that value, computed by the same
aggregate query the SQL engine uses. Each check runs through its own Checkpoint so that it gets
its own duration and a broken check cannot take the others down. Statuses come from the same
threshold objects as the SQL engine, so both engines agree on the same data.

GX facts this module relies on (GX Core 1.24): importing GX takes seconds, so only this module
imports it; ``add_postgres`` rejects a host-less URL, so the embedded server's socket-only URL
gets ``localhost`` as host with ``?host=<dir>`` kept; queries pass through ``str.format`` and
SQLAlchemy ``text()``, so parameters are rendered as numeric literals and braces and ``:name``
escaped; a failing query does not raise but shows in the result's ``exception_info``; GX
returns at most 200 unexpected rows, so the GX sample is min(SAMPLE_ROWS, 200) rows (the count is
always exact).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import threading
import time
import warnings
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlparse, urlunparse

from ..db import Database
from ..db.checks import count_query, may_read_as_reader_role
from ..db.connection import ServerWatch, no_answer_sentence
from ..db.peer_sockets import shut_sockets_to
from ..db.profile_drift import drift_of
from ..errors import DatabaseUnavailable, first_line
from . import sqltext
from .lanes import map_on_lanes
from .model import CheckDefinition, CheckResult, json_value
from .mute import stdout_muted
from .sql_engine import errored, evaluate

ENGINE = "gx"
_TIMEOUTS = ("statement_timeout", "lock_timeout")  # GX's own, from the checks' timeout_seconds
log = logging.getLogger(__name__)


def gx_connection_url(url: str, timeout_seconds: int, reader_role: bool = False,
                      session_settings: Mapping[str, str] | None = None) -> str:
    """A SQLAlchemy URL GX accepts: psycopg 3 driver, a host, the checks' statement_timeout and
    lock_timeout, and ``default_transaction_read_only``: every transaction GX opens is read-only,
    as the SQL engine's are, so a check can never write (a ``setval`` or an INSERT in a check's
    SQL fails with "cannot execute ... in a read-only transaction" and reports ``error``)."""
    parsed = urlparse(url)
    netloc = parsed.netloc
    if not parsed.hostname:  # socket-only: user:pw@ or empty -> add localhost, keep ?host=
        netloc = (netloc.rstrip("@") + "@localhost") if "@" in netloc else "localhost"
    query = [(k, v) for k, v in parse_qsl(parsed.query) if k != "options"]
    query.append(("options", f"-c statement_timeout={timeout_seconds * 1000} "
                             f"-c lock_timeout={min(timeout_seconds, 30) * 1000} "
                             "-c default_transaction_read_only=on"
                             + (" -c role=sge_recon_readonly" if reader_role else "")
                             + "".join(f" -c {k}={v}" for k, v in
                                       sorted((session_settings or {}).items())
                                       if k not in _TIMEOUTS)))
    if not any(k == "connect_timeout" for k, _ in query):  # a frozen server never hangs a connect
        query.append(("connect_timeout", "5"))
    # GX reads "$NAME" / "${NAME}" in a connection string as an environment variable to put in
    # (config substitution): a password with a "$" failed every check ("Unable to find a match
    # for a config substitution variable"), or sent another value. %24 is the same "$" to the
    # driver, and no substitution to GX (the query is percent-encoded already).
    return urlunparse(parsed._replace(scheme="postgresql+psycopg",
                                      netloc=netloc.replace("$", "%24"),
                                      path=parsed.path.replace("$", "%24"),
                                      query=urlencode(query, quote_via=quote)))


def import_gx() -> float:
    """Import GX (if not yet imported); the milliseconds it took, for the benchmark."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations  # noqa: F401

    return (time.perf_counter() - started) * 1000


def run_gx_checks(definitions: list[CheckDefinition], db: Database,
                  params: Mapping[str, Decimal | int], sample_rows: int,
                  sessions: int = 1) -> list[CheckResult]:
    """Each check through its own GX checkpoint, ``sessions`` at a time (CHECK_SESSIONS), the
    results in ``definitions``' order.

    Side by side, the checks share one context (GX keeps the active project in a module
    global: a second context would not be the one its checkpoints look up), but each worker
    thread has its own data source, so its own SQLAlchemy engine and batch state. What the
    checks add to the context (suites, validations, checkpoints, value assets; in memory) is
    added under a lock; only the checkpoints' runs, the queries, overlap."""
    if not definitions:
        return []
    context = _context()
    url = gx_connection_url(db.url, max(d.timeout_seconds for d in definitions),
                            reader_role=may_read_as_reader_role(db),
                            session_settings=db.session_settings)
    building = threading.Lock()
    lanes = itertools.count()

    def open_source() -> _Source:
        with building, stdout_muted():  # in a lane's thread: muted there too
            return _data_source(context, f"platform_{next(lanes)}", url, db)

    # GX opens its own connections, out of reach of the watch on sge-recon's (DB_ANSWER_GRACE_
    # SECONDS): a server frozen mid-query (SIGSTOP, a hung host) would hang the run, since it
    # cannot enforce its own statement_timeout. The server is probed while GX runs; one that
    # accepts no new connection has this process's sockets to it shut (GX's reads fail: the
    # check is an error) and the checks not yet begun are errors without a try.
    watch = ServerWatch(db.url, db.answer_grace, 5, lambda: shut_sockets_to(db.url))

    def run_one(source: _Source, definition: CheckDefinition) -> CheckResult:
        if watch.frozen is not None:
            return errored(definition, no_answer_sentence(db.where, None, watch.frozen),
                           time.perf_counter(), ENGINE)
        with stdout_muted():
            result = _run_one(context, source, building, definition, params, sample_rows, db)
        if watch.frozen is not None and result.status == "error":
            return errored(definition, no_answer_sentence(db.where, None, watch.frozen),
                           time.perf_counter(), ENGINE)
        return result

    # GX prints notices on stdout and warns: its own threads' prints are muted (per thread: other
    # threads, e.g. the scheduler's, keep printing); the warning filters, process-wide, are set
    # once around the run
    with _quiet(), watch:
        return map_on_lanes(definitions, sessions, open_source, run_one)


@dataclass(frozen=True)
class _Source:
    datasource: Any       # a GX PostgresDatasource
    one_row_batch: Any    # its one-row batch: the no-op {batch} of the rows queries


def _data_source(context, name: str, url: str, db: Database) -> _Source:
    try:  # GX tests the connection here: a server that is down (or went down) is not a GX fault
        datasource = context.data_sources.add_postgres(name=name, connection_string=url)
    except Exception as exc:  # noqa: BLE001 - GX wraps the driver's error in its own types
        if db.ping():
            raise
        raise DatabaseUnavailable(f"cannot connect to the database at {db.where} for the GX "
                                  f"engine ({first_line(exc)[:200]}); check that PostgreSQL "
                                  "is running") from None
    one_row = datasource.add_query_asset(name="one_row", query="SELECT 1 AS one")
    return _Source(datasource, one_row.add_batch_definition_whole_table("one_row"))


def _context():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
    # Some GX modules pin their logger at INFO; their notices are not our output.
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def gx_sql(definition: CheckDefinition, params: Mapping[str, Decimal | int]) -> str:
    """The check's SELECT with literal parameters and without comments (GX has no binding)."""
    return sqltext.strip_comments(sqltext.render_literals(definition.sql, params)).strip()


def rows_query(definition: CheckDefinition, params: Mapping[str, Decimal | int]) -> str:
    """The check's SELECT for UnexpectedRowsExpectation, ``{batch}`` joined as a no-op.

    GX wants ``{batch}`` in the query; the batch is a one-row query asset, so the cross join
    keeps the check's rows as they are.
    """
    inner = sqltext.escape_for_gx(gx_sql(definition, params))
    return (f"SELECT check_rows.* FROM (\n{inner}\n) AS check_rows "
            "CROSS JOIN {batch} AS gx_batch")


def value_query(definition: CheckDefinition, params: Mapping[str, Decimal | int]) -> str:
    """One row, column ``value``: the check's value, as the SQL engine computes it."""
    spec = definition.value
    assert spec is not None
    inner = gx_sql(definition, params)
    counted = count_query(inner, spec.aggregate, spec.column)
    if spec.if_empty is not None:
        empty = sqltext.numeric_literal("value_if_empty", spec.if_empty)
        return (f"SELECT CASE WHEN failing_rows = 0 THEN coalesce(value, {empty}) ELSE value END"
                f" AS value FROM ({counted}) AS measured")
    return f"SELECT value FROM ({counted}) AS measured"


def _value_expectation(gx_expectations, definition: CheckDefinition):
    """ExpectColumnMaxToBeBetween on ``value``, bounded by the first threshold that would fire.

    The status itself comes from the thresholds (so warn and fail stay distinct); GX's own
    success flag means "no threshold on the value fired".
    """
    bounds = [t for level in ("warn", "fail") for t in definition.thresholds.of(level)
              if t.subject == "value"]
    kwargs: dict[str, Any] = {"column": "value"}
    up = [t for t in bounds if t.upward]
    down = [t for t in bounds if not t.upward]
    if up:
        first = min(up, key=lambda t: (t.bound, t.op == ">"))
        kwargs.update(max_value=float(first.bound), strict_max=first.op == ">=")
    if down:
        first = max(down, key=lambda t: (t.bound, t.op == "<"))
        kwargs.update(min_value=float(first.bound), strict_min=first.op == "<=")
    if "max_value" not in kwargs and "min_value" not in kwargs:
        kwargs["max_value"] = None
        kwargs["min_value"] = None
    return gx_expectations.ExpectColumnMaxToBeBetween(
        **kwargs, meta={"check": definition.name, "role": "value"})


def _run_one(context, source: _Source, building: threading.Lock, definition: CheckDefinition,
             params: Mapping[str, Decimal | int], sample_rows: int, db: Database) -> CheckResult:
    started = time.perf_counter()
    if definition.problem:
        return errored(definition, definition.problem, started, ENGINE)
    try:
        with building:
            checkpoint = _checkpoint(context, source, definition, params)
        outcome = checkpoint.run()
    except Exception as exc:  # noqa: BLE001 - GX raises many kinds; the check errors, others run
        return errored(definition, f"Great Expectations could not run the check: "
                                   f"{first_line(exc)}", started, ENGINE)
    results = [r for run in outcome.run_results.values() for r in run.results]
    details = {"gx": _jsonable(outcome.describe_dict() if hasattr(outcome, "describe_dict")
                               else {}), "expectations": [_jsonable(r.to_json_dict())
                                                          for r in results]}
    for r in results:
        info = r.exception_info or {}
        raised = info.get("raised_exception") if isinstance(info, dict) else None
        if raised is None and isinstance(info, dict):  # keyed by metric id in some versions
            raised = next((v.get("raised_exception") for v in info.values()
                           if isinstance(v, dict) and v.get("raised_exception")), None)
        if raised:
            # a profile relation the platform's migration no longer fits: said as every reader
            # says it (GX gives the driver's error as text only)
            message = drift_of(db, gx_sql(definition, params)) or _exception_message(info)
            return errored(definition, f"the check's SQL failed: {message}", started, ENGINE,
                           details=details)
    rows_result = next(r for r in results if r.expectation_config.meta.get("role") == "rows")
    count = int(rows_result.result.get("observed_value"))
    rows = list(rows_result.result.get("details", {}).get("unexpected_rows", []))[:sample_rows]
    value = None
    for r in results:
        if r.expectation_config.meta.get("role") == "value":
            observed = r.result.get("observed_value")
            value = None if observed is None else _decimal(observed)
    return evaluate(definition, count, value, rows, started, ENGINE, details=details)


def _checkpoint(context, source: _Source, definition: CheckDefinition,
                params: Mapping[str, Decimal | int]):
    """The check's GX checkpoint: its rows expectation, and its value's when it has one."""
    import great_expectations as gx

    validations = [_validation(
        context, f"{definition.name}", source.one_row_batch,
        [gx.expectations.UnexpectedRowsExpectation(
            unexpected_rows_query=rows_query(definition, params),
            description=definition.description,
            meta={"check": definition.name, "role": "rows"})])]
    if definition.value is not None:
        asset = source.datasource.add_query_asset(
            name=f"{definition.name}_value",
            query=sqltext.escape_binds(value_query(definition, params)))
        batch = asset.add_batch_definition_whole_table(f"{definition.name}_value")
        validations.append(_validation(context, f"{definition.name}_value", batch,
                                       [_value_expectation(gx.expectations, definition)]))
    return context.checkpoints.add(gx.Checkpoint(
        name=f"sge_recon_{definition.name}", validation_definitions=validations,
        result_format={"result_format": "COMPLETE"}))


def _validation(context, name: str, batch_definition, expectations: list):
    import great_expectations as gx

    suite = context.suites.add(gx.ExpectationSuite(name=f"sge_recon_{name}"))
    for expectation in expectations:
        suite.add_expectation(expectation)
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"sge_recon_{name}", data=batch_definition, suite=suite))


@contextlib.contextmanager
def _quiet():
    """GX prints notices on stdout; the CLI's stdout belongs to the report (JSON). Muted for
    this thread only: the scheduler runs GX beside other jobs and its own output."""
    with stdout_muted(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _exception_message(info: dict) -> str:
    for candidate in [info, *[v for v in info.values() if isinstance(v, dict)]]:
        message = candidate.get("exception_message")
        if message:
            text = str(message).strip()
            for line in text.splitlines():  # SQLAlchemy wraps the driver's message
                if line.strip() and not line.startswith(("[SQL", "(Background")):
                    return line.strip()
    return "unknown error"


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _jsonable(value: Any) -> Any:
    """GX's result as plain JSON; a NaN or infinite float (a json column's 1e400 as GX reads it)
    becomes its word, as in the rows: PostgreSQL's jsonb (the stored details) refuses them."""
    return json.loads(json.dumps(value, default=lambda v: json_value(v)
                                 if not isinstance(v, (set, frozenset)) else sorted(v)),
                      parse_constant=str)
