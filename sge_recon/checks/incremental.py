"""Incremental reconciliation for the per-minute run (issue 8).

The fast run replaces the full-ledger forms of ``ledger_balance`` and ``transaction_balance`` by
their incremental forms: the totals and unbalanced transactions checkpointed in ``recon`` at a
ledger-id watermark, plus the entries added since. Everything else about the check (thresholds,
priority, runbook, wrapping, sample, stored result) stays the catalogue's, so the results are the
same as the full checks' (tests/test_checks_incremental.py compares them on random ledgers). The
daily full run keeps the full scans, and ``ledger_tamper`` compares the checkpoint with the rows.

Before measuring, the run moves the watermark as far as is provably safe
(:func:`sge_recon.db.ledger_checkpoint.advance`); a failure to move it is a note, never an error:
the incremental forms are exact at any watermark, they only read more new entries.
"""

from __future__ import annotations

import dataclasses
import logging

from ..db import Database
from ..db import ledger_checkpoint as checkpoint
from ..db.connection import DriverError
from ..errors import ReconError
from .model import CheckDefinition, FusedQuery
from ..check_names import LEDGER_BALANCE, LEDGER_TAMPER, TRANSACTION_BALANCE

log = logging.getLogger(__name__)
INSUFFICIENT_PRIVILEGE = "42501"  # SQLSTATE of "permission denied for …"

INCREMENTAL_SQL = {
    LEDGER_BALANCE: checkpoint.INCREMENTAL_LEDGER_BALANCE,
    TRANSACTION_BALANCE: checkpoint.INCREMENTAL_TRANSACTION_BALANCE,
}


def advance_checkpoint(db: Database) -> checkpoint.AdvanceReport | None:
    """Move the watermark if it is safe; None (logged) when the checkpoint cannot be read at all
    (e.g. the recon schema predates migration 0007: run `sge-recon db init`)."""
    try:
        return checkpoint.advance(db)
    except (DriverError, ReconError) as exc:
        reason = str(exc).splitlines()[0]
        advice = " (the least-privilege grants: run `sge-recon db init` as the schema owner)" \
            if getattr(exc, "sqlstate", None) == INSUFFICIENT_PRIVILEGE else ""
        log.warning("ledger checkpoint not advanced: %s%s; this run reads the whole ledger, and "
                    "ledger_tamper compares only reconciled history", reason, advice)
        return None


def incremental_definitions(definitions: list[CheckDefinition]) -> list[CheckDefinition]:
    """The same checks, with the ledger checks in their incremental form."""
    out = []
    for d in definitions:
        sql = INCREMENTAL_SQL.get(d.name)
        if sql is not None and d.problem is None:
            d = dataclasses.replace(d, sql=sql.strip(), prelude=checkpoint.WATERMARK_PRELUDE)
        out.append(d)
    return out


def keyed(definitions: list[CheckDefinition], relations) -> list[CheckDefinition]:
    """The checks that compare ledger entries with the checkpoint's watermark (the incremental
    forms, ledger_tamper) written for the ledger's order key under ``relations``: ``id`` on the
    contract platform, the entry's time under a profile (sge_recon/db/ledger_order.py)."""
    if not checkpoint.needs_keying(relations):
        return definitions
    return [dataclasses.replace(d, sql=checkpoint.keyed_sql(d.sql, relations))
            if d.problem is None and (d.name in INCREMENTAL_SQL or d.name == LEDGER_TAMPER)
            else d for d in definitions]


def keyed_fused(queries: list[FusedQuery], relations) -> list[FusedQuery]:
    """The fused queries (checks/fused/) written for the ledger's order key, as :func:`keyed`
    does for ledger_tamper (the fused ledger pass compares entries with the watermark too)."""
    if not checkpoint.needs_keying(relations):
        return queries
    return [dataclasses.replace(q, sql=checkpoint.keyed_sql(q.sql, relations))
            if q.problem is None else q for q in queries]


def rebase(db: Database, reason: str) -> checkpoint.AdvanceReport:
    return checkpoint.rebase(db, reason)
