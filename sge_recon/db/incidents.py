"""Incidents (recon.incidents): as the alert evaluation opens, refreshes and resolves them, and
as the console reads and changes them (lists, one incident, the operator's acknowledge, accept,
resolve and notes).

Functions that take ``conn`` run inside the caller's transaction (one per page load or action;
one per evaluation, so that an incident and the alerts it enqueues are written together or not
at all). The evaluation's queries take ``now``: the scheduler's clock is injectable.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from .connection import Database
from .rows import all_rows

if TYPE_CHECKING:
    from .snapshot import Reader

ALERTS_LOCK_KEY = 0x5C4EE  # one incident evaluation at a time per database


INCIDENT_COLUMNS = """id, kind, key, priority, status, title, details, money_at_stake, opened_at,
    last_seen_at, acknowledged_at, acknowledged_by, resolved_at, notes, check_run_id, accepted_at,
    accepted_by, accept_note"""


def incidents(conn, statuses: list[str], limit: int) -> list[dict]:
    return all_rows(conn, f"""
        SELECT {INCIDENT_COLUMNS} FROM recon.incidents WHERE status = ANY(%s)
        ORDER BY (status = 'resolved'), priority, opened_at DESC LIMIT %s""", (statuses, limit))


def incident_by_id(conn, incident_id: int) -> dict | None:
    return conn.execute(f"SELECT {INCIDENT_COLUMNS} FROM recon.incidents WHERE id = %s",
                        (incident_id,)).fetchone()


def acknowledge_incident(conn, incident_id: int, operator: str,
                         at: datetime | None = None) -> dict | None:
    """Somebody is on it: no more reminders. ``at`` is the scheduler's clock (the database's
    ``now()`` when None, as for an operator in the console)."""
    return conn.execute(f"""
        UPDATE recon.incidents SET status = 'acknowledged',
               acknowledged_at = coalesce(%s::timestamptz, now()), acknowledged_by = %s
        WHERE id = %s AND status = 'open' RETURNING {INCIDENT_COLUMNS}""",
                        (at, operator, incident_id)).fetchone()


def accept_incident(conn, incident_id: int, operator: str, note: str, line: str) -> dict | None:
    """Accept with a note: no reminders, still unresolved (a passing check resolves it)."""
    return conn.execute(f"""
        UPDATE recon.incidents SET status = 'accepted', accepted_at = now(), accepted_by = %s,
               accept_note = %s,
               notes = CASE WHEN coalesce(notes, '') = '' THEN %s ELSE notes || E'\\n' || %s END
        WHERE id = %s AND status IN ('open', 'acknowledged') RETURNING {INCIDENT_COLUMNS}""",
                        (operator, note, line, line, incident_id)).fetchone()


def reopen_incident(conn, incident_id: int, news: list[str]) -> dict | None:
    """An acknowledged or accepted incident whose fault got worse (``news``: what is new) is
    open again: its reminders resume; the note says why."""
    line = "reopened by the alerting: worse since acknowledged/accepted: " + ", ".join(news[:20])
    return conn.execute(f"""
        UPDATE recon.incidents SET status = 'open',
               notes = CASE WHEN coalesce(notes, '') = '' THEN %s ELSE notes || E'\n' || %s END
        WHERE id = %s AND status IN ('acknowledged', 'accepted')
        RETURNING {INCIDENT_COLUMNS}""", (line, line, incident_id)).fetchone()


def resolve_incident(conn, incident_id: int, except_kinds: list[str] | None = None
                     ) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.incidents SET status = 'resolved', resolved_at = now()
        WHERE id = %s AND status <> 'resolved' AND NOT kind = ANY(%s)
        RETURNING {INCIDENT_COLUMNS}""", (incident_id, except_kinds or [])).fetchone()


def append_incident_note(conn, incident_id: int, line: str) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.incidents
        SET notes = CASE WHEN coalesce(notes, '') = '' THEN %s ELSE notes || E'\\n' || %s END
        WHERE id = %s RETURNING {INCIDENT_COLUMNS}""", (line, line, incident_id)).fetchone()


# -- the alert evaluation -----------------------------------------------------------------------
def lock_alerts(conn) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (ALERTS_LOCK_KEY,))


def unresolved_incidents(conn) -> list[dict]:
    return conn.execute(
        "SELECT * FROM recon.incidents WHERE status <> 'resolved' ORDER BY opened_at, id"
    ).fetchall()


def insert_incident(conn, *, kind: str, key: str, priority: str, title: str,
                    details: dict[str, Any], money_at_stake: Decimal | None, now: datetime,
                    check_run_id: str | None = None) -> dict | None:
    return conn.execute(
        "INSERT INTO recon.incidents (kind, key, priority, status, title, details, money_at_stake,"
        " opened_at, last_seen_at, last_notified_at, check_run_id) "
        "VALUES (%s, %s, %s, 'open', %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (kind, key) WHERE status <> 'resolved' DO NOTHING RETURNING *",
        (kind, key, priority, title, Jsonb(details), money_at_stake, now, now, now,
         check_run_id)).fetchone()


def refresh_incident(conn, incident_id: int, *, title: str, details: dict[str, Any],
                     money_at_stake: Decimal | None, now: datetime, notified: bool,
                     key: str | None = None, priority: str | None = None) -> None:
    conn.execute(
        "UPDATE recon.incidents SET title = %s, details = %s, money_at_stake = %s, "
        "last_seen_at = %s, last_notified_at = CASE WHEN %s THEN %s ELSE last_notified_at END, "
        "key = coalesce(%s, key), priority = coalesce(%s, priority) WHERE id = %s",
        (title, Jsonb(details), money_at_stake, now, notified, now, key, priority, incident_id))


def resolve_passed_incident(conn, incident_id: int, now: datetime,
                            cleared_at: datetime | None = None) -> dict:
    """The finding is gone: resolved as of ``cleared_at`` (when it was first seen clear;
    ``now`` by default), and the resolution announced (notified now)."""
    return conn.execute(
        "UPDATE recon.incidents SET status = 'resolved', resolved_at = %s, last_notified_at = %s "
        "WHERE id = %s RETURNING *", (cleared_at or now, now, incident_id)).fetchone()


def touch_incident_notified(conn, incident_id: int, now: datetime) -> None:
    """A reminder went out at ``now`` (its facts unchanged: its check could not run)."""
    conn.execute("UPDATE recon.incidents SET last_notified_at = %s WHERE id = %s",
                 (now, incident_id))


def mark_incident_clear_since(conn, incident_id: int, now: datetime) -> None:
    """The finding was not there at ``now``: the incident resolves if it stays away
    (``details.clear_since``; the finding coming back rewrites the details without it)."""
    conn.execute("UPDATE recon.incidents SET details = coalesce(details, '{}'::jsonb) || "
                 "jsonb_build_object('clear_since', %s::text) WHERE id = %s",
                 (now.isoformat(), incident_id))


def incidents_by_status(db: Database, status: str | None = None, limit: int = 200) -> list[dict]:
    return db.fetch_all(
        "SELECT * FROM recon.incidents WHERE (%(status)s::text IS NULL OR status = %(status)s) "
        "ORDER BY opened_at DESC, id DESC LIMIT %(limit)s", {"status": status, "limit": limit})


def open_incident_counts(db: Reader) -> list[dict]:
    return db.fetch_all(
        "SELECT priority, kind, count(*) AS n FROM recon.incidents WHERE status <> 'resolved' "
        "GROUP BY priority, kind ORDER BY priority, kind")
