"""The hot queries: what runs every minute (the fast checks, incrementally), on every console
refresh (the Overview's data load) and when the ledger checkpoint advances. Each must plan
without a sequential scan of a large table (DESIGN §5, issue 8); :func:`check_plans` says which
do not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recon_bench.store import plans
from sge_recon.checks import sqltext
from sge_recon.checks.incremental import incremental_definitions
from sge_recon.db import ledger_checkpoint
from sge_recon.checks.sql_engine import totals_bounds, totals_queries
from sge_recon.db.checks import measured_sample_query, totals_sample_query

if TYPE_CHECKING:
    from sge_recon.context import Recon

NEW_ENTRIES = 1_000  # the per-minute delta the incremental statements are planned for


def hot_queries(recon: "Recon") -> list[tuple[str, str, Any]]:
    """(name, sql, params) of every hot query, with the parameters a real run would bind."""
    checkpoint = ledger_checkpoint.read_checkpoint(recon.db) or {"watermark": 0}
    watermark = checkpoint["watermark"]
    out = []
    params = {**recon.checks.params, "sample_limit": recon.settings.SAMPLE_ROWS,
              "watermark": watermark}
    fast = incremental_definitions(recon.checks.select(fast_only=True))
    for d in fast:
        out.append((f"fast check: {d.name}", *_measured(d, params)))
    out.extend(_overview_statements(recon))
    # the signal checks the fast run lacks: computed live every minute for the alert rules
    from sge_recon.metrics.facts import SIGNAL_CHECKS

    fast_names = {d.name for d in fast}
    for d in recon.checks.select([n for n in SIGNAL_CHECKS if n not in fast_names]):
        out.append((f"live facts: {d.name}", *_measured(d, params)))
    out.extend(ledger_checkpoint.maintenance_statements(watermark, watermark + NEW_ENTRIES))
    return out


def _overview_statements(recon: "Recon") -> list[tuple[str, str, Any]]:
    from sge_recon.console.overview import build_overview

    results, last_run = recon.checks.latest_results(), recon.checks.latest()
    with recon.db.transaction(read_only=True) as conn:
        recorder = plans.RecordingConnection(conn)
        build_overview(recorder, recon.settings, results, last_run)
    return [(f"overview #{i + 1}: {_first_words(str(sql))}", str(sql), params)
            for i, (sql, params) in enumerate(recorder.statements)]


def _measured(d, params: dict) -> tuple[str, dict]:
    """The statement the SQL engine runs for ``d`` (count, value, sample and totals)."""
    spec, inner = d.value, sqltext.for_psycopg(d.sql)
    args = (spec.aggregate if spec else None, spec.column if spec else None)
    totals = totals_queries(d)
    if not totals:
        return measured_sample_query(inner, *args), params
    return totals_sample_query(inner, totals, *args), {**params, **totals_bounds(d, params)}


def check_plans(recon: "Recon") -> list[dict]:
    """EXPLAIN every hot query; each entry: name, full_scans (large tables read in full), plan."""
    return plans.explain_all(recon.db, hot_queries(recon))


def _first_words(sql: str, n: int = 60) -> str:
    return " ".join(sql.split())[:n]
