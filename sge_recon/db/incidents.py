"""Incidents as the console reads and changes them (recon.incidents): lists, one incident, and
the operator's acknowledge, accept, resolve and notes.

Each function takes an open connection (one transaction per page load or action)."""

from __future__ import annotations

from .rows import all_rows


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


def acknowledge_incident(conn, incident_id: int, operator: str) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.incidents SET status = 'acknowledged', acknowledged_at = now(),
               acknowledged_by = %s
        WHERE id = %s AND status = 'open' RETURNING {INCIDENT_COLUMNS}""",
                        (operator, incident_id)).fetchone()


def accept_incident(conn, incident_id: int, operator: str, note: str, line: str) -> dict | None:
    """Accept with a note: no reminders, still unresolved (a passing check resolves it)."""
    return conn.execute(f"""
        UPDATE recon.incidents SET status = 'accepted', accepted_at = now(), accepted_by = %s,
               accept_note = %s,
               notes = CASE WHEN coalesce(notes, '') = '' THEN %s ELSE notes || E'\\n' || %s END
        WHERE id = %s AND status IN ('open', 'acknowledged') RETURNING {INCIDENT_COLUMNS}""",
                        (operator, note, line, line, incident_id)).fetchone()


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
