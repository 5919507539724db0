"""Data access for audit exports (DESIGN §8): one consistent snapshot, COPY streams, export runs.

Every read of one export happens inside one ``REPEATABLE READ READ ONLY`` transaction, so all the
files describe the same instant of the database. The session's time zone is UTC, so timestamps
leave the server as ``…+00`` and the CSV reader parses them as UTC instants.
"""

from __future__ import annotations

import contextlib
import dataclasses
import select
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import psycopg
from psycopg import sql

from ..errors import ExportError
from .connection import (Database, DictConnection, ServerWatch, expect_row, no_answer_sentence,
                         shut_socket)
from .export_specs import Column, TableSpec
from .profile_views import is_helper_column
from .psql_copy import OUTPUT_SETTINGS, PsqlCopySession, PsqlStopped, PsqlUnavailable
from .recovery_conflicts import conflict_counts, lost_to_recovery_conflict
from .relations import PROFILE_SCHEMA


class Snapshot:
    """A read-only, repeatable-read transaction: every query sees the same snapshot.

    ``piped``: read the COPYs through a ``psql`` child in the same snapshot (``copy_csv_piped``;
    see psql_copy.py) when one can be started, else (or with ``piped=False``) in process.
    """

    def __init__(self, db: Database, *, piped: bool = True):
        self.db = db
        self.conn: DictConnection  # opened by __enter__
        self.piped = piped
        self._psql: PsqlCopySession | None = None
        self._conflicts: dict[str, int] | None = None
        # on a standby (every answer watched), the server is probed while the export runs: one
        # that accepts no new connection (frozen mid-COPY) is given up, the COPYs cut
        self._watch = ServerWatch(db.url if db.bound_every_answer else None, db.answer_grace,
                                  db.connect_timeout, self._give_up)

    def __enter__(self) -> "Snapshot":
        self.conn = self.db.connect(autocommit=True)
        try:
            for setting in OUTPUT_SETTINGS:  # UTC, ISO dates: what the CSV reader parses
                self.conn.execute(setting)
            self.conn.execute("SET statement_timeout = 0")
            self._conflicts = conflict_counts(self.conn)  # a standby's, to say why it ended us
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except BaseException:
            self.conn.close()
            raise
        self._watch.__enter__()
        return self

    def _give_up(self) -> None:
        """The server stopped answering: wake whatever reads it (this thread is the watch's)."""
        psql = self._psql
        if psql is not None and psql.proc.poll() is None:
            psql.proc.kill()  # its pipe ends: the reader sees the end and stops
        shut_socket(self.conn)

    def __exit__(self, *exc: Any) -> None:
        assert self.conn is not None
        self._watch.__exit__()
        if self._psql is not None:
            self._psql.close()
        try:
            if not self.conn.closed:
                self.conn.execute("ROLLBACK")  # read only: nothing to keep
        except psycopg.Error:
            pass
        finally:
            self.conn.close()
        if self._watch.frozen is not None and exc[0] is not None:
            raise ExportError(no_answer_sentence(self.db.where, None, self._watch.frozen)
                              + "; nothing was written") from exc[1]
        if isinstance(exc[1], psycopg.OperationalError):  # lost without the server's reason?
            reason = lost_to_recovery_conflict(self.db, self._conflicts)
            if reason:
                raise ExportError(f"the standby at {self.db.where} ended the export's session: "
                                  f"{reason}; nothing was written. Run the export again (or "
                                  "raise max_standby_streaming_delay on the standby)") from exc[1]

    # -- what and where ----------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """Database, server version and the snapshot; the first query fixes the snapshot."""
        row = expect_row(self.conn.execute(
            "SELECT current_database() AS database, current_setting('server_version') "
            "AS server_version, current_setting('server_version_num')::int AS version_num, "
            "now() AS taken_at, current_user AS db_user").fetchone())
        function = "pg_current_snapshot" if row["version_num"] >= 130000 else "txid_current_snapshot"
        snap = expect_row(self.conn.execute(f"SELECT {function}()::text AS snapshot").fetchone())
        return {**row, "snapshot": snap["snapshot"], "snapshot_function": f"{function}()"}

    def resolved(self, spec: TableSpec) -> TableSpec:
        """``spec`` with the pseudo-schema ``platform`` replaced by where the active profile keeps
        the contract relations (public, or the profile's views)."""
        schema = self.db.relations.schema
        if spec.via and spec.via[1] == "platform":  # its parent is a contract relation too
            spec = dataclasses.replace(spec, via=(spec.via[0], schema) + spec.via[2:])
        if spec.schema != "platform":
            return spec
        return dataclasses.replace(spec, schema=schema)

    def columns(self, schema: str, table: str) -> list[dict[str, Any]]:
        """The table's columns in order (name, pg_type, precision, scale); empty when absent."""
        rows = self.conn.execute(
            "SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale, "
            "       character_maximum_length "
            "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position", (schema, table)).fetchall()
        out = []
        for r in rows:
            if schema == PROFILE_SCHEMA and is_helper_column(r["column_name"]):
                continue  # a profile view's rewriting aid, not a contract column
            constrained = r["data_type"] == "numeric" and r["numeric_precision"] is not None
            scale = r["numeric_scale"]
            if constrained and scale is not None and scale >= 1024:
                scale -= 2048  # a negative scale (PG 15+), which information_schema shows as
                #                its 11-bit two's complement: numeric(10,-2) says scale 2046
            out.append({"name": r["column_name"], "pg_type": r["data_type"],
                        "precision": r["numeric_precision"] if constrained else None,
                        "scale": scale if constrained else None})
        return out

    # -- the month's rows --------------------------------------------------------------------
    @contextlib.contextmanager
    def copy_csv(self, spec: TableSpec, columns: list[Column], start: datetime, end: datetime,
                 rows_per_block: int) -> Iterator[Iterator[bytes]]:
        """Stream the month's rows of ``spec`` as CSV (no header): an iterator of blocks of
        ``rows_per_block`` whole rows (the last one shorter)."""
        statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(month_select(spec, columns))
        try:
            with self.conn.cursor() as cur, cur.copy(statement, {"start": start, "end": end}) as cp:
                yield _copy_out_blocks(cp, rows_per_block)
        except psycopg.Error as exc:
            raise ExportError(f"reading {spec.qualified} failed: {str(exc).strip()}") from None

    @contextlib.contextmanager
    def copy_csv_piped(self, spec: TableSpec, columns: list[Column], start: datetime,
                       end: datetime) -> Iterator[IO[bytes] | None]:
        """The month's rows of ``spec`` as a CSV file (no header) that a ``psql`` child in this
        snapshot fills; read it to its end. Yields None when no such child can run here (no
        psql, no snapshot export): the caller then uses ``copy_csv``."""
        session = self._psql_session()
        if session is None:
            yield None
            return
        query = month_select(spec, columns)
        # planned here first, and one row of a profile relation read (its search_path guard
        # runs): a relation that no longer fits the platform's tables, or that the guard
        # refuses, is said as every reader says it (ProfileDrift), not as psql's line
        self.conn.execute(sql.SQL("EXPLAIN {}").format(query), {"start": start, "end": end})
        if spec.schema == PROFILE_SCHEMA:
            self.conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(
                sql.Identifier(spec.schema, spec.table)))
        statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)
        text = psycopg.ClientCursor(self.conn).mogrify(statement, {"start": start, "end": end})
        try:
            with session.copy_out(text) as source:
                yield source
        except BaseException as exc:
            self._psql = None  # copy_out stopped the child: a later table starts another one
            if isinstance(exc, PsqlStopped):
                raise ExportError(f"reading {spec.qualified} failed: {exc}") from None
            raise

    def _psql_session(self) -> PsqlCopySession | None:
        if self._psql is None and self.piped:
            try:
                self._psql = PsqlCopySession(self.conn, self.db.url, self.db.application_name)
            except PsqlUnavailable:
                self.piped = False
        return self._psql

    def spanning_balanced(self, transaction_ids: list[str | None], start: datetime,
                          end: datetime) -> set[str | None]:
        """Which of ``transaction_ids`` (None: the entries without one) have ledger entries
        outside [start, end) (or without a time) and balance over the whole ledger, per program
        and currency (debits equal credits, every entry a debit or a credit with an amount): the
        balanced transactions whose entries span months."""
        rows = self.conn.execute(
            "SELECT transaction_id FROM ("
            " SELECT transaction_id,"
            "  bool_or(created_at IS NULL OR created_at < %(start)s OR created_at >= %(end)s)"
            "   AS outside,"
            "  coalesce(sum(CASE type WHEN 'debit' THEN amount WHEN 'credit' THEN -amount END),"
            "   0) = 0 AND bool_and(type IN ('debit', 'credit') AND amount IS NOT NULL)"
            "   AS balanced"
            " FROM platform.ledger_entries"
            " WHERE transaction_id = ANY(%(ids)s) OR (%(null)s AND transaction_id IS NULL)"
            " GROUP BY transaction_id, program_id, currency) AS per_group "
            "GROUP BY transaction_id HAVING bool_or(outside) AND bool_and(balanced)",
            {"ids": [t for t in transaction_ids if t is not None],
             "null": None in transaction_ids, "start": start, "end": end}).fetchall()
        return {r["transaction_id"] for r in rows}

    def latest_check_results(self) -> dict[str, Any]:
        """The newest stored result of every check, and the newest run (as of the snapshot)."""
        run = self.conn.execute(
            "SELECT run_id::text AS run_id, started_at, finished_at, status, engine, trigger "
            "FROM recon.check_runs ORDER BY started_at DESC LIMIT 1").fetchone()
        results = self.conn.execute(
            "SELECT DISTINCT ON (name) name, status, priority, failing_rows, value, engine, "
            "       run_id::text AS run_id, created_at "
            "FROM recon.check_results ORDER BY name, created_at DESC").fetchall()
        return {"latest_run": run, "results": results}


def _copy_out_blocks(cp: psycopg.Copy, rows_per_block: int) -> Iterator[bytes]:
    """The rows of a started ``COPY … TO STDOUT``, read straight from libpq and joined into blocks.

    Why not ``iter(cp)``: psycopg runs a generator and a wait per row, which cost as much as the
    whole raw copy; here a row is one C call and one append. libpq is used non-blocking, so the
    thread sleeps in ``select`` (GIL released) when the socket is dry instead of holding the GIL
    in a blocking read while the parsing thread waits for it. The copy's end is collected here
    (the server's final result, or its error); if the consumer stops early, ``cp``'s exit still
    sees an unfinished copy and cancels it as before.
    """
    pgconn = cp.connection.pgconn
    get_copy_data, consume_input, socket = pgconn.get_copy_data, pgconn.consume_input, pgconn.socket
    rows: list = []
    append, count = rows.append, 0
    while True:
        nbytes, data = get_copy_data(1)
        if nbytes > 0:
            append(data)
            count += 1
            if count == rows_per_block:
                yield b"".join(rows)
                rows.clear()
                count = 0
        elif nbytes == 0:  # nothing buffered: wait for the server
            select.select([socket], [], [])
            consume_input()
        elif nbytes == -1:  # the copy's data is over
            break
        else:
            raise psycopg.OperationalError(pgconn.get_error_message())
    _finish_copy_out(cp)
    if rows:
        yield b"".join(rows)


def _finish_copy_out(cp: psycopg.Copy) -> None:
    """Collect the server's final result of a COPY whose data was read through libpq."""
    from psycopg.generators import fetch_many
    from psycopg.pq import ExecStatus

    results = cp.connection.wait(fetch_many(cp.connection.pgconn))
    if len(results) != 1:
        raise psycopg.ProgrammingError("the COPY was mixed with other operations")
    if results[0].status != ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(results[0], encoding=cp.connection.info.encoding)


def month_select(spec: TableSpec, columns: list[Column]) -> sql.Composed:
    """``SELECT <columns> FROM <table> WHERE <natural timestamp> in [%(start)s, %(end)s)``."""
    exprs: list[sql.Composable] = []
    for col in columns:
        ident = sql.Identifier(col.name)
        if col.name in spec.rounded and col.pg_type == "numeric":
            exprs.append(sql.SQL("round({}, 6) AS {}").format(ident, ident))
        else:
            exprs.append(ident)
    source = sql.Identifier(spec.schema, spec.table)
    if spec.via:
        key, pschema, ptable, pts = spec.via
        where = sql.SQL("{key} IN (SELECT {pkey} FROM {parent} WHERE {ts} >= %(start)s "
                        "AND {ts} < %(end)s)").format(key=sql.Identifier(key),
                                                       pkey=sql.Identifier(
                                                           spec.via_parent_key or key),
                                                       parent=sql.Identifier(pschema, ptable),
                                                       ts=sql.Identifier(pts))
    else:
        ts = sql.Identifier(spec.time_column)
        where = sql.SQL("{ts} >= %(start)s AND {ts} < %(end)s").format(ts=ts)
    return sql.SQL("SELECT {cols} FROM {source} WHERE {where}").format(
        cols=sql.SQL(", ").join(exprs), source=source, where=where)


# -- the record of exports -----------------------------------------------------------------------
def record_export_run(db: Database, run: dict[str, Any]) -> int:
    cols = ["period", "started_at", "status", "trigger", "directory", "snapshot", "total_rows",
            "total_bytes", "manifest_sha256", "replaced", "error"]
    values = [run.get(c) for c in cols]
    query = sql.SQL("INSERT INTO recon.export_runs ({}) VALUES ({}) RETURNING id").format(
        sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join([sql.Placeholder()] * len(cols)))
    try:
        with db.transaction() as conn:
            return expect_row(conn.execute(query, values).fetchone())["id"]
    except psycopg.errors.UndefinedTable:
        raise ExportError("the table recon.export_runs does not exist; run `sge-recon db init` to "
                          "migrate the recon schema") from None


def export_runs(db: Database, period: str | None = None, limit: int = 100) -> list[dict]:
    return db.fetch_all(
        "SELECT id, period, started_at, finished_at, status, trigger, directory, snapshot, "
        "total_rows, total_bytes, manifest_sha256, replaced, error FROM recon.export_runs "
        "WHERE %(period)s::text IS NULL OR period = %(period)s "
        "ORDER BY finished_at DESC LIMIT %(limit)s", {"period": period, "limit": limit})


def export_runs_ready(db: Database) -> bool:
    row = db.fetch_one("SELECT to_regclass('recon.export_runs') IS NOT NULL AS ok")
    return bool(row and row["ok"])


# -- the audit database (DuckDB over the exported Parquet files): audit_db.py -------------------
from .audit_db import (  # noqa: E402,F401 - the exports' data access, one import for its callers
    AUDIT_DB_STORAGE_VERSION, audit_db_problems, audit_view_names, audit_views, bad_ledger_types,
    create_audit_db, decimal_scale, in_folder, journal_entries, ledger_totals, open_audit_db, orphans,
    parquet_row_count, rows_outside, unbalanced)
from .audit_bounded import (bounded_audit_db, steps_within_bound,  # noqa: E402,F401
                            unbalanced_within_bound)
