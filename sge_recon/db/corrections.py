"""Data access for ledger corrections as the console prepares them: the accounts a program's
ledger already has, and the requests that wait for a second admin (recon.correction_requests)."""

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
