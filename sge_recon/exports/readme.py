"""The README.txt of an export folder: how to verify it and read it with plain DuckDB."""

from __future__ import annotations

from .period import Period


def readme_text(period: Period) -> str:
    return f"""sge-recon audit export of {period.label} (UTC month {period.start:%Y-%m-%d} to \
{period.end:%Y-%m-%d}, end exclusive)

Files: one Parquet file per table (money as exact decimals, timestamps in UTC), audit.duckdb (views
over those files), manifest.json (rows, bytes and sha256 of every file, control totals per program
and currency, the snapshot it was read from, the check results at export time).

Verify offline (no database needed), from any folder:
    sge-recon export verify path/to/{period.label}

With plain DuckDB (1.4 LTS or newer: audit.duckdb is written in the 1.4 storage format): the views
read the Parquet files by relative paths, so run DuckDB inside this folder (or SET
file_search_path = 'path/to/{period.label}' first, from a folder that is not another export:
DuckDB looks in the working directory before the search path):
    cd path/to/{period.label} && duckdb -readonly audit.duckdb
    SELECT * FROM trial_balance;            -- per program and currency
    SELECT * FROM unbalanced_transactions;  -- empty, but for spanning_transactions
    SELECT * FROM commissions_by_affiliate;  -- total = accrued + payable + paid + cancelled
Compare every file with manifest.json: sha256sum *.parquet audit.duckdb README.txt
A transaction whose entries fall in two months (a debit at 23:59:59, its credit at 00:00:01)
balances only over both exports: manifest.json's spanning_transactions lists each one with its
debits and credits of this month, and verify checks them instead of calling them unbalanced.

Money is decimal(38,6) in Parquet (a numeric(p,s) column keeps its own scale; manifest.json lists
each column's type); the control totals are exact at that scale. A view whose sum would need more
than 38 digits says so instead of showing it; manifest.json states it and verify checks it.
Readers that keep decimals exact: DuckDB, pyarrow, polars (Decimal);
fastparquet (and pandas with engine="fastparquet") reads decimals as floats: do not use it for
amounts.
"""
