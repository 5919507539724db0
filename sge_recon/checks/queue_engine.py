"""``queue_paused``, ``queue_depth`` and ``worker_status`` measured from the platform's queue source (BullMQ on
Redis, DESIGN §11) instead of the contract's ``jobs`` / ``worker_heartbeats`` tables.

The catalogue stays the one place for thresholds: the measured value goes through the same
:func:`~sge_recon.checks.sql_engine.evaluate` as a SQL check's. The source is read once per run
(one snapshot for both checks); when it cannot be read, each check that needs it is ``error`` with
the sentence, and nothing else in the run is affected.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import Decimal

from ..queues import QueueSnapshot, QueueSource, QueueUnavailable
from .model import CheckDefinition, CheckResult
from .sql_engine import errored, evaluate
from .. import check_names

ENGINE = "bullmq"
WORKER_CODES = {"healthy": 0, "degraded": 1, "down": 2}


def run_queue_checks(definitions: list[CheckDefinition], source: QueueSource) -> list[CheckResult]:
    started = time.perf_counter()
    try:
        snapshot = source.depth()
    except QueueUnavailable as exc:
        return [errored(d, f"{d.name} is measured from the platform's queues: {exc.message}",
                        started, ENGINE) for d in definitions]
    return [measure(d, snapshot, started) for d in definitions]


def measure(definition: CheckDefinition, snap: QueueSnapshot, started: float) -> CheckResult:
    now = snap.measured_at or datetime.now(timezone.utc)
    details = {"source": snap.where, "settlement_queue": snap.settlement_queue,
               "read_ms": round(snap.duration_ms, 3)}
    if definition.name == check_names.QUEUE_DEPTH:
        s = snap.settlement
        oldest = snap.oldest_waiting_seconds(now)
        rows = [{"queue": c.queue, "value": Decimal(c.depth), "waiting": c.waiting,
                 "prioritized": c.prioritized, "due": c.due, "delayed": c.delayed,
                 "active": c.active,
                 "failed": c.failed, "paused": c.paused} for c in snap.counts.values()]
        details.update({"waiting": s.waiting, "prioritized": s.prioritized,
                        "delayed": s.delayed, "delayed_due": s.due, "active": s.active,
                        "failed": s.failed,
                        "paused": s.paused,
                        "oldest_waiting_seconds": None if oldest is None else round(oldest, 3)})
        # the check's value is the settlement queue's depth; the other queues are shown beside it
        rows.sort(key=lambda r: r["queue"] != snap.settlement_queue)
        return evaluate(definition, 1, Decimal(s.depth), rows, started, ENGINE, details)
    if definition.name == check_names.QUEUE_PAUSED:
        # BullMQ keeps no record of who paused a queue or when: the row says so
        s = snap.settlement
        rows = [{"queue": s.queue, "paused_by": None, "paused_at": None, "paused_seconds": None,
                 "waiting": s.depth}] if s.paused else []
        details["paused"] = s.paused
        return evaluate(definition, len(rows), None, rows, started, ENGINE, details)
    if definition.name == check_names.WORKER_STATUS:
        state = snap.worker_state
        code = WORKER_CODES[state]
        stalled = {j.id for j in snap.stalled}
        rows = [{"worker_id": f"{w.name}@{w.address}", "queue": w.queue,
                 "idle_seconds": Decimal(w.idle_seconds), "status": "healthy",
                 "overall_code": Decimal(code)} for w in snap.settlement_workers]
        details.update({"workers": len(snap.settlement_workers), "stalled_jobs": sorted(stalled),
                        "state": state})
        return evaluate(definition, len(rows), Decimal(code), rows, started, ENGINE, details)
    return errored(definition, f"{definition.name} cannot be measured from a queue source",
                   started, ENGINE)
