"""Every console page's server-side data build, through the library API (issue 18.4): what each
page of app/views/ asks the library for when it opens with its default choices (nothing picked,
default window), timed cold (the first build in this process) and warm (median of the rest).

The keys are the console's pages (app/console_kit.PAGES; tests/test_console_bench.py checks that
no page is missing), so a new page without its entry here fails the tests."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from recon_bench.console_bench import ColdWarm

if TYPE_CHECKING:
    from sge_recon.context import Recon

Load = Callable[["Recon"], Any]

WARM_TARGET_MS = 1000.0        # issue 18.4: every page ≤ 1 s warm
FIRST_RENDER_TARGET_S = 2.0    # issue 18.4: the first Overview render ≤ 2 s after the console answers


def _today():
    return datetime.now(timezone.utc).date()


def _ledger_pairs(recon: "Recon") -> Any:
    """What the Ledger page loads: the sums, the live verdict, the stored ledger checks, the
    offending transactions of the first flagged pair (the page's select box starts on it)."""
    console = recon.console
    flags = console.ledger_flags()
    if flags.pairs:
        program, currency = flags.pairs[0]
        return console.unbalanced_transactions(program, currency)
    return []


# page key (app/console_kit.PAGES) -> {what is loaded: how}
PAGE_LOADS: dict[str, dict[str, Load]] = {
    "overview": {
        "overview": lambda r: r.console.overview(),
    },
    "ledger": {
        "ledger_balances": lambda r: r.console.ledger_balances(),
        "ledger_flags + offending transactions": _ledger_pairs,
        "ledger_check_results": lambda r: r.console.ledger_check_results(),
        "programs": lambda r: r.console.programs(),
        "corrections pending": lambda r: r.console.corrections.pending(),
    },
    "intents": {
        "stuck_list": lambda r: r.console.stuck_list(),
    },
    "payouts": {
        "open_payout_batches": lambda r: r.console.open_payout_batches(),
        "recent_payout_batches": lambda r: r.console.recent_payout_batches(),
    },
    "webhooks": {
        "failing_deliveries": lambda r: r.console.failing_deliveries(),
        "filter_choices": lambda r: r.console.webhooks.filter_choices(),
        "deliveries (last 7 days)": lambda r: r.console.webhooks.deliveries(
            since=_midnight(-7), until=_midnight(1)),
        "endpoint_health": lambda r: r.console.endpoint_health(),
    },
    "queue": {
        "queue_state": lambda r: r.console.queue_state(),
        "queue_jobs": lambda r: r.console.queue_jobs(),
    },
    "trends": {
        "processing_trend (7 days)": lambda r: r.console.processing_trend(7),
        "queue_heatmap": lambda r: r.console.queue_heatmap(),
        "payout_execution_times (30 days)": lambda r: r.console.payout_execution_times(30),
        "rpc_health (7 days)": lambda r: r.console.rpc_health(7),
        "commission_spot_check": lambda r: r.console.commission_spot_check(),
    },
    "slos": {
        "slos (28 days)": lambda r: r.console.slos(28),
    },
    "runbook": {
        "runbook ticks": lambda r: (r.console.runbook_ticks_by_others("bench", _today()),
                                    r.console.runbook_ticks("bench", _today())),
    },
    "incidents": {
        "incidents": lambda r: r.console.incidents(["open", "acknowledged", "accepted"]),
        "silences": lambda r: r.console.silences(),
    },
    "exports": {
        "list_periods": lambda r: r.exports.list_periods(),
        "recent_actions": lambda r: r.console.recent_actions(),
    },
}


def _midnight(days: int) -> datetime:
    """00:00 UTC ``days`` from today (the Webhooks page's default range: the last 7 days)."""
    from datetime import timedelta

    now = datetime.now(timezone.utc)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=days)


@dataclass
class PageData(ColdWarm):
    page: str
    runs_ms: list[float]
    loads_ms: dict[str, float] = field(default_factory=dict)  # median per load
    errors: list[str] = field(default_factory=list)


def bench_page_data(recon: "Recon", repeat: int = 5,
                    pages: list[str] | None = None) -> list[PageData]:
    """Each page's data build ``repeat`` times (the first is the cold one)."""
    out = []
    for page in pages or list(PAGE_LOADS):
        loads = PAGE_LOADS[page]
        per_load: dict[str, list[float]] = {name: [] for name in loads}
        runs, errors = [], []
        for _ in range(max(1, repeat)):
            total = 0.0
            for name, load in loads.items():
                t0 = time.perf_counter()
                try:
                    load(recon)
                except Exception as exc:  # noqa: BLE001 - reported with the figure, not fatal
                    errors.append(f"{name}: {type(exc).__name__}: {exc}".splitlines()[0])
                ms = (time.perf_counter() - t0) * 1000
                per_load[name].append(ms)
                total += ms
            runs.append(total)
        out.append(PageData(page, runs, {n: statistics.median(v) for n, v in per_load.items()},
                            sorted(set(errors))))
    return out
