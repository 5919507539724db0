"""SQL of the payout circuit breaker (sge_recon/console/breaker.py): which P0 ledger incidents
hold a program's payouts, and the two-person overrides in recon.breaker_overrides."""

from __future__ import annotations
from .. import check_names

BREAKER_KINDS = ["ledger_imbalance", check_names.LEDGER_TAMPER]


def batch_program(conn, batch_id: str) -> dict | None:
    return conn.execute("SELECT id AS batch_id, program_id, status FROM platform.payout_batches "
                        "WHERE id = %s", (batch_id,)).fetchone()


def blocking_incidents(conn, program_id: str) -> list[dict]:
    """Unresolved P0 ledger incidents that name the program: grouped ones list it under
    details.programs, single ones under details.program_id, per-key ones in their key.
    ``evidence_changed_at``: when its failing set or money last changed (NULL: never since it
    opened)."""
    return conn.execute("""
        SELECT id, kind, priority, status, title, opened_at,
               (SELECT max((c ->> 'at')::timestamptz)
                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(details -> 'evidence_changes')
                                                    = 'array'
                                               THEN details -> 'evidence_changes'
                                               ELSE '[]'::jsonb END) AS c) AS evidence_changed_at
        FROM recon.incidents
        WHERE status <> 'resolved' AND priority = 'P0' AND kind = ANY(%(kinds)s)
          AND (coalesce(details -> 'programs', '[]'::jsonb) ? %(program)s
               OR details ->> 'program_id' = %(program)s
               OR split_part(key, '/', 1) = %(program)s)
        ORDER BY opened_at, id""", {"kinds": BREAKER_KINDS, "program": program_id}).fetchall()


def insert_override(conn, *, batch_id: str, program_id: str, incident_ids: list[int],
                    reason: str, requested_by: str) -> dict:
    return conn.execute("""
        INSERT INTO recon.breaker_overrides (batch_id, program_id, incident_ids, reason,
                                             requested_by)
        VALUES (%s, %s, %s, %s, %s) RETURNING *""",
                        (batch_id, program_id, incident_ids, reason, requested_by)).fetchone()


def override(conn, override_id: int, lock: bool = False) -> dict | None:
    return conn.execute("SELECT * FROM recon.breaker_overrides WHERE id = %s"
                        + (" FOR UPDATE" if lock else ""), (override_id,)).fetchone()


def confirm_override(conn, override_id: int, confirmed_by: str) -> dict | None:
    return conn.execute("""
        UPDATE recon.breaker_overrides SET confirmed_by = %s, confirmed_at = now()
        WHERE id = %s AND confirmed_by IS NULL AND used_at IS NULL AND requested_by <> %s
        RETURNING *""", (confirmed_by, override_id, confirmed_by)).fetchone()


def use_confirmed_override(conn, batch_id: str, used_by: str, incident_ids: list[int],
                           evidence_changed_at) -> dict | None:
    """Take the oldest confirmed, unused override of the batch (once: row-locked, marked) that
    still holds: requested against every incident holding the breaker now (``incident_ids``),
    and after their evidence last changed (``evidence_changed_at``, None: never)."""
    return conn.execute("""
        UPDATE recon.breaker_overrides SET used_at = now(), used_by = %(used_by)s
        WHERE id = (SELECT id FROM recon.breaker_overrides
                    WHERE batch_id = %(batch)s AND confirmed_by IS NOT NULL AND used_at IS NULL
                      AND incident_ids @> %(ids)s::bigint[]
                      AND (%(changed)s::timestamptz IS NULL OR requested_at > %(changed)s)
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING *""", {"used_by": used_by, "batch": batch_id, "ids": incident_ids,
                         "changed": evidence_changed_at}).fetchone()


def release_override(conn, override_id: int, used_by: str) -> dict | None:
    """Give back an override whose execution was not done (refused, or never sent): it stays
    ready for the next attempt instead of needing two admins again."""
    return conn.execute("""
        UPDATE recon.breaker_overrides SET used_at = NULL, used_by = NULL
        WHERE id = %s AND used_by = %s RETURNING *""", (override_id, used_by)).fetchone()


def overrides(conn, batch_id: str | None = None, limit: int = 100) -> list[dict]:
    return conn.execute("""
        SELECT * FROM recon.breaker_overrides
        WHERE %(batch)s::text IS NULL OR batch_id = %(batch)s
        ORDER BY id DESC LIMIT %(limit)s""", {"batch": batch_id, "limit": limit}).fetchall()


def account_role(conn, name: str) -> dict | None:
    return conn.execute("SELECT name, role, disabled FROM recon.console_users WHERE name = %s",
                        (name,)).fetchone()
