"""Webhook deliveries, attempts and endpoint health."""

from __future__ import annotations

from datetime import datetime, timedelta

from sge_recon.errors import ConflictError, NotFoundError

from .base import Conn


# ---------------------------------------------------------------------------------------------
# webhooks
# ---------------------------------------------------------------------------------------------
def lock_delivery(conn: Conn, delivery_id: str) -> dict:
    row = conn.execute(
        "SELECT d.*, e.enabled AS endpoint_enabled, e.disabled_at AS endpoint_disabled_at"
        " FROM public.webhook_deliveries d LEFT JOIN public.webhook_endpoints e"
        " ON e.id = d.endpoint_id WHERE d.id = %s FOR UPDATE OF d", (delivery_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"webhook delivery {delivery_id} does not exist; check the id "
                            "(the console's Webhooks page lists the deliveries)")
    return row


def schedule_immediate_attempt(conn: Conn, delivery_id: str, now: datetime) -> dict:
    d = lock_delivery(conn, delivery_id)
    if d["status"] == "delivered":
        raise ConflictError(f"webhook delivery {delivery_id} was already delivered; there is "
                            "nothing to retry")
    if d["endpoint_enabled"] is False:
        raise ConflictError(f"the endpoint {d['endpoint_id']} of delivery {delivery_id} is "
                            f"disabled (since {d['endpoint_disabled_at']}); re-enable the endpoint "
                            "on the platform before retrying")
    if d["endpoint_enabled"] is None:
        raise ConflictError(f"delivery {delivery_id} points at endpoint {d['endpoint_id']}, which "
                            "does not exist; it cannot be delivered")
    conn.execute("UPDATE public.webhook_deliveries SET status = 'retry_scheduled',"
                 " next_retry_at = %s WHERE id = %s", (now, delivery_id))
    return {"delivery_id": delivery_id, "status": "retry_scheduled", "next_retry_at": now,
            "attempt_count": d["attempt_count"], "previous_status": d["status"]}


def claim_due_deliveries(conn: Conn, now: datetime, limit: int) -> list[dict]:
    return conn.execute(
        "SELECT d.id, d.endpoint_id, d.event_type, d.payload, d.attempt_count, d.created_at,"
        " e.url, e.secret FROM public.webhook_deliveries d"
        " JOIN public.webhook_endpoints e ON e.id = d.endpoint_id"
        " WHERE d.status IN ('pending', 'retry_scheduled') AND e.enabled"
        "  AND coalesce(d.next_retry_at, d.created_at) <= %s"
        " ORDER BY coalesce(d.next_retry_at, d.created_at), d.id"
        " LIMIT %s FOR UPDATE OF d SKIP LOCKED", (now, limit)).fetchall()


def record_attempt(conn: Conn, *, delivery: dict, ok: bool, status_code: int | None,
                   error: str | None, next_retry_at: datetime | None, now: datetime) -> str:
    attempt = delivery["attempt_count"] + 1
    status = "delivered" if ok else ("retry_scheduled" if next_retry_at else "failed")
    conn.execute(
        "UPDATE public.webhook_deliveries SET status = %s, attempt_count = %s, last_error = %s,"
        " last_attempt_at = %s, next_retry_at = %s WHERE id = %s",
        (status, attempt, None if ok else error, now, next_retry_at, delivery["id"]))
    conn.execute(
        "INSERT INTO public.webhook_attempts (delivery_id, endpoint_id, attempt, attempted_at, ok,"
        " status_code, error) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (delivery["id"], delivery["endpoint_id"], attempt, now, ok, status_code, error))
    return status


def update_endpoint_health(conn: Conn, *, endpoint_id: str, ok: bool, now: datetime,
                           disable_after: timedelta) -> bool:
    """Track failing_since; disable the endpoint once it has failed for `disable_after`.
    Returns whether the endpoint was disabled now."""
    if ok:
        conn.execute(
            "INSERT INTO public.webhook_endpoint_health (endpoint_id, failing_since,"
            " consecutive_failures, last_success_at, updated_at) VALUES (%s, NULL, 0, %s, %s)"
            " ON CONFLICT (endpoint_id) DO UPDATE SET failing_since = NULL,"
            " consecutive_failures = 0, last_success_at = excluded.last_success_at,"
            " updated_at = excluded.updated_at", (endpoint_id, now, now))
        return False
    row = conn.execute(
        "INSERT INTO public.webhook_endpoint_health (endpoint_id, failing_since,"
        " consecutive_failures, updated_at) VALUES (%s, %s, 1, %s)"
        " ON CONFLICT (endpoint_id) DO UPDATE SET"
        " failing_since = coalesce(webhook_endpoint_health.failing_since, excluded.failing_since),"
        " consecutive_failures = webhook_endpoint_health.consecutive_failures + 1,"
        " updated_at = excluded.updated_at RETURNING failing_since",
        (endpoint_id, now, now)).fetchone()
    if now - row["failing_since"] >= disable_after:
        return conn.execute("UPDATE public.webhook_endpoints SET enabled = false, disabled_at = %s"
                            " WHERE id = %s AND enabled", (now, endpoint_id)).rowcount > 0
    return False


def set_endpoint_enabled(conn: Conn, endpoint_id: str, enabled: bool, now: datetime) -> dict:
    """Disable or enable an endpoint (an operator's decision). Enabling starts its failure count
    afresh, so the 24 h rule does not disable it again at its next failure."""
    row = conn.execute("SELECT id, enabled, disabled_at, url FROM public.webhook_endpoints"
                       " WHERE id = %s FOR UPDATE", (endpoint_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"webhook endpoint {endpoint_id} does not exist; check the id (the "
                            "console's Webhooks page lists the endpoints)")
    if row["enabled"] == enabled:
        state = "enabled" if enabled else f"disabled (since {row['disabled_at']})"
        raise ConflictError(f"webhook endpoint {endpoint_id} is already {state}; nothing changed")
    conn.execute("UPDATE public.webhook_endpoints SET enabled = %s, disabled_at = %s"
                 " WHERE id = %s", (enabled, None if enabled else now, endpoint_id))
    if enabled:
        conn.execute("UPDATE public.webhook_endpoint_health SET failing_since = NULL,"
                     " consecutive_failures = 0, updated_at = %s WHERE endpoint_id = %s",
                     (now, endpoint_id))
    return {"endpoint_id": endpoint_id, "enabled": enabled, "url": row["url"]}
