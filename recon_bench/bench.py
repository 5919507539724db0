"""``sge-recon bench``: one run, every figure of issue 8 against its floor.

Floors (PostgreSQL alone, nothing of ours around it):
  * balance floor: a raw ``SELECT program_id, currency, sum(…) GROUP BY`` over the whole ledger;
  * COPY floor: a raw ``COPY (…) TO STDOUT (FORMAT binary)`` of one month of every exported
    table, in one snapshot, bytes discarded (recon_bench.store.exports.raw_copy_binary, as
    scripts/bench_export.py measures it).

Product figures, each with its ratio to its floor and the issue's target:
  * full SQL suite (the catalogue; its own target is ≤ 1.3 × the sum of its raw queries, timed
    in the same run by sge_recon.checks.bench), the GX suite (≤ 2.5 × SQL suite);
  * the per-minute fast suite, incremental, after a minute of new entries (≤ 1 s);
  * the console Overview's data load (recon_bench.console_bench; ≤ 1 s), every console page's
    server-side render warm (≤ 1 s; AppTest) and the first Overview render in Chromium after the
    console answers (≤ 2 s) (issue 18.4);
  * the export of one month in a child process (≥ 50 % of the COPY floor's rows/s, peak RSS ≤
    400 MB from wait4's ru_maxrss).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from recon_bench.measured_child import run_child
from recon_bench.store import exports as export_store
from recon_bench.store import perf
from refplatform.setup import setup_database
from sge_recon.db import ledger_checkpoint
from sge_recon.errors import UsageError

if TYPE_CHECKING:
    from sge_recon.context import Recon

ENTRIES_PER_INTENT = 4.84  # what `sge-recon simulate` writes on average (measured)
REUSE_TOLERANCE = 0.2      # an existing ledger within ±20 % of the asked size is reused
MINUTE_OF_ENTRIES = 1_000  # new entries before the per-minute figure


@dataclass
class Figure:
    name: str
    value: float                 # seconds, or rows/s for the export
    unit: str
    floor: str | None = None
    ratio: float | None = None   # value / floor (time), or value / floor rows/s (export)
    target: str = ""
    ok: bool | None = None
    note: str = ""


@dataclass
class BenchResult:
    entries: int
    figures: list[Figure] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"entries": self.entries, "context": self.context,
                "figures": [asdict(f) for f in self.figures]}


def ensure_platform(recon: "Recon", entries: int, seed: int, allow_reset: bool,
                    progress: Callable[[str], None]) -> dict[str, Any]:
    """Reuse a ledger of about ``entries`` rows, or load one with the simulator."""
    setup_database(recon)  # a fresh home's server starts empty; idempotent elsewhere
    current = perf.ledger_size(recon.db)
    if current and abs(current - entries) <= REUSE_TOLERANCE * entries:
        progress(f"reusing the platform in {recon.db.where}: {current:,} ledger entries")
        return {"loaded": False, "seconds": 0.0}
    if current and not allow_reset:
        raise UsageError(f"{recon.db.where} holds {current:,} ledger entries, not about "
                         f"{entries:,}; pass --reset to replace its platform tables (only on a "
                         "scratch database), or point SGE_RECON_HOME/DATABASE_URL elsewhere")
    intents = max(1_000, round(entries / ENTRIES_PER_INTENT))
    progress(f"loading a simulated platform of {intents:,} intents (~{entries:,} entries) …")
    from refplatform.simulate import Simulator

    report = Simulator(recon).run(intents=intents, seed=seed, reset=True)
    return {"loaded": True, "seconds": report.seconds, "intents": intents}


def run_bench(recon: "Recon", *, entries: int, seed: int = 42, gx: bool = True,
              allow_reset: bool = False, work: Path | None = None,
              progress: Callable[[str], None] = lambda _: None) -> BenchResult:
    load = ensure_platform(recon, entries, seed, allow_reset, progress)
    from recon_bench.store import plans

    plans.analyze(recon.db)
    result = BenchResult(perf.ledger_size(recon.db))
    result.context = {"measured_at": datetime.now(timezone.utc).isoformat(),
                      "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(),
                      "server_version": recon.db.server_version(), "load": load}

    progress("checkpoint: building / advancing the incremental state …")
    started = time.perf_counter()
    ledger_checkpoint.advance(recon.db)
    report = ledger_checkpoint.advance(recon.db)
    result.context["checkpoint"] = {"seconds": time.perf_counter() - started,
                                    "watermark": report.watermark, "note": report.note}

    progress("floor: per-program balance over the whole ledger …")
    perf.time_balance_floor(recon.db)  # the first touch reads from disk; measure steady state
    floor_s = min(perf.time_balance_floor(recon.db)[0] for _ in range(2))
    result.figures.append(Figure("floor: per-program balance (raw GROUP BY)", floor_s, "s"))

    progress("full SQL suite and raw queries …")
    from recon_bench.check_bench import run_bench as run_check_bench

    checks = run_check_bench(recon.checks, gx=gx)
    suite_s = checks.suite_ms / 1000
    result.figures.append(Figure(
        "full SQL suite", suite_s, "s", "balance", suite_s / floor_s,
        "≤ 1.3 × sum of its raw queries", checks.ratio <= 1.3,
        f"sum of raw queries {checks.raw_sum_ms / 1000:.2f} s, suite/raw {checks.ratio:.2f}"))
    result.context["checks"] = [asdict(t) for t in checks.checks]
    result.figures.extend(_one_session_figure(recon, floor_s, suite_s, result.context))
    result.figures.extend(_fused_figures(recon, floor_s, suite_s, result.context))
    progress("columnar engine: the ledger checks in DuckDB over the exports vs PostgreSQL …")
    result.figures.append(_columnar_figure(recon, floor_s, result.context))
    if checks.gx_suite_ms is not None:
        gx_s = checks.gx_suite_ms / 1000
        result.figures.append(Figure(
            "GX suite", gx_s, "s", "balance", gx_s / floor_s, "≤ 2.5 × SQL suite",
            gx_s <= 2.5 * suite_s,
            f"GX/SQL {gx_s / suite_s:.2f}; import {checks.gx_import_ms / 1000:.1f} s not "
            f"included; same statuses and counts: {'yes' if checks.parity else 'NO'}"))

    progress("per-minute fast suite (incremental) after a minute of new entries …")
    perf.add_balanced_entries(recon.db, MINUTE_OF_ENTRIES, f"bench_{int(time.time())}_")
    fast_runs = []
    for _ in range(3):
        started = time.perf_counter()
        recon.checks.run(fast_only=True, store=False, trigger="bench")
        fast_runs.append(time.perf_counter() - started)
    fast_s = statistics.median(fast_runs)
    result.figures.append(Figure(
        "per-minute fast suite (incremental)", fast_s, "s", "balance", fast_s / floor_s,
        "≤ 1 s", fast_s <= 1.0,
        f"runs {', '.join(f'{x:.2f}' for x in fast_runs)} s (one records a watermark "
        f"candidate, the next moves it over the {MINUTE_OF_ENTRIES:,} new entries)"))

    progress("console Overview data load …")
    from recon_bench.console_bench import bench_overview

    overview = bench_overview(recon, repeat=5)
    ov_s = (overview.warm_ms + statistics.median(overview.checks_ms)) / 1000
    result.figures.append(Figure(
        "console Overview data load", ov_s, "s", "balance", ov_s / floor_s, "≤ 1 s",
        ov_s <= 1.0, f"cold {overview.cold_ms / 1000:.2f} s"))
    progress("console: every page rendered (AppTest), the first Overview render (Chromium) …")
    result.figures.extend(_console_figures(recon, floor_s, result.context))

    progress("floor: raw COPY binary of one month; export of the same month …")
    result.figures.extend(_export_figures(recon, work, result.context))
    return result


def _console_figures(recon: "Recon", floor_s: float, context: dict) -> list[Figure]:
    """Issue 18.4: every page's server-side render warm (≤ 1 s; the slowest named, each page
    in the note) and the first Overview render in a browser after the console answers (≤ 2 s)."""
    from .console_bench import render_pages
    from .console_first_render import first_render
    from .console_pages import FIRST_RENDER_TARGET_S, WARM_TARGET_MS

    pages = render_pages(recon, repeat=3)
    context["console_pages"] = [asdict(p) for p in pages]
    slowest = max(pages, key=lambda p: p.warm_ms)
    broken = [p.page for p in pages if p.errors]
    warm_s = slowest.warm_ms / 1000
    figures = [Figure(
        f"console pages, slowest warm: {slowest.page}", warm_s, "s", "balance", warm_s / floor_s,
        f"every page ≤ {WARM_TARGET_MS / 1000:g} s warm",
        warm_s <= WARM_TARGET_MS / 1000 and not broken,
        "warm (cold) s: " + ", ".join(f"{p.page} {p.warm_ms / 1000:.2f} ({p.cold_ms / 1000:.2f})"
                                      for p in pages)
        + (f"; errors on {', '.join(broken)}" if broken else ""))]
    first = first_render(recon, runs=3)
    context["console_first_render"] = asdict(first)
    if first.skipped:
        figures.append(Figure("console first Overview render (browser)", 0.0, "s",
                              target=f"≤ {FIRST_RENDER_TARGET_S:g} s",
                              note=f"not measured: {first.skipped}"))
    else:
        figures.append(Figure(
            "console first Overview render (browser)", first.median_s, "s",
            target=f"≤ {FIRST_RENDER_TARGET_S:g} s after the console answers",
            ok=first.median_s <= FIRST_RENDER_TARGET_S,
            note=f"median of {len(first.drawn_s)} fresh console processes in Chromium, best "
                 f"{min(first.drawn_s):.2f} s, worst {max(first.drawn_s):.2f} s"))
    return figures


def _one_session_figure(recon: "Recon", floor_s: float, suite_s: float,
                        context: dict) -> list[Figure]:
    """The suite above again with CHECK_SESSIONS=1 (one check after another), so that what the
    sessions side by side save is printed, not assumed; nothing when it ran on one already."""
    sessions = recon.settings.CHECK_SESSIONS
    if sessions <= 1:
        return []
    one = recon.checks.with_settings(CHECK_SESSIONS=1)
    started = time.perf_counter()
    one.run(store=False, trigger="bench")
    one_s = time.perf_counter() - started
    context["one_session_suite_s"] = one_s
    return [Figure(
        "full SQL suite on one session", one_s, "s", "balance", one_s / floor_s,
        "(CHECK_SESSIONS=1)", None,
        f"the suite above ran on {sessions} sessions: {suite_s:.2f} s, "
        f"{one_s / suite_s:.2f}× faster than one after another")]


def _fused_figures(recon: "Recon", floor_s: float, suite_s: float,
                   context: dict) -> list[Figure]:
    """Issue 18.2: the fused ledger pass (checks/fused/) against its checks one by one, and the
    suite's ratio to the floor with and without it (target ≤ 7 ×)."""
    from .fused_bench import bench_fused

    figures = []
    enabled = recon.settings.FUSED_LEDGER_PASS  # the suite above ran with the pass, or without
    for t in bench_fused(recon.checks):
        context.setdefault("fused", []).append({**asdict(t), "saved_s": t.saved_s})
        other = (suite_s + t.saved_s if enabled else suite_s - t.saved_s) / floor_s
        figures.append(Figure(
            f"{t.name}: {len(t.members)} checks in one pass", t.fused_s, "s", "balance",
            t.fused_s / floor_s, "suite ≤ 7 × floor", suite_s / floor_s <= 7,
            f"one by one {t.separate_s:.2f} s ({t.separate_s / floor_s:.2f}×); suite "
            f"{suite_s / floor_s:.1f}× floor {'with' if enabled else 'without'} the pass "
            f"(FUSED_LEDGER_PASS), ≈ {other:.1f}× {'without' if enabled else 'with'} it; "
            f"the pass ran: {'yes' if t.used else 'NO'}, same results: "
            f"{'yes' if t.same_results else 'NO'}"))
    return figures


def _columnar_figure(recon: "Recon", floor_s: float, context: dict) -> Figure:
    """Issue 18.3: `check --engine duckdb` against the SQL engine on the same ledger checks."""
    from .columnar_bench import bench_columnar

    t = bench_columnar(recon, Path(recon.settings.SGE_RECON_HOME) / "bench-exports")
    context["columnar"] = asdict(t)
    sweep = t.sweep
    prep = ", ".join(f"{k.removesuffix('_s')} {v:.2f} s"
                     for k, v in (sweep.get("seconds") or {}).items())
    fallen = sorted(n for n, e in t.engines.items() if e != "duckdb")
    return Figure(
        f"columnar sweep: {len(t.checks)} ledger checks, --engine duckdb", t.duckdb_s, "s",
        "balance", t.duckdb_s / floor_s, "faster than the SQL engine", t.duckdb_s < t.postgres_s,
        f"PostgreSQL (SQL engine) {t.postgres_s:.2f} s, duckdb/PostgreSQL "
        f"{t.duckdb_s / t.postgres_s:.2f}; {len(sweep.get('exports') or [])} months from "
        f"Parquet, {sweep.get('live_rows', 0):,} live rows; {prep}; on PostgreSQL: "
        f"{', '.join(fallen) or 'none'}; same results: {'yes' if t.same_results else 'NO'}; "
        f"exports written {t.export_s:.1f} s (not timed)")


def _export_figures(recon: "Recon", work: Path | None, context: dict) -> list[Figure]:
    from sge_recon.exports.period import Period, parse_period
    from sge_recon.exports.tables import TABLES

    current = Period.of(datetime.now(timezone.utc)).label
    months = [m for m in export_store.ledger_rows_per_month(recon.db) if m["period"] < current]
    if not months:
        return [Figure("export", 0.0, "rows/s", note="no complete month holds ledger entries")]
    period = parse_period(max(months, key=lambda m: m["rows"])["period"])
    export_store.raw_copy_binary(recon.db, TABLES, period.start, period.end)  # warm
    started = time.perf_counter()
    raw = export_store.raw_copy_binary(recon.db, TABLES, period.start, period.end)
    raw_s = time.perf_counter() - started
    raw_rate = raw["rows"] / raw_s
    with tempfile.TemporaryDirectory(prefix="sgr-bench-export-", dir=work) as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(DATABASE_URL=recon.db.url, PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        cmd = [sys.executable, "-m", "sge_recon", "export", "--period", period.label, "--out",
               str(Path(tmp) / "out"), "--force", "--format", "json"]
        run_child([sys.executable, "-c", "import pyarrow.parquet, duckdb, sge_recon.cli"], env)
        wall, rss_mb, stdout = run_child(cmd, env)
    summary = json.loads(stdout)
    rate = summary["total_rows"] / summary["seconds"]
    context["export"] = {"period": period.label, "rows": summary["total_rows"],
                         "seconds": summary["seconds"], "child_wall_seconds": wall,
                         "bytes": summary["total_bytes"], "raw_rows": raw["rows"],
                         "raw_seconds": raw_s}
    return [Figure(f"floor: raw COPY binary of {period.label} ({raw['rows']:,} rows)", raw_rate,
                   "rows/s", note=f"{raw_s:.2f} s"),
            Figure(f"export of {period.label}", rate, "rows/s", "COPY", rate / raw_rate,
                   "≥ 50 % of COPY rows/s", rate >= 0.5 * raw_rate,
                   f"{summary['seconds']:.2f} s"),
            Figure(f"export of {period.label}: peak RSS", rss_mb, "MB", target="≤ 400 MB",
                   ok=rss_mb <= 400, note="child process, wait4 ru_maxrss (via a small launcher)")]
