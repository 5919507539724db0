"""A stand-in of the SGE platform's admin API (``/api/v2``), on the SGE-shaped tables.

Faithful to the facts of the real platform (../shared/SGE_PLATFORM.md, "Admin API (real)"):

* ``POST /api/v2/payouts/batch/{id}/approve`` and ``/execute``: identity from the free-text header
  ``X-Admin-Id``; approve sets ``"approvedById"``/``"approvedAt"`` when the approver differs from
  ``"createdById"``; execute pays an APPROVED batch once: its line items COMPLETED, one PAYOUT
  journal per line item (debit ``affiliate:<aid>:liability``, credit ``program:<pid>:treasury``),
  their commissions PAID, the batch COMPLETED; a second execute is refused;
* ``POST /api/v2/enterprise/reconcile {programId?}``: the ledger's imbalances, unbalanced journals
  and stuck intents (PROCESSING, "updatedAt" older than 30 min), as the platform's reconciler;
* ``GET /api/v2/enterprise/stats``: BullMQ job counts per queue (from ``REDIS_URL``) and row counts;
* ``GET /healthz``.

Every refusal is HTTP 400 ``{"error": "..."}`` (no 401/403/404/409/422 as in DESIGN §6), and there
are no Bearer keys, no retry-intent, queue pause/resume, webhook retry or ledger corrections.
Each state change writes an ``"AuditLog"`` row as the platform does. The SQL is in
refplatform/sge_store.py.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from refplatform import sge_store as store
from sge_recon.config import Settings

log = logging.getLogger(__name__)


class Refused(Exception):
    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


def create_sge_app(settings: Settings, database_url: str) -> FastAPI:
    app = FastAPI(title="SGE admin API (stand-in)", version="v2",
                  description="The SGE platform's /api/v2 admin endpoints, for sge-recon's tests "
                              "and demo.")

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused):
        return JSONResponse({"error": exc.error}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError):
        return JSONResponse({"error": f"invalid request: {exc.errors()[0].get('msg')}"},
                            status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    def admin_id(request: Request) -> str:
        value = (request.headers.get("x-admin-id") or "").strip()
        if not value:
            raise Refused("X-Admin-Id header is required")
        return value

    @app.get("/healthz")
    def healthz() -> dict:
        try:
            with store.connect(database_url) as conn:
                store.ping(conn)
        except Exception as exc:  # noqa: BLE001 - health answers, it does not raise
            return JSONResponse({"status": "error", "database": str(exc).splitlines()[0]},
                                status_code=503)
        return {"status": "ok", "database": "ok"}

    @app.post("/api/v2/payouts/batch/{batch_id}/approve")
    def approve(batch_id: str, request: Request) -> dict:
        actor = admin_id(request)
        with store.connect(database_url) as conn, conn.transaction():
            batch = store.batch_for_update(conn, batch_id)
            if batch is None:
                raise Refused("Payout batch not found")
            if batch["status"] != "PENDING":
                raise Refused(f"Batch is {batch['status']}, only PENDING batches can be approved")
            if batch["createdById"] and batch["createdById"] == actor:
                raise Refused("Approver must be different from the creator of the batch")
            after = store.approve_batch(conn, batch_id, actor)
            store.write_audit(conn, program_id=batch["programId"],
                              action="PAYOUT_BATCH_APPROVED", actor=actor,
                              target_type="PayoutBatch", target_id=batch_id,
                              before={"status": batch["status"]},
                              after={"status": "APPROVED", "approvedById": actor})
        return {"success": True, "batch": _batch(after)}

    @app.post("/api/v2/payouts/batch/{batch_id}/execute")
    def execute(batch_id: str, request: Request) -> dict:
        actor = admin_id(request)
        with store.connect(database_url) as conn, conn.transaction():
            batch = store.batch_for_update(conn, batch_id)  # serialises two executes
            if batch is None:
                raise Refused("Payout batch not found")
            if batch["status"] == "COMPLETED":
                raise Refused("Batch already executed")
            if batch["status"] != "APPROVED":
                raise Refused(f"Batch is {batch['status']}, it must be APPROVED before execution")
            tx_hash = "0x" + secrets.token_hex(32)
            payouts = store.pending_payouts(conn, batch_id)
            for payout in payouts:
                store.complete_payout(conn, payout, "0x" + secrets.token_hex(32))
            after = store.complete_batch(conn, batch_id, tx_hash)
            store.write_audit(conn, program_id=batch["programId"],
                              action="PAYOUT_BATCH_EXECUTED", actor=actor,
                              target_type="PayoutBatch", target_id=batch_id,
                              before={"status": batch["status"]},
                              after={"status": "COMPLETED", "payouts": len(payouts)})
        return {"success": True, "batch": _batch(after), "payoutsExecuted": len(payouts)}

    @app.post("/api/v2/enterprise/reconcile")
    async def reconcile(request: Request) -> Any:
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            raise Refused("body must be JSON: {\"programId\"?: string}") from None
        if not isinstance(body, dict):
            raise Refused("body must be a JSON object")
        program_id = body.get("programId")
        if program_id is not None and not isinstance(program_id, str):
            raise Refused("programId must be a string")
        import anyio

        return await anyio.to_thread.run_sync(_reconcile, database_url, program_id)

    @app.get("/api/v2/enterprise/stats")
    def stats() -> dict:
        with store.connect(database_url) as conn:
            counts = store.table_counts(conn)
        return {"queues": _queue_counts(settings), "database": counts}

    return app


def _reconcile(database_url: str, program_id: str | None) -> dict:
    with store.connect(database_url) as conn:
        if program_id is not None and not store.program_exists(conn, program_id):
            raise Refused("Program not found")
        imbalances = store.ledger_imbalances(conn, program_id)
        journals = store.unbalanced_journals(conn, program_id)
        stuck = store.stuck_intents(conn, program_id)
    return {"success": True, "programId": program_id, "balanced": not imbalances,
            "imbalances": [{**r, "difference": str(r["difference"])} for r in imbalances],
            "unbalancedJournals": [{**r, "difference": str(r["difference"])} for r in journals],
            "stuckIntents": stuck}


def _queue_counts(settings: Settings) -> dict:
    """SGE's BullMQ queues (intents, payouts, reconciler: as profiles/sge.yml declares them), read
    through the product's public queue reader; {} without REDIS_URL."""
    from dataclasses import replace

    from sge_recon.profiles import relations_for
    from sge_recon.queues import QueueUnavailable, queue_source

    source = queue_source(settings, relations_for(replace(settings, PLATFORM_PROFILE="sge")))
    if source is None:
        return {}
    try:
        snap = source.depth()
    except QueueUnavailable as exc:
        raise Refused(exc.message) from None
    return {name: {"waiting": c.waiting, "prioritized": c.prioritized, "delayed": c.delayed,
                   "active": c.active, "failed": c.failed, "completed": c.completed,
                   "paused": c.paused} for name, c in snap.counts.items()}


def _batch(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        out[k] = v.isoformat() + "Z" if hasattr(v, "isoformat") else \
            str(v) if v is not None and not isinstance(v, (str, int, bool)) else v
    return out
