"""The alert outbox (recon.alert_deliveries): messages queued per channel in the transaction that
opens, reminds or resolves an incident, then claimed and sent with retries and back-off.

Functions that take ``conn`` run inside the caller's transaction, so that an incident and the
alerts it enqueues are written together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from .connection import Database

if TYPE_CHECKING:
    from .snapshot import Reader


def enqueue_alert(conn, *, incident_id: int | None, channel: str, event: str,
                  payload: dict[str, Any], now: datetime,
                  dedup_key: str | None = None) -> int | None:
    """Queue one message; its id. With ``dedup_key`` (a job slot's notice: '<job>:<slot>') the
    message is queued once per channel: None when that channel already has it (pending, sent or
    given up), and nothing is queued again."""
    row = conn.execute(
        "INSERT INTO recon.alert_deliveries (incident_id, channel, event, payload, status, "
        "created_at, next_attempt_at, dedup_key) VALUES (%s, %s, %s, %s, 'pending', %s, %s, %s) "
        "ON CONFLICT (channel, dedup_key) DO NOTHING RETURNING id",
        (incident_id, channel, event, Jsonb(payload), now, now, dedup_key)).fetchone()
    return row["id"] if row else None


def due_alert_channels(db: Database, now: datetime) -> list[str]:
    """The channels with a pending message due by ``now`` (each is delivered on its own)."""
    return [r["channel"] for r in db.fetch_all(
        "SELECT DISTINCT channel FROM recon.alert_deliveries WHERE status = 'pending' "
        "AND coalesce(next_attempt_at, created_at) <= %s ORDER BY channel", (now,))]


def claim_due_alert(conn, now: datetime, channel: str, exclude_ids: list[int]) -> dict | None:
    """The most urgent due pending alert of ``channel`` (its incident's priority, P0 first, then
    notices; oldest first within each), locked so that a second scheduler skips it: a P0 never
    waits behind a backlog of lesser messages (one pass posts at most ``limit`` per channel).

    Order: an incident's messages of one channel go out in order (its resolution never overtakes
    its opening message that is waiting for a retry), but a message waiting out a back-off never
    holds back other incidents' messages or notices: one poisoned message cannot block a channel.
    Only a channel that asked us to wait (429 Retry-After: ``holds_channel``) holds all of its
    messages, until then."""
    return conn.execute(
        "SELECT * FROM recon.alert_deliveries d WHERE status = 'pending' "
        "AND channel = %(channel)s "
        "AND coalesce(next_attempt_at, created_at) <= %(now)s AND NOT (id = ANY(%(ids)s)) "
        "AND NOT EXISTS ("
        "  SELECT 1 FROM recon.alert_deliveries o WHERE o.status = 'pending' "
        "  AND o.channel = d.channel AND o.incident_id = d.incident_id "
        "  AND (o.created_at, o.id) < (d.created_at, d.id)) "
        "AND NOT EXISTS (SELECT 1 FROM recon.alert_deliveries h WHERE h.status = 'pending' "
        "  AND h.channel = d.channel AND h.holds_channel AND h.next_attempt_at > %(now)s) "
        "ORDER BY (SELECT i.priority FROM recon.incidents i WHERE i.id = d.incident_id) "
        "NULLS LAST, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        {"now": now, "ids": exclude_ids, "channel": channel}).fetchone()


def round_trigger_given_up(conn, alert: dict) -> bool:
    """For a ``supersede`` (the resolve of the previous PagerDuty round's alert): whether the
    trigger of the round that replaces it (the ``reopen`` queued just before it) was given up."""
    row = conn.execute(
        "SELECT status FROM recon.alert_deliveries WHERE incident_id = %s AND channel = %s "
        "AND event = 'reopen' AND id < %s ORDER BY id DESC LIMIT 1",
        (alert["incident_id"], alert["channel"], alert["id"])).fetchone()
    return row is not None and row["status"] == "failed"


def trigger_given_up(conn, incident_id: int, channel: str) -> bool:
    """Whether the incident's latest trigger to ``channel`` (its opening, reopening or
    escalation) was given up: the channel holds no alert for it (a 400, or 24 h of outage)."""
    row = conn.execute(
        "SELECT status FROM recon.alert_deliveries WHERE incident_id = %s AND channel = %s "
        "AND event IN ('open', 'reopen', 'escalate') ORDER BY id DESC LIMIT 1",
        (incident_id, channel)).fetchone()
    return row is not None and row["status"] == "failed"


def unsent_supersedes(conn, incident_id: int, channel: str) -> list[dict]:
    """The resolves of earlier rounds' alerts that were never sent (given up, or held back
    because the next round's trigger was given up): those alerts are still open there."""
    return [r["payload"] for r in conn.execute(
        "SELECT payload FROM recon.alert_deliveries WHERE incident_id = %s AND channel = %s "
        "AND event = 'supersede' AND status = 'failed' ORDER BY id",
        (incident_id, channel)).fetchall()]


def mark_alert_sent(conn, alert_id: int, now: datetime) -> None:
    conn.execute("UPDATE recon.alert_deliveries SET status = 'sent', sent_at = %s, "
                 "attempts = attempts + 1, last_error = NULL, holds_channel = false "
                 "WHERE id = %s", (now, alert_id))


def mark_alert_attempt_failed(conn, alert_id: int, error: str, next_attempt_at: datetime | None,
                              holds_channel: bool = False) -> None:
    """A failed attempt: retried at ``next_attempt_at``, or given up (``failed``) when None.
    ``holds_channel``: the channel asked to wait (429): its other messages wait as well."""
    conn.execute(
        "UPDATE recon.alert_deliveries SET attempts = attempts + 1, last_error = %s, "
        "next_attempt_at = %s, holds_channel = %s AND %s::timestamptz IS NOT NULL, "
        "status = CASE WHEN %s::timestamptz IS NULL THEN 'failed' ELSE 'pending' END "
        "WHERE id = %s",
        (error, next_attempt_at, holds_channel, next_attempt_at, next_attempt_at, alert_id))


def alert_deliveries(db: Database, incident_id: int | None = None, limit: int = 200) -> list[dict]:
    return db.fetch_all(
        "SELECT * FROM recon.alert_deliveries "
        "WHERE (%(incident)s::bigint IS NULL OR incident_id = %(incident)s) "
        "ORDER BY created_at, id LIMIT %(limit)s", {"incident": incident_id, "limit": limit})


def alert_delivery_counts(db: "Reader") -> list[dict]:
    return db.fetch_all("SELECT channel, status, count(*) AS n FROM recon.alert_deliveries "
                        "GROUP BY channel, status ORDER BY channel, status")
