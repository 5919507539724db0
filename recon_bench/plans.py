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
from sge_recon.db.checks import measured_sample_query

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
    for d in incremental_definitions(recon.checks.select(fast_only=True)):
        spec = d.value
        sql = measured_sample_query(sqltext.for_psycopg(d.sql), spec.aggregate if spec else None,
                                    spec.column if spec else None)
        out.append((f"fast check: {d.name}", sql, params))
    out.extend(_overview_statements(recon))
    out.extend(_live_fact_statements(recon))
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


def _live_fact_statements(recon: "Recon") -> list[tuple[str, str, Any]]:
    """What the per-minute monitor reads for the alert rules and /metrics."""
    from datetime import datetime, timezone

    from sge_recon.db import ops
    from sge_recon.metrics import facts

    with recon.db.transaction(read_only=True) as conn:
        recorder = plans.RecordingConnection(conn)
        facts._facts(ops.Snapshot(recorder), recon.settings, datetime.now(timezone.utc))
    return [(f"live facts #{i + 1}: {_first_words(str(sql))}", str(sql), params)
            for i, (sql, params) in enumerate(recorder.statements)]


def check_plans(recon: "Recon") -> list[dict]:
    """EXPLAIN every hot query; each entry: name, full_scans (large tables read in full), plan."""
    return plans.explain_all(recon.db, hot_queries(recon))


def _first_words(sql: str, n: int = 60) -> str:
    return " ".join(sql.split())[:n]
