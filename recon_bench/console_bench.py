"""How long the Overview takes to build its data, server side: the whole load (stored check
results + the live queries) and each live query on its own, cold and warm."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sge_recon.db import console as q

if TYPE_CHECKING:
    from sge_recon.context import Recon


class ColdWarm:
    """Timings whose first run is the cold one (``runs_ms``); warm is the median of the rest."""

    runs_ms: list[float]

    @property
    def cold_ms(self) -> float:
        return self.runs_ms[0]

    @property
    def warm_ms(self) -> float:
        return statistics.median(self.runs_ms[1:] or self.runs_ms)


@dataclass
class OverviewBench(ColdWarm):
    runs_ms: list[float]
    checks_ms: list[float]
    queries_ms: dict[str, float] = field(default_factory=dict)  # median per live query

    @property
    def max_ms(self) -> float:
        return max(self.runs_ms)


def bench_overview(recon: "Recon", repeat: int = 5) -> OverviewBench:
    console = recon.console
    runs, checks = [], []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        recon.checks.latest_results()
        recon.checks.latest()
        checks.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        console.overview()
        runs.append((time.perf_counter() - t0) * 1000)
    queries = {
        "live checks (lights)": lambda c: console.live_results(),
        "pending_payout_summary": q.pending_payout_summary,
        "pending_payout_money_by_currency": q.pending_payout_money_by_currency,
        "open_incident_counts": lambda c, state: q.open_incident_counts(state),
        "newest_result_age": lambda c, state: q.newest_result_age(state, [
            "ledger_balance", "transaction_balance"]),
    }
    both = {"open_incident_counts", "newest_result_age"}
    per_query: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(max(1, repeat)):
        def timed(conn, state):
            for name, run in queries.items():
                t0 = time.perf_counter()
                run(conn, state) if name in both else run(conn)
                per_query[name].append((time.perf_counter() - t0) * 1000)
        console.read_both(timed)
    return OverviewBench(runs, checks, {n: statistics.median(v) for n, v in per_query.items()})


# -- every page (issue 18.4) ------------------------------------------------------------------------
@dataclass
class PageRender:
    page: str
    cold_ms: float
    warm_ms: float
    cached_ms: float
    runs_ms: list[float]
    errors: list[str]


def render_pages(recon: "Recon", repeat: int = 5,
                 pages: list[str] | None = None) -> list[PageRender]:
    """Each page's server-side render through Streamlit's AppTest, in a fresh child process
    (app/bench_render.py: the first run of a console process, then every page cold and warm)."""
    import json
    import os
    import subprocess
    import sys

    from sge_recon.config import project_root
    from sge_recon.errors import UsageError

    env = dict(os.environ, DATABASE_URL=recon.db.url)
    out = subprocess.run([sys.executable, str(project_root() / "app" / "bench_render.py"),
                          str(repeat), *(pages or [])], env=env, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"the AppTest render of the console failed (app/bench_render.py): {last}")
    found = json.loads(lines[-1])["pages"]
    return [PageRender(page, r["cold_ms"], r["warm_ms"], r["cached_ms"], r["runs_ms"],
                       r["errors"]) for page, r in found.items()]
