"""Data access for ledger corrections as the console prepares them: the accounts a program's
ledger already has, the requests that wait for a second admin (recon.correction_requests), and
the direct corrections whose outcome is not known yet (recon.correction_attempts, 0035)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb


def known_accounts(conn: Any, program_id: str, limit: int = 5000) -> list[str]:
    """The accounts the program's ledger has entries on (a correction picks from these)."""
    rows = conn.execute("""
        SELECT DISTINCT account FROM platform.ledger_entries WHERE program_id = %s
        ORDER BY account LIMIT %s""", (program_id, limit)).fetchall()
    return [r["account"] for r in rows]


def program_totals(conn: Any, program_id: str) -> list[dict]:
    """Debits − credits per currency of the program's whole ledger (the dry run's before)."""
    return conn.execute("""
        SELECT currency,
               coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0)
             - coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0) AS difference
        FROM platform.ledger_entries WHERE program_id = %s
        GROUP BY currency ORDER BY currency""", (program_id,)).fetchall()


def insert_request(conn: Any, *, program_id: str, transaction_id: str | None, reason: str,
                   entries: list[dict], requested_by: str) -> dict:
    return conn.execute("""
        INSERT INTO recon.correction_requests
            (program_id, transaction_id, reason, entries, requested_by)
        VALUES (%s, %s, %s, %s, %s) RETURNING *""",
        (program_id, transaction_id, reason, Jsonb(entries), requested_by)).fetchone()


def pending_requests(conn: Any) -> list[dict]:
    return conn.execute("""
        SELECT * FROM recon.correction_requests WHERE status = 'pending'
        ORDER BY requested_at, id""").fetchall()


def lock_pending(conn: Any, request_id: int) -> dict | None:
    """The request while it is pending, locked: two admins confirming at once post it once."""
    return conn.execute("""
        SELECT * FROM recon.correction_requests WHERE id = %s AND status = 'pending'
        FOR UPDATE""", (request_id,)).fetchone()


def decide(conn: Any, request_id: int, *, status: str, decided_by: str, result: str) -> None:
    conn.execute("""
        UPDATE recon.correction_requests
        SET status = %s, decided_by = %s, decided_at = now(), result = %s
        WHERE id = %s""", (status, decided_by, result, request_id))


def claim_attempt(conn: Any, *, operator: str, content_sha256: str, fresh_key: str,
                  program_id: str, transaction_id: str | None) -> dict:
    """The Idempotency-Key of this operator's correction of this content: the one of an attempt
    whose outcome is still unknown (``reused``), else ``fresh_key``, recorded before it is sent.
    Two submissions at once get the same key (the second waits for the first's insert)."""
    conn.execute("""
        INSERT INTO recon.correction_attempts
            (operator, content_sha256, request_key, program_id, transaction_id)
        VALUES (%s, %s, %s, %s, %s) ON CONFLICT (operator, content_sha256) DO NOTHING""",
                 (operator, content_sha256, fresh_key, program_id, transaction_id))
    return conn.execute("""
        SELECT request_key, started_at, request_key <> %s AS reused
        FROM recon.correction_attempts WHERE operator = %s AND content_sha256 = %s""",
                        (fresh_key, operator, content_sha256)).fetchone()


def clear_attempt(conn: Any, *, operator: str, content_sha256: str, request_key: str) -> None:
    """An answer said what happened to the attempt sent with ``request_key``: forget it (the
    next identical correction is a new one)."""
    conn.execute("""
        DELETE FROM recon.correction_attempts
        WHERE operator = %s AND content_sha256 = %s AND request_key = %s""",
                 (operator, content_sha256, request_key))


def lock_window(conn: Any, operator: str) -> None:
    """Serialise one admin's direct corrections until the transaction ends: the window read
    (posted_alone) and the attempt's pending row are one step, so two tabs sending at the same
    moment cannot both read a window without the other's correction."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('recon.correction_window'), hashtext(%s))",
                 (operator,))


def posted_alone(conn: Any, operator: str, hours: int,
                 except_key: str | None = None) -> list[dict]:
    """What ``operator`` moved in direct corrections (recon.action_log.posted_alone: no second
    admin) in the last ``hours``, per currency and side (debit/credit), exactly (numeric): those
    answered ok and those sent whose outcome is unknown or not yet recorded (they may have been
    posted). ``except_key``: the correction about to be sent again with the same Idempotency-Key
    (posted at most once, so it is not counted twice). Rows sent with the same
    Idempotency-Key (a retry after an unclear answer) are one correction, counted once."""
    return conn.execute("""
        WITH sent AS (
            SELECT DISTINCT ON (coalesce(a.request->>'idempotencyKey', a.id::text)) a.request
            FROM recon.action_log a
            WHERE a.operator = %(operator)s AND a.posted_alone
              AND a.action = 'ledger_correction' AND a.result IN ('ok', 'unknown', 'pending')
              AND a.at > clock_timestamp() - make_interval(hours => %(hours)s)
              AND (%(key)s::text IS NULL
                   OR a.request->>'idempotencyKey' IS DISTINCT FROM %(key)s)
            ORDER BY coalesce(a.request->>'idempotencyKey', a.id::text), a.id)
        SELECT e->>'currency' AS currency, e->>'type' AS type,
               sum((e->>'amount')::numeric) AS moved
        FROM sent CROSS JOIN LATERAL jsonb_array_elements(
            CASE jsonb_typeof(sent.request->'entries') WHEN 'array' THEN sent.request->'entries'
                 ELSE '[]'::jsonb END) AS e
        GROUP BY 1, 2 ORDER BY 1, 2""",
                        {"operator": operator, "hours": hours, "key": except_key}).fetchall()
