"""The columnar engine against PostgreSQL (issue 18, item 3): the full-history ledger checks run
with ``--engine duckdb`` (DuckDB over the exports' Parquet plus the live tail) and with the SQL
engine, on the same ledger, warm, with whether both give the same results.

Every complete month holding ledger entries is exported first (kept under
``SGE_RECON_HOME/bench-exports`` so that a second run reuses them; writing them is the monthly
export's work, reported apart, not part of the sweep)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from recon_bench.store import exports as export_store
from sge_recon.checks.columnar_engine import SERVED
from sge_recon.exports.exporter import ExportExists
from sge_recon.exports.period import Period

CHECKS = [*SERVED, "ledger_tamper"]


@dataclass
class ColumnarTiming:
    checks: list[str]
    duckdb_s: float                 # median of the duckdb runs
    postgres_s: float               # median of the SQL runs of the same checks
    runs_duckdb: list[float] = field(default_factory=list)
    runs_postgres: list[float] = field(default_factory=list)
    exported_months: list[str] = field(default_factory=list)
    export_s: float = 0.0           # writing the missing exports (0 when reused)
    sweep: dict = field(default_factory=dict)   # what the sweep read, its preparation times
    engines: dict[str, str] = field(default_factory=dict)
    same_results: bool = True


def exports_for(recon, folder: Path) -> tuple[list[str], float]:
    """Export every complete month that holds ledger entries and is not exported yet."""
    current = Period.of(datetime.now(timezone.utc)).label
    months = sorted(m["period"] for m in export_store.ledger_rows_per_month(recon.db)
                    if m["period"] < current)
    started = time.perf_counter()
    for month in months:
        if not (folder / month / "manifest.json").is_file():
            try:
                recon.exports.export(month, out_dir=folder, trigger="bench")
            except ExportExists:
                pass
    return months, time.perf_counter() - started


def bench_columnar(recon, folder: Path, repeat: int = 3) -> ColumnarTiming:
    months, export_s = exports_for(recon, folder)
    service = recon.checks.with_settings(EXPORTS_DIR=str(folder))

    def run(engine: str):
        return service.run(only=CHECKS, engine=engine, store=False, trigger="bench")

    run("sql")  # warm the pages (and DuckDB's first import) before timing either engine
    run("duckdb")
    times: dict[str, list[float]] = {"sql": [], "duckdb": []}
    last = {}
    for _ in range(max(1, repeat)):
        for engine in ("sql", "duckdb"):  # interleaved: both see the same machine load
            started = time.perf_counter()
            last[engine] = run(engine).by_name()
            times[engine].append(time.perf_counter() - started)
    duck, pg = last["duckdb"], last["sql"]
    sweep = next(((duck[n].details or {}).get("columnar", {}) for n in SERVED
                  if duck[n].engine == "duckdb"), {})
    return ColumnarTiming(
        checks=CHECKS, duckdb_s=statistics.median(times["duckdb"]),
        postgres_s=statistics.median(times["sql"]), runs_duckdb=times["duckdb"],
        runs_postgres=times["sql"], exported_months=months, export_s=export_s, sweep=sweep,
        engines={n: duck[n].engine for n in CHECKS},
        same_results=all((duck[n].status, duck[n].failing_rows, duck[n].rows)
                         == (pg[n].status, pg[n].failing_rows, pg[n].rows) for n in CHECKS))
