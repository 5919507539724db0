"""COPY … (FORMAT csv) bytes -> Arrow record batches -> Parquet row groups, in bounded memory.

The CSV reader gets an explicit schema: left to guess, both pyarrow's and DuckDB's readers turn
``numeric`` into float. Money therefore stays ``decimal128`` from the server's text to the file.
PostgreSQL's CSV writes NULL as an unquoted empty field and the empty string as ``""``; the reader
options below keep the two apart.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ExportError
from .tables import Column

if TYPE_CHECKING:
    import pyarrow as pa

ROW_GROUP_ROWS = 256 * 1024     # rows per Parquet row group: big enough for scans, small in memory
READ_BLOCK = 4 << 20            # bytes the CSV reader parses at a time
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
        if column.precision is None:  # unconstrained: exact at 6 places, or the export fails
            return pa.decimal128(38, 6)
        if column.precision > 38:
            return pa.decimal256(column.precision, column.scale or 0)
        return pa.decimal128(column.precision, column.scale or 0)
    simple = {
        "smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(),
        "boolean": pa.bool_(), "real": pa.float32(), "double precision": pa.float64(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "timestamp without time zone": pa.timestamp("us"), "date": pa.date32(),
    }
    return simple.get(t, pa.string())  # text, json(b), uuid, arrays, …: their text form


def arrow_schema(columns: list[Column], metadata: dict[str, str] | None = None) -> "pa.Schema":
    import pyarrow as pa

    fields = [pa.field(c.name, arrow_type(c), metadata={"pg_type": c.pg_type}) for c in columns]
    return pa.schema(fields, metadata=metadata)


class ChunkStream(io.RawIOBase):
    """A readable file over an iterator of byte chunks (one COPY row each), served in blocks."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._rest = b""
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def is_empty(self) -> bool:
        """Peek: does the stream hold no data at all?"""
        if not self._rest:
            self._rest = bytes(next(self._chunks, b""))
        return not self._rest

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        parts, have = [self._rest], len(self._rest)
        for chunk in self._chunks:
            parts.append(chunk)
            have += len(chunk)
            if have >= size:
                break
        data = b"".join(parts)
        self._rest = data[size:]
        data = data[:size]
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer) -> int:  # pragma: no cover - pyarrow calls read()
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def csv_batches(stream: ChunkStream, schema: "pa.Schema") -> Iterator["pa.RecordBatch"]:
    import pyarrow.csv as pcsv

    if stream.is_empty():
        return
    reader = pcsv.open_csv(
        stream,
        read_options=pcsv.ReadOptions(column_names=schema.names, block_size=READ_BLOCK),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types=schema, true_values=["t"], false_values=["f"], null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=False))
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def write_parquet(batches: Iterator["pa.RecordBatch"], schema: "pa.Schema", path: Path,
                  on_batch: Callable[["pa.RecordBatch"], None] | None = None) -> int:
    """Write the batches to ``path`` in row groups of ~ROW_GROUP_ROWS; return the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, pending, pending_rows = 0, [], 0
    dictionary = [n for n in schema.names if n in DICTIONARY_COLUMNS]
    with pq.ParquetWriter(path, schema, compression=COMPRESSION,
                          use_dictionary=dictionary or False) as writer:
        def flush() -> None:
            nonlocal pending, pending_rows
            if pending:
                writer.write_table(pa.Table.from_batches(pending, schema=schema),
                                   row_group_size=ROW_GROUP_ROWS)
                pending, pending_rows = [], 0

        try:
            for batch in batches:
                if on_batch is not None:
                    on_batch(batch)
                pending.append(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
                pending_rows += batch.num_rows
                rows += batch.num_rows
                if pending_rows >= ROW_GROUP_ROWS:
                    flush()
            flush()
        except pa.ArrowInvalid as exc:
            raise ExportError(f"{path.stem}: a value does not fit its exact type ({exc}); money "
                              "must have at most 6 decimal places") from None
    return rows
