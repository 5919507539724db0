"""Data access for the checks engine: running a check's SELECT, and the run history in ``recon``.

A check's SELECT is never executed bare: it is wrapped as a subquery so that the database counts
its rows (and computes its value) and only a bounded sample travels to Python. Count, value and
sample come from ONE execution (window aggregates over the wrapped rows), so they describe the
same snapshot and the check costs one run of its query, under its own ``statement_timeout``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.adapt import Loader
from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader
from psycopg.types.json import set_json_loads

from ..errors import ProfileDrift, first_line
from .connection import Database, DictConnection, NoAnswer, answer_within
from .profile_drift import profile_error
from .rows import all_rows

if TYPE_CHECKING:
    from .snapshot import Reader

_AGGREGATES = {"count", "min", "max", "sum", "avg"}
LOCK_TIMEOUT_MS = 10_000  # a check never queues behind a table lock for longer than this


class CheckQueryError(Exception):
    """A check's SQL failed in the database (syntax, missing column, timeout, ...)."""


def _reason(exc: psycopg.Error | ProfileDrift) -> str:
    """A failed check's message: the profile relation that no longer fits the platform (run
    ``db init`` again; the data-access layer said so already), or the database's own first
    line."""
    if isinstance(exc, ProfileDrift):
        return exc.message
    return profile_error(exc) or first_line(exc)


@dataclass
class Measurement:
    failing_rows: int
    value: Decimal | None
    rows: list[dict]
    # total name -> group -> [count, sum as text] over all failing rows (checks.yml ``totals:``);
    # None when the check has none
    totals: dict[str, dict[str, list]] | None = None


@dataclass(frozen=True)
class TotalsQuery:
    """``sum([abs](column)) by group [where where_column op <bound>]`` over the check's rows, under
    ``name`` (the engine validated the names; the bound is bound as ``bound_param``)."""

    name: str
    column: str
    by: str
    absolute: bool = False
    where_column: str | None = None
    where_op: str | None = None

    @property
    def bound_param(self) -> str:
        return f"__sge_bound_{self.name}"


def count_query(inner_sql: str, aggregate: str | None = None, column: str | None = None) -> str:
    """``SELECT count(*) AS failing_rows, <agg>(col) AS value FROM (<check>) AS check_rows``.

    The newline before ``)`` keeps a check that ends in a ``--`` comment valid; CTEs and ORDER BY
    are legal inside a subquery in PostgreSQL.
    """
    value = "NULL::numeric"
    if aggregate is not None:
        _check_aggregate(aggregate, column)
        target = "*" if column == "*" else f'check_rows."{column}"'
        value = f"{aggregate}({target})::numeric"
    return (f"SELECT count(*) AS failing_rows, {value} AS value FROM (\n{inner_sql}\n) AS check_rows")


def measured_sample_query(inner_sql: str, aggregate: str | None = None,
                          column: str | None = None) -> str:
    """The check's rows (its own order, at most ``%(sample_limit)s``), each carrying the true row
    count and the value as window aggregates over ALL rows: one execution of the check's query
    gives the exact count, the value and the bounded sample."""
    value = "NULL::numeric"
    if aggregate is not None:
        _check_aggregate(aggregate, column)
        target = "*" if column == "*" else f'check_rows."{column}"'
        value = f"({aggregate}({target}) OVER ())::numeric"
    return (f"SELECT check_rows.*, count(*) OVER () AS {_COUNT_COLUMN}, {value} AS "
            f"{_VALUE_COLUMN} FROM (\n{inner_sql}\n) AS check_rows LIMIT %(sample_limit)s")


_COUNT_COLUMN, _VALUE_COLUMN = "__sge_failing_rows", "__sge_value"
_TOTALS_COLUMN = "__sge_totals"
NULL_GROUP = "(null)"  # the key of a total's NULL group (as journal_single_program lists NULL)
_OPS = {">", ">=", "<", "<="}


def _check_aggregate(aggregate: str, column: str | None) -> None:
    if aggregate not in _AGGREGATES or not column or not (
            column == "*" or column.replace("_", "").isalnum()):
        raise ValueError(f"bad value aggregate {aggregate}({column})")


def totals_sample_query(inner_sql: str, totals: Sequence[TotalsQuery],
                        aggregate: str | None = None, column: str | None = None) -> str:
    """As :func:`measured_sample_query`, plus each named total: per group, the count and the
    exact sum (as text: money stays exact) over ALL the check's rows. The rows are materialised
    once and read again per total, so the check's query still runs once."""
    value = "NULL::numeric"
    if aggregate is not None:
        _check_aggregate(aggregate, column)
        target = "*" if column == "*" else f'check_rows."{column}"'
        value = f"({aggregate}({target}) OVER ())::numeric"
    parts = []
    for t in totals:
        for name in (t.name, t.column, t.by, t.where_column):
            if name is not None and not name.replace("_", "").isalnum():
                raise ValueError(f"bad totals name {name!r}")
        if t.where_op is not None and t.where_op not in _OPS:
            raise ValueError(f"bad totals operator {t.where_op!r}")
        summed = f'check_rows."{t.column}"'
        summed = f"abs({summed})" if t.absolute else summed
        where = (f'WHERE check_rows."{t.where_column}" {t.where_op} %({t.bound_param})s'
                 if t.where_column else "")
        # one group per key text, NULL as (null): grouped by the value, NULL and '' both keyed
        # '' made two members of one json object, and reading it kept only the last. The sum is
        # of the finite amounts; a NaN or infinite one is counted apart per word (one NaN made
        # the whole currency's sum NaN and hid the rest): [count, finite sum, {word: count}]
        amount = f"({summed})::numeric"
        apart = ", ".join(f"'{w}', nullif(count(*) FILTER (WHERE {amount} = '{w}'::numeric), 0)"
                          for w in NUMERIC_SPECIALS_ORDER)
        finite = " AND ".join(f"{amount} <> '{w}'::numeric" for w in NUMERIC_SPECIALS_ORDER)
        groups = (f"(SELECT coalesce(json_object_agg(g.k, json_build_array(g.n, g.t::text, "
                  f"g.apart)), '{{}}'::json) "
                  f"FROM (SELECT coalesce(check_rows.\"{t.by}\"::text, '{NULL_GROUP}') AS k, "
                  f"count(*) AS n, sum({summed}) FILTER (WHERE {finite}) AS t, "
                  f"json_strip_nulls(json_build_object({apart})) AS apart "
                  f"FROM check_rows {where} GROUP BY 1) AS g)")
        parts.append(f"'{t.name}', {groups}")
    return (f"WITH check_rows AS MATERIALIZED (\n{inner_sql}\n) "
            f"SELECT check_rows.*, count(*) OVER () AS {_COUNT_COLUMN}, {value} AS "
            f"{_VALUE_COLUMN}, json_build_object({', '.join(parts)}) AS {_TOTALS_COLUMN} "
            f"FROM check_rows LIMIT %(sample_limit)s")


class CheckSession:
    """One connection for a sequence of checks (connecting costs more than a small check).

    Each check runs in its own read-only transaction, always rolled back: a failing or timed-out
    check and a passing one alike leave the connection clean for the next, including what a
    check's SQL set for the session (``set_config('TimeZone', …, false)`` would otherwise change
    every later check's dates on this connection).
    """

    def __init__(self, db: Database):
        self.db = db
        self._conn: DictConnection | None = None
        self._reader_role = False

    def __enter__(self) -> "CheckSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _connection(self) -> DictConnection:
        gave_up = self.db.gave_up  # a server that did not answer this run's statement
        if gave_up is not None:  # (a frozen standby): no reconnect per check, each its timeout
            raise CheckQueryError(f"not run: {gave_up}")
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self.db.connect(read_only=True)
            exact_loaders(self._conn)
            self._reader_role = _reader_role(self._conn)
        return self._conn

    def _begin(self, conn: DictConnection) -> None:
        """Least privilege inside each check's transaction: besides READ ONLY, the check runs as
        the group role sge_recon_readonly (SELECT only, `db init` creates it) when the connected
        user may take it (the embedded default's superuser, a DBA's login in that role): a
        check's SQL cannot write or call setval on a platform table by mistake. (A login that is
        itself read-only is the stronger setup for production; see README, least privilege.)"""
        if self._reader_role:
            conn.execute("SET LOCAL ROLE sge_recon_readonly")

    def raw_row_count(self, psycopg_sql: str, params: Mapping[str, Any]) -> int:
        """Run the bare SELECT and fetch all its rows (the benchmark's baseline)."""
        conn = self._connection()
        try:
            with conn.transaction(force_rollback=True):
                return len(conn.execute(psycopg_sql, dict(params)).fetchall())
        except (psycopg.Error, ProfileDrift) as exc:
            raise CheckQueryError(_reason(exc)) from None

    def measure_fused(self, psycopg_sql: str, params: Mapping[str, Any], *, sample_limit: int,
                      timeout_seconds: float) -> dict[str, Measurement]:
        """Run a fused query (sge_recon.checks.model.FusedQuery): one statement, one snapshot,
        one row per member check (``check_name``, ``failing_rows``, ``rows`` as json text).
        The rows come back with numbers as Decimal (integers as int), never float, as the
        member's own SELECT would give them. Raises :class:`CheckQueryError` like ``measure``."""
        bound = {**params, "sample_limit": sample_limit}
        conn = self._connection()
        try:
            with conn.transaction(force_rollback=True):
                self._begin(conn)
                timeout_ms = str(max(1, int(timeout_seconds * 1000)))
                conn.execute("SELECT set_config('statement_timeout', %s, true), "
                             "set_config('lock_timeout', %s, true)",
                             (timeout_ms, str(min(int(timeout_ms), LOCK_TIMEOUT_MS))))
                with answer_within(conn, timeout_seconds):
                    rows = conn.execute(psycopg_sql, bound).fetchall()
        except NoAnswer as exc:
            self.db.gave_up = str(exc)
            raise CheckQueryError(str(exc)) from None
        except psycopg.errors.QueryCanceled:
            raise CheckQueryError(f"timed out after {timeout_seconds:g} s (statement_timeout) "
                                  "or waited too long for a lock (lock_timeout)") from None
        except (psycopg.Error, ProfileDrift) as exc:
            raise CheckQueryError(_reason(exc)) from None
        out: dict[str, Measurement] = {}
        try:
            for row in rows:
                sample = json.loads(row["rows"], parse_float=Decimal,
                                    object_hook=_numeric_special) if row["rows"] else []
                out[str(row["check_name"])] = Measurement(int(row["failing_rows"]), None, sample)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckQueryError(f"a fused query must return check_name, failing_rows and rows "
                                  f"(json text): {exc}") from None
        return out

    def measure(self, psycopg_sql: str, params: Mapping[str, Any], *, aggregate: str | None,
                column: str | None, sample_limit: int, timeout_seconds: float,
                prelude: str | None = None, totals: Sequence[TotalsQuery] = (),
                totals_bounds: Mapping[str, Any] | None = None) -> Measurement:
        """Count the check's rows and compute its value in the database; fetch a bounded sample.

        ``psycopg_sql`` is the check's SELECT with ``%(name)s`` placeholders. ``prelude`` is an
        optional one-row SELECT whose columns become extra parameters, read in the SAME
        REPEATABLE READ snapshot as the check (the incremental checks read their watermark so:
        the planner gets the value, and the watermark and the rows it splits always agree).
        ``totals`` adds named per-group counts and sums over all rows (``totals_bounds``: their
        ``where`` bounds by parameter name). Raises :class:`CheckQueryError` when the database
        rejects the query.
        """
        bound = {**params, "sample_limit": sample_limit, **(totals_bounds or {})}
        query = (totals_sample_query(psycopg_sql, totals, aggregate, column) if totals else
                 measured_sample_query(psycopg_sql, aggregate, column))
        conn = self._connection()
        try:
            with conn.transaction(force_rollback=True):
                if prelude is not None:
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                self._begin(conn)
                timeout_ms = str(max(1, int(timeout_seconds * 1000)))
                conn.execute("SELECT set_config('statement_timeout', %s, true), "
                             "set_config('lock_timeout', %s, true)",
                             (timeout_ms, str(min(int(timeout_ms), LOCK_TIMEOUT_MS))))
                if prelude is not None:
                    bound.update(conn.execute(prelude).fetchone() or {})
                own = 3 if totals else 2  # the measurement's columns, after the check's
                with conn.cursor(row_factory=_unique_names(own)) as cur, \
                        answer_within(conn, timeout_seconds):
                    rows = cur.execute(query, bound).fetchall()
        except NoAnswer as exc:
            self.db.gave_up = str(exc)
            raise CheckQueryError(str(exc)) from None
        except psycopg.errors.QueryCanceled:
            raise CheckQueryError(f"timed out after {timeout_seconds:g} s (statement_timeout) "
                                  "or waited too long for a lock (lock_timeout); make the "
                                  "query cheaper or raise timeout_seconds in checks.yml") \
                from None
        except psycopg.OperationalError as exc:
            if conn.broken or conn.closed:
                raise CheckQueryError(f"lost the database connection: {first_line(exc)}") \
                    from None
            raise CheckQueryError(_reason(exc)) from None
        except (psycopg.Error, ProfileDrift) as exc:
            raise CheckQueryError(_reason(exc)) from None
        if not rows:
            return Measurement(0, None, [], {t.name: {} for t in totals} if totals else None)
        count, value = rows[0][_COUNT_COLUMN], rows[0][_VALUE_COLUMN]
        groups = rows[0].get(_TOTALS_COLUMN) if totals else None
        for row in rows:
            del row[_COUNT_COLUMN], row[_VALUE_COLUMN]
            row.pop(_TOTALS_COLUMN, None)
        return Measurement(int(count), None if value is None else Decimal(value), rows,
                           dict(groups or {}) if totals else None)


def _unique_names(reserved: int):
    """Rows as dicts in which every column of the check keeps its value: a name the SELECT
    repeats (``SELECT e.id, c.id``) or that is one of the last ``reserved`` columns' (the
    measurement's) gets a suffix (``id_2``); a plain dict row would keep only the last."""

    def factory(cursor: Any):
        names = [c.name for c in cursor.description or []]
        cut = len(names) - reserved
        taken = set(names[cut:])
        for i, name in enumerate(names[:cut]):
            unique, n = name, 1
            while unique in taken:
                n += 1
                unique = f"{name}_{n}"
            taken.add(unique)
            names[i] = unique
        return lambda values: dict(zip(names, values))

    return factory


def _text_when_out_of_range(base: type[Loader]) -> type[Loader]:
    """``base``'s loader, except that a value Python cannot hold ('infinity', a date before year 1
    or after 9999) loads as PostgreSQL's text instead of failing the whole check."""

    class OrText(base):  # type: ignore[valid-type, misc]
        def load(self, data: Any) -> Any:
            try:
                return super().load(data)
            except psycopg.DataError:
                return bytes(data).decode()

    return OrText


def exact_loaders(conn: DictConnection) -> None:
    """How a check's rows load on ``conn``: json/jsonb numbers as Decimal (money nested in a json
    column stays exact; the default makes it a float), and the dates and timestamps Python cannot
    represent as their text (a check may return a row whose timestamp is 'infinity')."""
    set_json_loads(functools.partial(json.loads, parse_float=Decimal), conn)
    for name, loader in (("date", DateLoader), ("timestamp", TimestampLoader),
                         ("timestamptz", TimestamptzLoader)):
        conn.adapters.register_loader(name, _text_when_out_of_range(loader))


def may_read_as_reader_role(db: Database) -> bool:
    """Whether the checks' login may take the role sge_recon_readonly (the GX engine sets it for
    its own connections, as CheckSession does per check)."""
    with db.connect(read_only=True) as conn:
        return _reader_role(conn)


def _reader_role(conn: DictConnection) -> bool:
    """Whether this login may SET ROLE sge_recon_readonly (superuser or a member)."""
    row = conn.execute(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sge_recon_readonly') "
        "THEN pg_has_role(current_user, 'sge_recon_readonly', 'MEMBER') ELSE false END AS ok"
    ).fetchone()
    conn.rollback()  # the probe's implicit transaction (the connection is not autocommit)
    return bool(row and row["ok"])


# -- history ---------------------------------------------------------------------------------
def store_run(db: Database, run: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """One run and its results, in one transaction: all stored or none."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO recon.check_runs (run_id, started_at, finished_at, status, engine, "
            "trigger, only_checks, error, profile, platform_read, replica_lag_seconds, "
            "replica_paused, replica_behind_bytes) VALUES (%(run_id)s, %(started_at)s, "
            "%(finished_at)s, %(status)s, %(engine)s, %(trigger)s, %(only_checks)s, %(error)s, "
            "%(profile)s, %(platform_read)s, %(replica_lag_seconds)s, %(replica_paused)s, "
            "%(replica_behind_bytes)s)",
            {"profile": None, "platform_read": None, "replica_lag_seconds": None,
             "replica_paused": None, "replica_behind_bytes": None, **run})
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO recon.check_results (run_id, name, status, priority, failing_rows, "
                "value, rows, duration_ms, error, engine, details, reason) VALUES (%(run_id)s, "
                "%(name)s, %(status)s, %(priority)s, %(failing_rows)s, %(value)s, "
                "%(rows)s::jsonb, %(duration_ms)s, %(error)s, %(engine)s, %(details)s::jsonb, "
                "%(reason)s)",
                [{"reason": None, **r, "rows": json.dumps(r["rows"]),
                  "details": None if r["details"] is None else json.dumps(r["details"])}
                 for r in results])


_RESULT_COLUMNS = ("r.run_id, r.name, r.status, r.priority, r.failing_rows, r.value, r.rows, "
                   "r.duration_ms, r.error, r.engine, r.details, r.reason, r.created_at")


# A result scoped to part of the platform (a force-reconcile of one program stores its results
# with details.program_id) is evidence for that program only: it is recorded and shown in the
# history, but it never becomes a check's standing status (DESIGN §5, partial runs). A run with
# --only evaluated its checks in full: those results stand, the other checks keep theirs.
def unscoped(alias: str) -> str:
    return f"NOT (coalesce({alias}.details, '{{}}'::jsonb) ? 'program_id')"


def latest_run(db: Database) -> dict | None:
    """The newest finished run that holds at least one result covering the whole platform."""
    return db.fetch_one("SELECT c.run_id, c.started_at, c.finished_at, c.status, c.engine, "
                        "c.trigger, c.platform_read, c.replica_lag_seconds, c.replica_paused, "
                        "c.replica_behind_bytes FROM recon.check_runs c "
                        "WHERE c.finished_at IS NOT NULL "
                        "AND EXISTS (SELECT 1 FROM recon.check_results r WHERE r.run_id = c.run_id"
                        f" AND {unscoped('r')}) ORDER BY c.started_at DESC LIMIT 1")


def results_of_run(db: Database, run_id: Any) -> list[dict]:
    return db.fetch_all(f"SELECT {_RESULT_COLUMNS} FROM recon.check_results r "
                        "WHERE r.run_id = %s ORDER BY r.created_at, r.name", (run_id,))


# The standing result of every check name: the newest result (by its run's start) that covers
# the whole platform (see `unscoped`), without reading the whole history:
# the per-minute runs add ~13 k results a day, and the Overview asks on every refresh. The names
# come from a skip scan of check_results_name_idx; per name, the result with the newest created_at
# gives a lower bound for the newest run's start (a result is stored after its run started), so
# only results stored since then (less an hour for clock skew between app and database) compete.
def _latest_results_sql(columns: str) -> str:
    return f"""
WITH RECURSIVE names AS (
    (SELECT name FROM recon.check_results ORDER BY name LIMIT 1)
    UNION ALL
    SELECT (SELECT r.name FROM recon.check_results r WHERE r.name > names.name
            ORDER BY r.name LIMIT 1)
    FROM names WHERE names.name IS NOT NULL
)
SELECT latest.* FROM names
CROSS JOIN LATERAL (
    SELECT {columns}
    FROM recon.check_results r JOIN recon.check_runs c USING (run_id)
    WHERE r.name = names.name AND {unscoped('r')}
      AND r.created_at >= (SELECT c2.started_at
                           FROM recon.check_results r2 JOIN recon.check_runs c2 USING (run_id)
                           WHERE r2.name = names.name AND {unscoped('r2')}
                           ORDER BY r2.created_at DESC LIMIT 1) - interval '1 hour'
    ORDER BY c.started_at DESC LIMIT 1
) AS latest
ORDER BY latest.name
"""


_LATEST_RESULTS = _latest_results_sql(_RESULT_COLUMNS)


def latest_results(db: Database) -> list[dict]:
    return db.fetch_all(_LATEST_RESULTS)


def result_history(db: Database, name: str, limit: int) -> list[dict]:
    return db.fetch_all(f"SELECT {_RESULT_COLUMNS}, c.started_at FROM recon.check_results r "
                        "JOIN recon.check_runs c USING (run_id) WHERE r.name = %s "
                        "ORDER BY c.started_at DESC LIMIT %s", (name, limit))


# -- one stored run's results (an incident's evidence) ---------------------------------------------
def check_results_of_run(conn, run_id: Any) -> list[dict]:
    return all_rows(conn, """
        SELECT name, status, priority, failing_rows, value, error, created_at
        FROM recon.check_results WHERE run_id = %s ORDER BY name""", (run_id,))


# -- the standing status per check, as /metrics reads it (in its snapshot) ----------------------
_LATEST_STATUSES = _latest_results_sql(
    "r.name, r.status, r.priority, r.failing_rows, r.value, r.created_at")


def latest_check_statuses(db: Reader) -> list[dict]:
    """The standing result of each check (any engine, any trigger), as the Overview and the
    alert rules read it (``latest_results``): that of the newest run that covers the whole
    platform; a force-reconcile of one program never replaces it (DESIGN §5). A skip scan, not a
    sort of the whole history (which grows by ~13 k results a day)."""
    return db.fetch_all(_LATEST_STATUSES)


NUMERIC_SPECIALS_ORDER = ("NaN", "Infinity", "-Infinity")
NUMERIC_SPECIALS = frozenset(NUMERIC_SPECIALS_ORDER)


def _numeric_special(obj: dict) -> Any:
    """A fused query's json gives a numeric NaN or infinity as {"$numeric": "NaN"} (json has no
    such number, and to_json's "NaN" would read back as text): that Decimal, as the member's own
    SELECT gives it. Any other object is kept as it is."""
    if len(obj) == 1 and obj.get("$numeric") in NUMERIC_SPECIALS:
        return Decimal(obj["$numeric"])
    return obj
