"""The console's action log (recon.action_log): every state-changing action, who did it and
what the platform answered.

Each function takes an open connection (one transaction per page load or action)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from .rows import all_rows


def record_action(conn, *, operator: str, action: str, target: str | None,
                  request: dict | None, result: str, status_code: int | None,
                  response: Any, error: str | None, posted_alone: bool = False) -> dict:
    """``posted_alone``: a direct ledger correction, sent by one admin without a second one
    (it counts in that admin's 24-hour window: corrections.posted_alone)."""
    return conn.execute("""
        INSERT INTO recon.action_log (operator, action, target, request, result, status_code,
                                      response, error, posted_alone)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        RETURNING id, at, operator, action, target, result, status_code, error""",
                        (operator, action, target, Jsonb(request) if request is not None else None,
                         result, status_code, Jsonb(response) if response is not None else None,
                         error, posted_alone)).fetchone()


def begin_attempt(conn, *, operator: str, action: str, target: str | None,
                  request: dict | None, posted_alone: bool = False) -> dict:
    """The row of a request about to be sent (result 'pending'), written and committed BEFORE
    it is sent: a console that dies before recording the answer still leaves it."""
    return record_action(conn, operator=operator, action=action, target=target, request=request,
                         result="pending", status_code=None, response=None, error=None,
                         posted_alone=posted_alone)


def complete_attempt(conn, row_id: int, *, result: str, status_code: int | None, response: Any,
                     error: str | None) -> dict | None:
    """Record the answer on the pending row ``row_id`` (once: a completed row is not changed)."""
    return conn.execute("""
        UPDATE recon.action_log SET result = %s, status_code = %s, response = %s, error = %s,
                                    completed_at = clock_timestamp()
        WHERE id = %s AND result = 'pending'
        RETURNING id, at, operator, action, target, result, status_code, error""",
                        (result, status_code, Jsonb(response) if response is not None else None,
                         error, row_id)).fetchone()


# How a pending row reads wherever the action log is shown (console, recent actions).
PENDING_SHOWN = "sent, outcome unknown — check the platform"
# How an 'unknown' row reads: sent, and its answer (status_code, error) does not say whether it
# was done (a timeout, a dropped connection, a 5xx, an unclear 2xx).
UNKNOWN_SHOWN = "sent, answer unclear: may have been done — check the platform"


def last_ok_action(conn, actions: list[str], target: str) -> dict | None:
    """The newest successful console action of these kinds on ``target`` (who did it)."""
    return conn.execute("""
        SELECT id, at, operator, action FROM recon.action_log
        WHERE action = ANY(%s) AND target = %s AND result = 'ok'
        ORDER BY at DESC, id DESC LIMIT 1""", (actions, target)).fetchone()


def last_ok_actions_on(conn, action: str, targets: list[str]) -> dict[str, dict]:
    """Per target: the newest successful console action of this kind (who, when)."""
    rows = conn.execute("""
        SELECT DISTINCT ON (target) target, id, at, operator FROM recon.action_log
        WHERE action = %s AND target = ANY(%s) AND result = 'ok'
        ORDER BY target, at DESC, id DESC""", (action, targets)).fetchall()
    return {r["target"]: r for r in rows}


def recent_actions(conn, limit: int, target: str | None = None) -> list[dict]:
    """The newest actions; a 'pending' one (sent, its answer never recorded) reads as
    PENDING_SHOWN in ``result``, an 'unknown' one (its answer unclear) as UNKNOWN_SHOWN."""
    return all_rows(conn, """
        SELECT id, at, operator, action, target,
               CASE result WHEN 'pending' THEN %(pending)s WHEN 'unknown' THEN %(unknown)s
                           ELSE result END AS result,
               status_code, error
        FROM recon.action_log WHERE %(target)s::text IS NULL OR target = %(target)s
        ORDER BY at DESC, id DESC LIMIT %(limit)s""", {"target": target, "limit": limit,
                                             "pending": PENDING_SHOWN,
                                             "unknown": UNKNOWN_SHOWN})


def approval_attempts(conn, operator: str, batch_id: str | None = None) -> list[dict]:
    """The console account's payout approvals (of one batch, or of every batch), oldest first:
    ``done`` when the API answered that it approved, else the outcome is unknown (no answer, a
    dropped connection, an unclear 2xx, a 5xx, or an attempt not yet answered) — it may have
    approved. A definite no is left out: the API's refusal (HTTP 3xx/4xx) or the console's own
    (``Refused: …``, never sent). ``approver_key``: the key slot it used (text; NULL on the SGE
    dialect, which approves as the account itself)."""
    return conn.execute("""
        SELECT id, at, target AS batch_id, request->>'approverKey' AS approver_key,
               result = 'ok' AS done
        FROM recon.action_log
        WHERE operator = %(operator)s AND action = 'approve_payout_batch'
          AND (%(batch)s::text IS NULL OR target = %(batch)s)
          AND NOT (result <> 'ok'
                   AND (coalesce(status_code BETWEEN 300 AND 499, false)
                        OR (status_code IS NULL AND coalesce(error, '') LIKE 'Refused:%%')))
        ORDER BY id""", {"operator": operator, "batch": batch_id}).fetchall()
