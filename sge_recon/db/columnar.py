"""Data access for the columnar engine (``sge-recon check --engine duckdb``): the ledger as the
exported Parquet files hold it plus the live part that no proven export covers, read from
PostgreSQL into Arrow, and the ledger checks' DuckDB SQL run over both.

An export is used for a month only when PostgreSQL's rows of that month, read now in the same
snapshot as the live part, have the same count and fingerprint as the Parquet file: then the
DuckDB engine sees exactly the rows the PostgreSQL engine would see. A month whose rows changed
since its export (an update, a delete, a late insert) is read live instead.

The fingerprint is computed the same way on both sides: md5 of a canonical text of each row (the
six columns the ledger checks read, a unit separator between them, each text value prefixed by
its length in bytes and NULL as a record separator, so that the text decodes to one row only: a
value holding the separator or the NULL mark — 't1' + chr(31) + 'x', chr(30) — cannot make two
different rows read alike and a changed month pass as its export), its first 64 bits as a signed integer summed per month
(order-independent, exact; PostgreSQL's numeric sum, DuckDB's HUGEINT): equal counts and fingerprints mean the same multiset of the rows as the checks see
them. (Columns no served check reads — id, intent_id, created_at within the month — may differ
without changing a result; ledger_tamper, which reads them, runs on PostgreSQL.)
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import ReconError, first_line
from .connection import Database
from .duckdb_paths import private_spill

# the columns the ledger checks read, in the order of the DuckDB view (amount is money)
SWEEP_COLUMNS = ("program_id", "transaction_id", "account", "type", "amount", "currency")
MONEY_TYPE = "decimal128(38, 6)"   # the contract's numeric(38,6), as the exporter writes it
COPY_BLOCK = 1 << 20
FINGERPRINT = 3   # the fingerprint's definition below; a change invalidates cached ones

# PostgreSQL side: per UTC month of created_at within [lo, hi), the count and the fingerprint.
def _pg_field(column: str) -> str:
    return f"coalesce(octet_length({column})::text || ':' || {column}, chr(30))"


_PG_ROW_TEXT = ("concat_ws(chr(31), " + ", ".join(
    "coalesce(amount::text, chr(30))" if c == "amount" else _pg_field(c)
    for c in ("program_id", "transaction_id", "account", "type", "amount", "currency")) + ")")
_PG_MONTHS = f"""
SELECT to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS period,
       count(*) AS entries,
       -- the text-to-bit cast costs more than md5: one cast of the first 64 bits, not two slices
       sum(('x' || md5({_PG_ROW_TEXT}))::bit(64)::bigint) AS h
FROM (SELECT created_at, program_id, transaction_id, account, type, amount, currency
      FROM platform.ledger_entries
      WHERE created_at >= %(lo)s AND created_at < %(hi)s) AS hashed
GROUP BY 1"""

# DuckDB side: the same text, the same slices, over one Parquet file.
def _duck_field(column: str) -> str:
    return f"coalesce(strlen({column})::VARCHAR || ':' || {column}, chr(30))"


_DUCK_ROW_TEXT = ("concat_ws(chr(31), " + ", ".join(
    "coalesce(amount::VARCHAR, chr(30))" if c == "amount" else _duck_field(f'"{c}"')
    for c in ("program_id", "transaction_id", "account", "type", "amount", "currency")) + ")")
_DUCK_FILE = f"""
SELECT count(*) AS entries,
       coalesce(sum(CASE WHEN u >= 9223372036854775808 THEN u::HUGEINT - 18446744073709551616
                         ELSE u::HUGEINT END), 0) AS h
FROM (SELECT ('0x' || substr(md5({_DUCK_ROW_TEXT}), 1, 16))::UBIGINT AS u
      FROM read_parquet(?))"""

_COLLATION = """
SELECT d.datcollate, d.datlocprovider,
       array(SELECT DISTINCT c.collname::text
             FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
             WHERE a.attrelid IN (to_regclass('platform.ledger_entries'),
                                  to_regclass('platform.commissions'))
               AND a.attnum > 0 AND NOT a.attisdropped AND c.collname <> 'default'
            ) AS column_collations
FROM pg_database d
WHERE d.datname = current_database()"""
# collations whose text order is the byte order of UTF-8 (what DuckDB sorts by)
BYTEWISE = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic", "pg_c_utf8"})

_COMMISSIONS = """
SELECT affiliate_id, sum(amount)::text AS total
FROM platform.commissions
GROUP BY affiliate_id"""


class SweepUnavailable(ReconError):
    """The live part of the sweep could not be read (the engine then runs the checks on
    PostgreSQL)."""


class SweepOverflow(Exception):
    """A sum does not fit DuckDB's DECIMAL(38) (PostgreSQL's numeric has no such bound)."""


class SweepQueryError(Exception):
    """The check's DuckDB SQL failed."""


@dataclass(frozen=True)
class MonthFile:
    """One exported month's ledger file and its fingerprint (from the file itself)."""

    period: str
    start: datetime
    end: datetime
    path: Path
    fingerprint: tuple[int, int]           # entries, sum of the rows' 64-bit hashes


@dataclass
class LiveLedger:
    """What PostgreSQL gave in one snapshot: which exported months still match it, the rows no
    proven month covers (Arrow), the commission totals per affiliate, the text order."""

    proven: list[MonthFile]
    changed: list[str]                      # exported months whose rows differ now
    tail: Any                               # pyarrow.Table of SWEEP_COLUMNS
    commission_totals: list[tuple[str | None, str]]
    bytewise_order: bool
    collation: str
    fetch_seconds: dict[str, float] = field(default_factory=dict)


def file_fingerprint(path: Path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        row = con.execute(_DUCK_FILE, [str(path)]).fetchone()
        assert row is not None  # an aggregate without GROUP BY always yields one row
        entries, h = row
        return int(entries), int(h)
    finally:
        con.close()


def parquet_money_type(path: Path) -> str | None:
    """The Arrow type of the ledger file's ``amount`` column (None when it has none)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    return str(schema.field("amount").type) if "amount" in schema.names else None


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def read_live(db: Database, months: list[MonthFile]) -> LiveLedger:
    """In ONE repeatable-read snapshot: prove each exported month against PostgreSQL's rows of
    that month, then read every row outside the proven months (the tail, by the created_at
    index), the commission totals and the ledger's text collation."""
    import time

    import psycopg
    import pyarrow as pa

    timings: dict[str, float] = {}
    conn = db.connect(read_only=True)
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot
        with conn.transaction():
            conn.execute("SET LOCAL TimeZone = 'UTC'")
            clock = time.perf_counter()
            proven, changed = _prove(conn, months)
            timings["prove_s"] = time.perf_counter() - clock
            clock = time.perf_counter()
            tail = _tail(conn, [(m.start, m.end) for m in proven])
            timings["tail_s"] = time.perf_counter() - clock
            totals = [(r["affiliate_id"], r["total"]) for r in conn.execute(_COMMISSIONS)]
            row = conn.execute(_COLLATION).fetchone()
    except psycopg.Error as exc:
        raise SweepUnavailable(f"reading the live ledger from {db.where} failed: "
                               f"{first_line(exc)}") from None
    except pa.ArrowInvalid as exc:  # e.g. a NaN amount, or one with more than 6 decimals
        raise SweepUnavailable(f"the live ledger does not fit the sweep's schema (amount "
                               f"decimal(38,6): a finite number, at most 6 decimals; "
                               f"platform_data_integrity names NaN amounts): "
                               f"{first_line(exc)}") from None
    finally:
        conn.close()
    row = row or {}
    # the text order of the database (libc or builtin provider; ICU never sorts by bytes) and
    # of any column that names its own collation
    collations = [row.get("datcollate") or "unknown", *(row.get("column_collations") or [])]
    bytewise = row.get("datlocprovider") in ("c", "b") and all(c in BYTEWISE for c in collations)
    collation = ", ".join(c for c in collations if c not in BYTEWISE) or collations[0]
    return LiveLedger(proven, changed, tail, totals, bytewise, collation, timings)


def _prove(conn, months: list[MonthFile]) -> tuple[list[MonthFile], list[str]]:
    if not months:
        return [], []
    lo, hi = min(m.start for m in months), max(m.end for m in months)
    live = {r["period"]: (int(r["entries"]), int(r["h"]))
            for r in conn.execute(_PG_MONTHS, {"lo": lo, "hi": hi})}
    proven = [m for m in months if live.get(m.period, (0, 0)) == m.fingerprint]
    return proven, [m.period for m in months if m not in proven]


def _tail(conn, covered: list[tuple[datetime, datetime]]):
    """Every ledger row whose created_at is outside the covered ranges (NULL included), as an
    Arrow table; the ranges' complement is a few index ranges of created_at."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    where, params = _outside(covered)
    names = ", ".join(SWEEP_COLUMNS)
    schema = pa.schema([(c, pa.decimal128(38, 6) if c == "amount" else pa.string())
                        for c in SWEEP_COLUMNS])
    cur = conn.cursor()
    with cur.copy(f"COPY (SELECT {names} FROM platform.ledger_entries WHERE {where}) "
                  "TO STDOUT (FORMAT csv)", params) as copy:
        stream = _CopyStream(_copy_blocks(copy))
        if stream.empty():
            return schema.empty_table()
        reader = pcsv.open_csv(
            stream, read_options=pcsv.ReadOptions(column_names=list(SWEEP_COLUMNS),
                                                             block_size=COPY_BLOCK),
            # a quoted id may hold a line break: without this a block cut inside it stops the
            # reader ("CSV parser got out of sync with chunker") and the sweep falls back
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(column_types=schema, strings_can_be_null=True,
                                                quoted_strings_can_be_null=False,
                                                null_values=[""]))
        batches = list(reader)
    return pa.Table.from_batches(batches, schema=schema)


def _outside(covered: list[tuple[datetime, datetime]]) -> tuple[str, list[Any]]:
    ranges: list[list[datetime]] = []
    for start, end in sorted(covered):
        if ranges and ranges[-1][1] >= start:
            ranges[-1][1] = max(ranges[-1][1], end)
        else:
            ranges.append([start, end])
    if not ranges:
        return "true", []
    parts, params = ["created_at IS NULL", "created_at < %s"], [ranges[0][0]]
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        parts.append("(created_at >= %s AND created_at < %s)")
        params += [end, start]
    parts.append("created_at >= %s")
    params.append(ranges[-1][1])
    return "(" + " OR ".join(parts) + ")", params


def _copy_blocks(copy, block_bytes: int = COPY_BLOCK) -> Iterator[bytes]:
    """A started ``COPY … TO STDOUT``'s rows joined into blocks of about ``block_bytes``, read
    straight from libpq (psycopg's iteration runs a generator per row, as costly as the copy
    itself); the socket is waited on with ``select`` (GIL released) when dry."""
    import select

    import psycopg
    from psycopg.generators import fetch_many
    from psycopg.pq import ExecStatus

    pgconn = copy.connection.pgconn
    get_copy_data, consume_input = pgconn.get_copy_data, pgconn.consume_input
    rows: list[bytes] = []
    size = 0
    while True:
        nbytes, data = get_copy_data(1)
        if nbytes > 0:
            rows.append(data)
            size += nbytes
            if size >= block_bytes:
                yield b"".join(rows)
                rows.clear()
                size = 0
        elif nbytes == 0:
            select.select([pgconn.socket], [], [])
            consume_input()
        elif nbytes == -1:
            break
        else:
            raise psycopg.OperationalError(pgconn.get_error_message())
    results = copy.connection.wait(fetch_many(pgconn))
    if len(results) != 1 or results[0].status != ExecStatus.COMMAND_OK:
        raise psycopg.OperationalError("the COPY of the live ledger did not complete")
    if rows:
        yield b"".join(rows)


class _CopyStream(io.RawIOBase):
    """A file-like view of COPY blocks for the pyarrow CSV reader."""

    def __init__(self, blocks: Iterator[bytes]):
        self._blocks = blocks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def empty(self) -> bool:
        """Whether the COPY gave no bytes at all (the CSV reader refuses an empty input)."""
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return True
            self._pending = memoryview(block)
        return False

    def readinto(self, buffer) -> int:
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._pending = memoryview(block)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]  # a view: no copy of the rest
        return n


class ColumnarSweep:
    """A DuckDB connection with the view ``ledger_entries`` (the proven months' Parquet files
    and the live tail) and the table ``commission_totals`` (per affiliate, from PostgreSQL)."""

    def __init__(self, live: LiveLedger, threads: int | None = None,
                 memory_limit: str | None = None):
        import duckdb

        self.live = live
        self.memory_limit = memory_limit
        self.con = duckdb.connect(":memory:")
        self._spill = private_spill(self.con)
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            # unbounded, DuckDB took 1.14 GB at 6 M entries (80 % of the machine's memory is its
            # default) beside the platform; bounded it spills. Insertion order stays preserved:
            # measure() needs it
            self.con.execute("SET memory_limit = ?", [memory_limit])
            read = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
            self.memory_limit = read[0] if read else memory_limit  # as DuckDB reads it: 256.0 MiB
        # PostgreSQL's NULL order: last ascending, first descending
        self.con.execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'")
        self.con.register("ledger_tail", live.tail)
        names = ", ".join(f'"{c}"' for c in SWEEP_COLUMNS)
        parts = [f"SELECT {names} FROM ledger_tail"]
        if live.proven:
            files = ", ".join("'" + str(m.path).replace("'", "''") + "'" for m in live.proven)
            parts.insert(0, f"SELECT {names} FROM read_parquet([{files}])")
        self.con.execute("CREATE VIEW ledger_entries AS " + " UNION ALL ".join(parts))
        self._commissions_fit = all(_fits(total) for _, total in live.commission_totals)
        totals = _commission_table(live.commission_totals if self._commissions_fit else [])
        self.con.register("commission_totals", totals)

    def close(self) -> None:
        self.con.close()
        self._spill.cleanup()  # after the connection: DuckDB's files in it are closed

    def __enter__(self) -> "ColumnarSweep":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def measure(self, sql: str, params: Mapping[str, Decimal | int], sample_limit: int,
                needs_commissions: bool = False) -> tuple[int, list[dict]]:
        """The true count of the check's rows and the first ``sample_limit`` in its order."""
        import duckdb

        if needs_commissions and not self._commissions_fit:
            raise SweepOverflow("a commission total has more than 38 digits")
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        try:
            self.con.execute("DROP TABLE IF EXISTS check_rows")
            # CREATE TABLE … AS keeps the query's ORDER BY as insertion order, and scans
            # return insertion order (DuckDB's preserve_insertion_order, on by default)
            self.con.execute(f"CREATE TEMP TABLE check_rows AS {sql}", used)
            counted = self.con.execute("SELECT count(*) FROM check_rows").fetchone()
            assert counted is not None  # count(*) always yields one row
            count = counted[0]
            cur = self.con.execute("SELECT * FROM check_rows LIMIT ?", [sample_limit])
            columns = [d[0] for d in cur.description]
            rows = [dict(zip(columns, r)) for r in cur.fetchall()]
        except duckdb.OutOfRangeException as exc:
            raise SweepOverflow(first_line(exc)) from None
        except duckdb.OutOfMemoryException as exc:
            raise SweepQueryError(f"DuckDB ran out of memory within COLUMNAR_MEMORY_LIMIT "
                                  f"({self.memory_limit or 'none'}): raise it ({first_line(exc)})"
                                  ) from None
        except duckdb.Error as exc:
            raise SweepQueryError(first_line(exc)) from None
        return int(count), rows


def _commission_table(totals: Sequence[tuple[str | None, str | None]]):
    import pyarrow as pa

    return pa.table({"affiliate_id": pa.array([a for a, _ in totals], pa.string()),
                     "total": pa.array([None if t is None else Decimal(t) for _, t in totals],
                                       pa.decimal128(38, 6))})


def _fits(total: str | None) -> bool:
    """A commission total DuckDB's DECIMAL(38, 6) holds exactly (at most 6 decimals, 32
    integer digits)."""
    if total is None:
        return True
    sign, digits, exponent = Decimal(total).as_tuple()
    return isinstance(exponent, int) and exponent >= -6 and len(digits) + exponent <= 32
