"""Data access for webhook deliveries as the Webhooks page explores them: filtered lists, the
attempt history of one delivery (where the platform keeps one), and the deliveries a "recover"
re-sends. Each function takes an open connection (one read-only transaction per page load)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .rows import all_rows

DELIVERY_STATUSES = ("pending", "delivered", "retry_scheduled", "failed")
RECOVERABLE = ("failed", "retry_scheduled")


def deliveries(conn: Any, *, endpoint_id: str | None = None, status: str | None = None,
               event_type: str | None = None, since: datetime | None = None,
               until: datetime | None = None, limit: int = 200) -> list[dict]:
    """Deliveries matching every filter given (None: any), newest first."""
    return conn.execute("""
        SELECT d.id AS delivery_id, d.status, d.event_type, d.endpoint_id, e.program_id,
               d.attempt_count, d.last_error, d.last_attempt_at, d.next_retry_at, d.created_at
        FROM platform.webhook_deliveries d
        LEFT JOIN platform.webhook_endpoints e ON e.id = d.endpoint_id
        WHERE (%(endpoint)s::text IS NULL OR d.endpoint_id = %(endpoint)s)
          AND (%(status)s::text IS NULL OR d.status = %(status)s)
          AND (%(event)s::text IS NULL OR d.event_type = %(event)s)
          AND (%(since)s::timestamptz IS NULL OR d.created_at >= %(since)s)
          AND (%(until)s::timestamptz IS NULL OR d.created_at < %(until)s)
        ORDER BY d.created_at DESC, d.id DESC LIMIT %(limit)s""",
        {"endpoint": endpoint_id, "status": status, "event": event_type, "since": since,
         "until": until, "limit": limit}).fetchall()


def filter_choices(conn: Any) -> dict[str, list[str]]:
    """The endpoints and event types there are to filter by."""
    endpoints = conn.execute("SELECT id FROM platform.webhook_endpoints ORDER BY id LIMIT 500")
    events = conn.execute("SELECT DISTINCT event_type FROM platform.webhook_deliveries "
                          "ORDER BY 1 LIMIT 200")
    return {"endpoints": [r["id"] for r in endpoints.fetchall()],
            "event_types": [r["event_type"] for r in events.fetchall()]}


def attempts(conn: Any, delivery_id: str) -> list[dict] | None:
    """Every attempt of one delivery, oldest first; None when the platform keeps no attempt
    history (``webhook_attempts`` is an optional relation: the reference platform has it)."""
    kept = conn.execute(
        "SELECT to_regclass('platform.webhook_attempts') IS NOT NULL AS kept").fetchone()
    if not kept["kept"]:
        return None
    return conn.execute("""
        SELECT attempt, attempted_at, status_code, ok, error
        FROM platform.webhook_attempts WHERE delivery_id = %s
        ORDER BY attempt, attempted_at""", (delivery_id,)).fetchall()


def recoverable(conn: Any, *, endpoint_id: str | None, since: datetime, until: datetime,
                limit: int) -> list[dict]:
    """The deliveries a "recover" re-sends: failed or waiting for a retry, created in
    [since, until), of one endpoint or all, oldest first (at most ``limit`` + 1, so a caller
    can tell that there are more)."""
    return conn.execute("""
        SELECT d.id AS delivery_id, d.endpoint_id, d.status, d.created_at
        FROM platform.webhook_deliveries d
        WHERE d.status = ANY(%(statuses)s)
          AND (%(endpoint)s::text IS NULL OR d.endpoint_id = %(endpoint)s)
          AND d.created_at >= %(since)s AND d.created_at < %(until)s
        ORDER BY d.created_at, d.id LIMIT %(limit)s""",
        {"statuses": list(RECOVERABLE), "endpoint": endpoint_id, "since": since,
         "until": until, "limit": limit + 1}).fetchall()


# -- the Webhooks page's failing deliveries and endpoint health ------------------------------------
def failing_deliveries(conn, limit: int) -> list[dict]:
    return all_rows(conn, """
        SELECT d.id AS delivery_id, d.endpoint_id, e.url, d.event_type, d.status,
               d.attempt_count, d.last_error, d.last_attempt_at, d.next_retry_at, d.created_at
        FROM platform.webhook_deliveries d LEFT JOIN platform.webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.status IN ('retry_scheduled', 'failed')
        ORDER BY (d.status = 'failed') DESC, d.next_retry_at NULLS LAST LIMIT %s""", (limit,))


def delivery(conn, delivery_id: str) -> dict | None:
    return conn.execute("""
        SELECT d.id AS delivery_id, d.endpoint_id, e.url, d.event_type, d.status,
               d.attempt_count, d.last_error, d.last_attempt_at, d.next_retry_at, d.created_at,
               d.payload
        FROM platform.webhook_deliveries d
        LEFT JOIN platform.webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.id = %s""", (delivery_id,)).fetchone()


def endpoints(conn) -> list[dict]:
    """Every endpoint with its last successful delivery, for display. Whether one is failing
    (and its streak of failed attempts) is the check webhook_endpoints_failing's answer
    (sge_recon.console.verdicts), never computed here."""
    # last_success_at is max(coalesce(last_attempt_at, created_at)) of the endpoint's delivered
    # deliveries, written as two walks of the platform's (endpoint_id, last_attempt_at) index:
    # the newest attempted one (read backwards from the end, past any failing streak) and the
    # newest never attempted (last_attempt_at IS NULL: created_at). As one max() it read every
    # delivered delivery of every endpoint (0.8 s at 320,000 deliveries).
    return all_rows(conn, """
        SELECT e.id AS endpoint_id, e.program_id, e.url, e.enabled, e.disabled_at,
               greatest(
                 (SELECT ok.last_attempt_at FROM platform.webhook_deliveries ok
                  WHERE ok.endpoint_id = e.id AND ok.status = 'delivered'
                    AND ok.last_attempt_at IS NOT NULL
                  ORDER BY ok.endpoint_id DESC, ok.last_attempt_at DESC LIMIT 1),
                 (SELECT max(ok.created_at) FROM platform.webhook_deliveries ok
                  WHERE ok.endpoint_id = e.id AND ok.status = 'delivered'
                    AND ok.last_attempt_at IS NULL)) AS last_success_at
        FROM platform.webhook_endpoints e
        ORDER BY e.id""")
