"""Data access of the export benchmarks (``sge-recon bench``, ``replica-bench``,
``scripts/bench_export.py``): the floors the export is measured against (a raw binary COPY of the
same month, a naive pandas export), the ledger's months, and a synthetic ledger loader that writes
the reference platform's tables (a scratch database only). Moved out of the product's
``sge_recon.db.exports``; it reuses its snapshot and month SELECT."""

from __future__ import annotations

from datetime import datetime

from psycopg import sql

from sge_recon.db import Database
from sge_recon.db.exports import Snapshot, month_select


# -- ---------------------------------------------------
def raw_copy_binary(db: Database, specs, start: datetime, end: datetime) -> dict[str, int]:
    """The floor: ``COPY (same SELECT) TO STDOUT (FORMAT binary)`` of every table, bytes discarded,
    in one snapshot like the export. Returns rows and bytes."""
    rows = size = 0
    with Snapshot(db) as snap:
        snap.identity()
        for spec in specs:
            spec = snap.resolved(spec)
            columns = columns_of(snap, spec)
            if not columns:
                continue
            statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(
                month_select(spec, columns))
            with snap.conn.cursor() as cur:
                with cur.copy(statement, {"start": start, "end": end}) as cp:
                    for chunk in cp:
                        size += len(chunk)
                rows += cur.rowcount
    return {"rows": rows, "bytes": size}


def naive_pandas_export(db: Database, specs, start: datetime, end: datetime, folder) -> int:
    """The naive baseline: ``pandas.read_sql`` of each table, then ``DataFrame.to_parquet``.
    (Money comes back as Python Decimal objects in an object column or as float: the very thing the
    real export avoids.) Returns the row count."""
    import warnings

    import pandas as pd

    rows = 0
    with Snapshot(db) as snap:
        snap.identity()
        for spec in specs:
            spec = snap.resolved(spec)
            columns = columns_of(snap, spec)
            if not columns:
                continue
            query = month_select(spec, columns).as_string(snap.conn)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas prefers SQLAlchemy; a DBAPI conn works
                frame = pd.read_sql(query, snap.conn, params={"start": start, "end": end})
            frame.to_parquet(f"{folder}/{spec.name}.parquet")
            rows += len(frame)
    return rows


def ledger_rows_per_month(db: Database) -> list[dict]:
    return db.fetch_all(
        "SELECT to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS period, "
        "count(*) AS rows FROM platform.ledger_entries GROUP BY 1 ORDER BY 1")


def synthetic_ledger(db: Database, rows: int, start: datetime, end: datetime) -> None:
    """Set-based filler when the simulator is not wanted: ``rows`` balanced entries (pairs) over
    three programs, spread evenly over [start, end)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO public.programs (id, name, currency, treasury_address, "
            " direct_commission_rate, parent_commission_rate) "
            "SELECT 'bench_' || g, 'Bench ' || g, 'USD', '0xbench' || g, 0.01, 0.005 "
            "FROM generate_series(1, 3) g ON CONFLICT DO NOTHING")
        conn.execute(
            "INSERT INTO public.ledger_entries (program_id, transaction_id, intent_id, account, "
            " type, amount, currency, created_at) "
            "SELECT 'bench_' || (1 + t %% 3), 'btx_' || t, 'bint_' || t, "
            "       CASE side WHEN 0 THEN 'treasury' ELSE 'user:bu_' || (t %% 50000) END, "
            "       CASE side WHEN 0 THEN 'debit' ELSE 'credit' END, "
            "       ((t::bigint * 7919) %% 1000000) / 100.0 + 0.01, 'USD', "
            "       %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz) "
            "         * (t::float8 / %(pairs)s) "
            "FROM generate_series(0, %(pairs)s - 1) t CROSS JOIN generate_series(0, 1) side",
            {"start": start, "end": end, "pairs": rows // 2})
        conn.execute("ANALYZE public.ledger_entries")


def columns_of(snap: Snapshot, spec) -> list:
    from sge_recon.exports.tables import Column

    return [Column(**c) for c in snap.columns(spec.schema, spec.table)]
