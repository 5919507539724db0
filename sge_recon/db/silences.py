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
                   weekly: tuple[int, Any, int] | None = None,
                   weekly_cap: int | None = None) -> tuple[dict, bool]:
    """(the new silence, True); or (the silence of the same scope — kind, program, weekly
    window — already in force during that time, False) and nothing is inserted: a twin would
    keep muting the pages after the one a lead ends. Silences are added one at a time (two
    console sessions at once: one is created, the other is told). ``weekly_cap``: a weekly
    window is not inserted when, with the windows in force in that time that could mute the
    same incidents (the same kind or every kind, the same program or every program), it would
    mute more minutes a week than this: then ({"over_cap": minutes already}, False)."""
    day, start, minutes = weekly or (None, None, None)
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('recon.silences', 0))")
    if weekly is not None and weekly_cap is not None:
        muted = conn.execute(
            "SELECT coalesce(sum(weekly_minutes), 0)::int AS minutes FROM recon.silences "
            "WHERE ended_at IS NULL AND weekly_day IS NOT NULL AND ends_at > %(starts)s "
            "AND starts_at < %(ends)s AND (kind IS NULL OR %(kind)s::text IS NULL "
            "OR kind = %(kind)s) AND (program_id IS NULL OR %(program)s::text IS NULL "
            "OR program_id = %(program)s)",
            {"starts": starts_at, "ends": ends_at, "kind": kind,
             "program": program_id}).fetchone()["minutes"]
        if muted + int(minutes or 0) > weekly_cap:
            return {"over_cap": muted}, False
    same = conn.execute(
        "SELECT * FROM recon.silences WHERE ended_at IS NULL AND ends_at > %(starts)s "
        "AND starts_at < %(ends)s AND kind IS NOT DISTINCT FROM %(kind)s "
        "AND program_id IS NOT DISTINCT FROM %(program)s "
        "AND weekly_day IS NOT DISTINCT FROM %(day)s "
        "AND weekly_start IS NOT DISTINCT FROM %(start)s::time "
        "AND weekly_minutes IS NOT DISTINCT FROM %(minutes)s ORDER BY id LIMIT 1",
        {"starts": starts_at, "ends": ends_at, "kind": kind, "program": program_id, "day": day,
         "start": start, "minutes": minutes}).fetchone()
    if same is not None:
        return same, False
    return conn.execute(
        "INSERT INTO recon.silences (kind, program_id, reason, owner, created_by, starts_at, "
        "ends_at, weekly_day, weekly_start, weekly_minutes) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (kind, program_id, reason, owner, created_by, starts_at, ends_at, day, start,
         minutes)).fetchone(), True


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
