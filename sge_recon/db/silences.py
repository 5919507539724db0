"""Alert silences (recon.silences): the ones in force, the expiry reminders, an operator's new
or ended silence, and the list the console shows.

Functions that take ``conn`` run inside the caller's transaction; time-dependent queries take
``now`` (the scheduler's clock is injectable)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .connection import Database


def active_silences(conn, now: datetime) -> list[dict]:
    """Silences started and neither expired nor ended (a weekly one may be outside its window:
    sge_recon/alerts/silences.py decides)."""
    return conn.execute(
        "SELECT * FROM recon.silences WHERE starts_at <= %(now)s AND ends_at > %(now)s "
        "AND ended_at IS NULL ORDER BY id", {"now": now}).fetchall()


def silences_to_remind(conn, now: datetime, before: datetime) -> list[dict]:
    """Silences about to expire, not reminded yet (marked now): within ``before`` of the expiry,
    or the last quarter of a shorter silence."""
    return conn.execute(
        "UPDATE recon.silences SET expiry_reminded_at = %(now)s WHERE ended_at IS NULL "
        "AND expiry_reminded_at IS NULL AND ends_at > %(now)s "
        "AND ends_at - %(now)s <= least(%(before)s::timestamptz - %(now)s, "
        "(ends_at - starts_at) / 4) RETURNING *", {"now": now, "before": before}).fetchall()


def insert_silence(conn, *, kind: str | None, program_id: str | None, reason: str, owner: str,
                   created_by: str, starts_at: datetime, ends_at: datetime,
                   weekly: tuple[int, Any, int] | None = None) -> dict:
    day, start, minutes = weekly or (None, None, None)
    return conn.execute(
        "INSERT INTO recon.silences (kind, program_id, reason, owner, created_by, starts_at, "
        "ends_at, weekly_day, weekly_start, weekly_minutes) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (kind, program_id, reason, owner, created_by, starts_at, ends_at, day, start,
         minutes)).fetchone()


def end_silence(conn, silence_id: int, who: str, now: datetime) -> dict | None:
    return conn.execute(
        "UPDATE recon.silences SET ended_at = %s, ended_by = %s "
        "WHERE id = %s AND ended_at IS NULL AND ends_at > %s RETURNING *",
        (now, who, silence_id, now)).fetchone()


def silences(db: Database, now: datetime, limit: int = 100) -> list[dict]:
    """Active and upcoming first, then the expired ones (newest first)."""
    return db.fetch_all(
        "SELECT *, (ended_at IS NULL AND starts_at <= %(now)s AND ends_at > %(now)s) AS active "
        "FROM recon.silences ORDER BY (ended_at IS NULL AND ends_at > %(now)s) DESC, ends_at DESC "
        "LIMIT %(limit)s", {"now": now, "limit": limit})
