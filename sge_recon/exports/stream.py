"""COPY … (FORMAT csv) rows -> Arrow -> Parquet row groups, in bounded memory.

The CSV reader gets an explicit schema: left to guess, both pyarrow's and DuckDB's readers turn
``numeric`` into float. Money therefore stays ``decimal128`` from the server's text to the file.
PostgreSQL's CSV writes NULL as an unquoted empty field and the empty string as ``""``; the reader
options below keep the two apart.

Two readers, the same files (same options, row groups of ``ROW_GROUP_ROWS``, control totals):

* ``csv_file_to_parquet`` (the fast path): a ``psql`` child in the export's snapshot writes the
  COPY into a pipe (db/psql_copy.py); pyarrow's streaming reader pulls ``STREAM_BLOCK_BYTES`` at a
  time and parses in C++ with the GIL released: no Python call per row anywhere.
* ``copy_to_parquet`` (the fallback: no psql, no snapshot export, a row longer than a block): the
  COPY protocol hands over one row at a time, a Python-level loop (the data-access layer keeps it
  to one libpq call per row and joins the rows into blocks in C). The calling thread runs only
  that loop; one worker parses each block (pyarrow, GIL released), sums the control totals and
  writes row groups. A Python-busy thread beside the reader would make it wait for the GIL at
  every row (the "convoy" that halved throughput when pyarrow pulled from a Python file object
  fed row by row). Blocks hold whole rows, so a quoted newline never straddles two parses. At
  most ``MAX_QUEUED`` blocks wait.
"""

from __future__ import annotations

import contextlib
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import ExportError
from .tables import Column

if TYPE_CHECKING:
    import pyarrow as pa

ROW_GROUP_ROWS = 128 * 1024     # rows per Parquet row group: big enough for scans, small in memory
ROWS_PER_BLOCK = 16 * 1024      # rows parsed at a time (in-process reader)
STREAM_BLOCK_BYTES = 1 << 20    # bytes parsed at a time (psql reader)
MAX_QUEUED = 2                  # blocks waiting for the worker: bounds memory
COMPRESSION = "zstd"
# Dictionary encoding pays off for repetitive columns and costs 3-4x the write time on unique ones
# (ids, hashes), so it is asked for by name.
DICTIONARY_COLUMNS = frozenset({
    "program_id", "currency", "type", "status", "event_type", "kind", "priority", "engine",
    "result", "method", "actor", "operator", "action", "approver", "name", "trigger", "level",
    "account", "affiliate_id", "endpoint_id", "from_address", "to_address"})


def arrow_type(column: Column) -> "pa.DataType":
    import pyarrow as pa

    t = column.pg_type
    if t == "numeric":
        return _decimal_type(column.precision, column.scale)
    simple = {
        "smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(),
        "boolean": pa.bool_(), "real": pa.float32(), "double precision": pa.float64(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "timestamp without time zone": pa.timestamp("us"), "date": pa.date32(),
    }
    return simple.get(t, pa.string())  # text, json(b), uuid, arrays, …: their text form


def _decimal_type(precision: int | None, scale: int | None) -> "pa.DataType":
    """numeric(p,s) as the decimal128 that holds every value of it exactly.

    Unconstrained numeric: decimal128(38,6), exact or the export fails. A negative scale
    (numeric(10,-2): whole numbers of p - s digits) and a scale over the precision (numeric(3,5):
    fractions below 10^(p-s)) map to the decimal128 that holds them. A type wider than 38 digits
    (numeric(50,10)) has no decimal128: it is exported as its exact decimal text (a Parquet
    string; the manifest lists each column's pg_type and parquet_type), never rounded, never a
    float. DuckDB would read a wider Parquet decimal as a DOUBLE, and pyarrow's CSV reader cannot
    write decimal256 at all."""
    import pyarrow as pa

    if precision is None:
        return pa.decimal128(38, 6)
    scale = scale or 0
    digits, places = max(precision, scale) - min(scale, 0), max(scale, 0)
    if digits > 38:
        return pa.string()
    return pa.decimal128(digits, places)


def arrow_schema(columns: list[Column], metadata: dict[str, str] | None = None) -> "pa.Schema":
    import pyarrow as pa

    fields = [pa.field(c.name, arrow_type(c), metadata={"pg_type": c.pg_type}) for c in columns]
    return pa.schema(fields, metadata=metadata)


class RowTooLarge(Exception):
    """A row longer than ``STREAM_BLOCK_BYTES`` (pyarrow's streaming reader cannot parse it):
    the caller exports that table again through ``copy_to_parquet``, which has no such limit."""


class _RowGroups:
    """Collects parsed rows and writes them as row groups of exactly ``ROW_GROUP_ROWS`` rows (the
    last one shorter), whatever the size of the pieces that arrive."""

    def __init__(self, writer, schema: "pa.Schema",
                 on_table: Callable[["pa.Table"], None] | None):
        self.writer, self.schema, self.on_table = writer, schema, on_table
        self.pending: list = []
        self.pending_rows = 0

    def add(self, piece) -> int:
        """Add a ``pa.Table`` or ``pa.RecordBatch``; returns its row count."""
        self.pending.append(piece)
        self.pending_rows += piece.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self.flush(whole_groups_only=True)
        return piece.num_rows

    def flush(self, whole_groups_only: bool = False) -> None:
        import pyarrow as pa

        if not self.pending:
            return
        pieces = [p if isinstance(p, pa.Table) else pa.Table.from_batches([p])
                  for p in self.pending]
        table = pa.concat_tables(pieces).cast(self.schema)  # adds the field metadata
        self.pending, self.pending_rows = [], 0
        offset = 0
        while table.num_rows - offset >= ROW_GROUP_ROWS or (
                not whole_groups_only and offset < table.num_rows):
            group = table.slice(offset, ROW_GROUP_ROWS)
            offset += group.num_rows
            if self.on_table is not None:
                self.on_table(group)
            self.writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
        if offset < table.num_rows:
            rest = table.slice(offset)
            self.pending, self.pending_rows = [rest], rest.num_rows


def _csv_options(schema: "pa.Schema", block_size: int, use_threads: bool):
    """Reader options that keep PostgreSQL's CSV exact: explicit types (money as decimal), NULL
    (unquoted empty) apart from the empty string (``""``), ``t``/``f`` booleans, quoted newlines."""
    import pyarrow.csv as pcsv

    return dict(
        read_options=pcsv.ReadOptions(column_names=schema.names, block_size=block_size,
                                      use_threads=use_threads),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types=schema, true_values=["t"], false_values=["f"], null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=False))


class _ParquetSink:
    """Parses blocks of whole CSV rows and writes row groups; used by one worker thread only."""

    def __init__(self, writer, schema: "pa.Schema",
                 on_table: Callable[["pa.Table"], None] | None):
        self.groups = _RowGroups(writer, schema, on_table)
        self.options = _csv_options(schema, block_size=1 << 30, use_threads=False)

    def add(self, block: bytes) -> int:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        return self.groups.add(pcsv.read_csv(pa.py_buffer(block), **self.options))

    def flush(self) -> None:
        self.groups.flush()


@contextlib.contextmanager
def _parquet_writer(schema: "pa.Schema", path: Path) -> Iterator:
    """The table's Parquet writer; a value that cannot be converted exactly fails the export."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    dictionary = [n for n in schema.names if n in DICTIONARY_COLUMNS]
    try:
        with pq.ParquetWriter(path, schema, compression=COMPRESSION,
                              use_dictionary=dictionary or False) as writer:
            yield writer
    except pa.ArrowInvalid as exc:
        # the streaming reader adds "Row #n: ", counted within its block: no use to anyone
        reason = re.sub(r"Row #\d+: ", "", str(exc))
        where, hint = _conversion_hint(reason, schema)
        raise ExportError(f"{path.stem}{where}: a value could not be converted exactly "
                          f"({reason}){hint}; nothing was written") from None


def _conversion_hint(reason: str, schema: "pa.Schema") -> tuple[str, str]:
    """(".column", "; why and what to do") for a CSV conversion error, as far as it tells."""
    import pyarrow as pa

    found = re.search(r"CSV column #(\d+)", reason)
    if not found or int(found.group(1)) >= len(schema):
        return "", ""
    field = schema.field(int(found.group(1)))
    where = f".{field.name}"
    declared = (field.metadata or {}).get(b"pg_type", b"numeric").decode()
    endless = re.search(r"invalid value '([+-]?infinity)'", reason)
    if endless and (pa.types.is_timestamp(field.type) or pa.types.is_date(field.type)):
        return where, (f"; {field.name} ({declared}) holds '{endless.group(1)}', which a Parquet "
                       f"{'date' if pa.types.is_date(field.type) else 'timestamp'} cannot hold "
                       "and the export does not change: on the platform, give that row a real "
                       f"{field.name} (NULL where it means 'never'), then export again")
    if not pa.types.is_decimal(field.type):
        return where, ""
    p, s = field.type.precision, field.type.scale
    special = re.search(r"The string '([+-]?(?:NaN|Infinity))'", reason)
    if special:  # PostgreSQL's numeric NaN and (14+) infinities: no decimal128 holds them
        text = special.group(1)
        what = "not a number (NaN)" if "NaN" in text else f"infinite ({text})"
        return where, (f"; {field.name} ({declared}) holds a value that is {what}, which "
                       f"Parquet's decimal({p},{s}) cannot hold and the export does not change: "
                       "platform_data_integrity names the row; correct it on the platform (the "
                       "ledger: a correcting journal), then export again")
    value = re.search(r"Error converting '([^']*)'", reason)
    whole = value.group(1).lstrip("+-").split(".")[0].lstrip("0") if value else ""
    if len(whole) > p - s:
        return where, (f"; {field.name} ({declared}, exported as decimal({p},{s})) holds a value "
                       f"with {len(whole)} digits before the decimal point, more than the "
                       f"{p - s} it can hold exactly: money must fit numeric(38,6); give the "
                       "column a type that holds its values (numeric(p,s), p <= 38) or correct "
                       "the value")
    return where, (f"; {field.name} ({declared}, exported as decimal({p},{s})) holds a value "
                   f"with more than {s} decimal places: money must have at most {s} decimal "
                   "places (numeric(38,6)); give the column a type that states its scale "
                   "(numeric(p,s), p <= 38) or correct the value")


def copy_to_parquet(blocks: Iterator[bytes], schema: "pa.Schema", path: Path, *,
                    on_table: Callable[["pa.Table"], None] | None = None,
                    on_rows: Callable[[int], None] | None = None) -> int:
    """Stream blocks of whole CSV rows (``ROWS_PER_BLOCK`` each, as ``Snapshot.copy_csv`` yields
    them) into a Parquet file.

    ``on_table`` sees every row group before it is written (control totals); ``on_rows`` gets the
    running row count. Returns the number of rows written.
    """
    from concurrent.futures import ThreadPoolExecutor

    written = 0
    with _parquet_writer(schema, path) as writer, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sge-export") as worker:
        sink = _ParquetSink(writer, schema, on_table)
        queued: deque = deque()
        for block in blocks:
            queued.append(worker.submit(sink.add, block))
            while len(queued) > MAX_QUEUED or (queued and queued[0].done()):
                written += queued.popleft().result()
                if on_rows is not None:
                    on_rows(written)
        while queued:
            written += queued.popleft().result()
        worker.submit(sink.flush).result()
    if on_rows is not None:
        on_rows(written)
    return written


def csv_file_to_parquet(source: IO[bytes], schema: "pa.Schema", path: Path, *,
                        on_table: Callable[["pa.Table"], None] | None = None,
                        on_rows: Callable[[int], None] | None = None) -> int:
    """Stream a CSV file (a pipe that ``psql`` fills, as ``Snapshot.copy_csv_piped`` opens it),
    read to its end, into a Parquet file: pyarrow's streaming reader pulls ``STREAM_BLOCK_BYTES``
    at a time (one Python call per block, not per row) and parses them in C++ with the GIL
    released. Same options, row groups, ``on_table``/``on_rows`` and result as
    ``copy_to_parquet``. Raises ``RowTooLarge`` (after ``on_table`` may have seen some row
    groups) when one row exceeds a block.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    written = 0
    with _parquet_writer(schema, path) as writer:
        groups = _RowGroups(writer, schema, on_table)
        try:
            reader = pcsv.open_csv(pa.PythonFile(source, mode="r"),
                                   **_csv_options(schema, STREAM_BLOCK_BYTES, use_threads=True))
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" not in str(exc):
                raise
            reader = ()  # no rows: a file with the schema and no row group, as copy_to_parquet
        try:
            for batch in reader:
                written += groups.add(batch)
                if on_rows is not None:
                    on_rows(written)
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc):
                raise RowTooLarge(str(exc)) from None
            raise
        groups.flush()
    return written
