#!/usr/bin/env python3
"""Benchmark of the monthly audit export (DESIGN §8) on a simulated platform.

Measured in the same run, on the same month's rows, in the same kind of snapshot:
  raw     COPY (SELECT …) TO STDOUT (FORMAT binary) through psycopg, bytes discarded (the floor)
  export  `sge-recon export` in a child process (its own timer and the child's wall time)
  naive   pandas.read_sql -> DataFrame.to_parquet, in a child process
Peak RSS of each child comes from wait4()'s ru_maxrss. Targets: export >= 50 % of raw rows/s,
>= 3x naive rows/s, peak RSS <= 400 MB.

    .venv/bin/python scripts/bench_export.py --intents 1000000
    .venv/bin/python scripts/bench_export.py --synthetic-ledger 3000000   # no simulator
    DATABASE_URL=postgresql://… .venv/bin/python scripts/bench_export.py --no-load --period 2026-10

Without DATABASE_URL a private embedded PostgreSQL is started in a temporary folder and removed
afterwards. Figures are printed and written to bench-results/export-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recon_bench.measured_child import run_child  # noqa: E402
from recon_bench.store import exports as store  # noqa: E402
from refplatform.setup import ddl_files  # noqa: E402
from refplatform.simulate import Simulator  # noqa: E402
from sge_recon.config import Settings  # noqa: E402
from sge_recon.context import Recon  # noqa: E402
from sge_recon.db import Database, init_db  # noqa: E402
from sge_recon.exports.period import Period, parse_period  # noqa: E402
from sge_recon.exports.tables import TABLES  # noqa: E402


def main() -> int:
    args = parse_args()
    if args.naive_child:
        return naive_child(*args.naive_child)
    work = Path(tempfile.mkdtemp(prefix="sgr-bench-", dir="/tmp"))
    work.chmod(0o755)
    server_dir = None
    try:
        url = os.environ.get("DATABASE_URL")
        if not url:
            from sge_recon.db.embedded import start_embedded

            server_dir = work / "pg"
            url = start_embedded(server_dir, cleanup_mode="stop")
            print(f"embedded PostgreSQL in {server_dir}")
        db = Database(url, application_name="sge-recon-bench")
        init_db(db, platform_ddl=ddl_files())
        if not args.no_load:
            load(db, url, args)
        period = choose_period(db, args.period)
        figures = measure(db, url, period, work, args)
        report(figures, args)
    finally:
        if server_dir is not None:
            from sge_recon.db.embedded import stop_embedded

            stop_embedded(server_dir)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intents", type=int, default=1_000_000,
                        help="size of the simulated platform (sge-recon simulate --intents)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--synthetic-ledger", type=int, metavar="ROWS",
                        help="instead of the simulator, load ROWS balanced ledger entries into "
                             "one month with set-based SQL")
    parser.add_argument("--no-load", action="store_true",
                        help="use the data already in DATABASE_URL")
    parser.add_argument("--period", help="month to export (default: the complete month with the "
                                         "most ledger entries)")
    parser.add_argument("--no-naive", action="store_true", help="skip the pandas baseline")
    parser.add_argument("--naive-child", nargs=3, metavar=("URL", "PERIOD", "DIR"),
                        help=argparse.SUPPRESS)
    return parser.parse_args()


def load(db: Database, url: str, args) -> None:
    clock = time.perf_counter()
    if args.synthetic_ledger:
        month = Period.of(datetime.now(timezone.utc)).previous()
        store.synthetic_ledger(db, args.synthetic_ledger, month.start, month.end)
        print(f"loaded {args.synthetic_ledger:,} synthetic ledger entries into {month} in "
              f"{time.perf_counter() - clock:.1f} s")
        return
    recon = Recon(Settings.load(env={"DATABASE_URL": url}))
    sim = Simulator(recon).run(intents=args.intents, seed=args.seed)
    print(f"simulated {args.intents:,} intents in {time.perf_counter() - clock:.1f} s "
          f"({sim.row_counts.get('ledger_entries', '?'):,} ledger entries)")


def choose_period(db: Database, wanted: str | None) -> Period:
    if wanted:
        return parse_period(wanted)
    current = Period.of(datetime.now(timezone.utc)).label
    months = [m for m in store.ledger_rows_per_month(db) if m["period"] < current]
    if not months:
        raise SystemExit("no complete month holds ledger entries; load data or pass --period")
    best = max(months, key=lambda m: m["rows"])
    return parse_period(best["period"])


def measure(db: Database, url: str, period: Period, work: Path, args) -> dict:
    env = child_env(url, work)
    run_child([sys.executable, "-c", "import pyarrow.csv, pyarrow.parquet, pyarrow.compute, "
               "duckdb, pandas, sge_recon.cli"], env)                   # compile once, not timed
    store.raw_copy_binary(db, TABLES, period.start, period.end)          # warm the caches
    clock = time.perf_counter()
    raw = store.raw_copy_binary(db, TABLES, period.start, period.end)
    raw_s = time.perf_counter() - clock

    out = work / "out"
    cmd = [sys.executable, "-m", "sge_recon", "export", "--period", period.label, "--out",
           str(out), "--force", "--format", "json"]
    export_wall, export_rss, stdout = run_child(cmd, env)
    summary = json.loads(stdout)
    figures = {
        "period": period.label, "measured_at": datetime.now(timezone.utc).isoformat(),
        "load_average_at_start": os.getloadavg(), "cpus": os.cpu_count(),
        "rows": raw["rows"], "ledger_rows": next(f["rows"] for f in summary["files"]
                                                 if f["name"] == "ledger_entries.parquet"),
        "raw_copy_binary": {"seconds": raw_s, "rows_per_s": raw["rows"] / raw_s,
                            "bytes": raw["bytes"]},
        "export": {"seconds": summary["seconds"], "child_wall_seconds": export_wall,
                   "rows": summary["total_rows"], "rows_per_s": summary["total_rows"] /
                   summary["seconds"], "peak_rss_mb": export_rss, "bytes": summary["total_bytes"]},
    }
    assert summary["total_rows"] == raw["rows"], (summary["total_rows"], raw["rows"])
    verify_clock = time.perf_counter()
    from sge_recon.exports import ExportService

    verified = ExportService.verify(out / period.label)
    figures["verify"] = {"seconds": time.perf_counter() - verify_clock, "ok": verified.ok}
    if not args.no_naive:
        naive_dir = work / "naive"
        naive_dir.mkdir()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--naive-child", url,
               period.label, str(naive_dir)]
        wall, rss, stdout = run_child(cmd, env)
        rows = int(stdout.strip().splitlines()[-1])
        figures["naive_pandas"] = {"seconds": wall, "rows": rows, "rows_per_s": rows / wall,
                                   "peak_rss_mb": rss}
    return figures


def child_env(url: str, work: Path) -> dict:
    """Children cache their bytecode in the work folder: with PYTHONDONTWRITEBYTECODE set (as in
    some sandboxes) every start would otherwise recompile pyarrow and duckdb from source, which an
    installed sge-recon never does."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(DATABASE_URL=url, PYTHONPYCACHEPREFIX=str(work / "pycache"))
    return env


def naive_child(url: str, period: str, folder: str) -> int:
    p = parse_period(period)
    rows = store.naive_pandas_export(Database(url), TABLES, p.start, p.end, folder)
    print(rows)
    return 0


def report(f: dict, args) -> None:
    raw, exp = f["raw_copy_binary"], f["export"]
    print(f"\nperiod {f['period']}: {f['rows']:,} rows in 13 tables ({f['ledger_rows']:,} ledger "
          "entries)")
    print(f"  raw COPY binary   {raw['seconds']:7.2f} s  {raw['rows_per_s']:>12,.0f} rows/s")
    print(f"  export            {exp['seconds']:7.2f} s  {exp['rows_per_s']:>12,.0f} rows/s  "
          f"peak RSS {exp['peak_rss_mb']:.0f} MB  (child wall {exp['child_wall_seconds']:.2f} s, "
          f"{exp['bytes'] / 1e6:.1f} MB written)")
    ratio_raw = exp["rows_per_s"] / raw["rows_per_s"]
    print(f"  export / raw      {ratio_raw:7.0%}   target >= 50 %  "
          f"{'OK' if ratio_raw >= 0.5 else 'MISSED'}")
    print(f"  peak RSS          {exp['peak_rss_mb']:7.0f} MB target <= 400 MB  "
          f"{'OK' if exp['peak_rss_mb'] <= 400 else 'MISSED'}")
    if "naive_pandas" in f:
        naive = f["naive_pandas"]
        speedup = exp["rows_per_s"] / naive["rows_per_s"]
        print(f"  naive pandas      {naive['seconds']:7.2f} s  {naive['rows_per_s']:>12,.0f} rows/s  "
              f"peak RSS {naive['peak_rss_mb']:.0f} MB")
        print(f"  export / naive    {speedup:7.1f}x  target >= 3x  {'OK' if speedup >= 3 else 'MISSED'}")
    print(f"  verify            {f['verify']['seconds']:7.2f} s  ok={f['verify']['ok']}")
    print(f"  machine           {f['cpus']} CPUs, load average at start "
          f"{', '.join(f'{x:.1f}' for x in f['load_average_at_start'])}")
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    path = results / f"export-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"args": vars(args), **f}, indent=2, default=str))
    print(f"figures written to {path}")


if __name__ == "__main__":
    sys.exit(main())
