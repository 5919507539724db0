"""PagerDuty Events API v2 and the generic signed-JSON webhook (channels registered in
``channels.CHANNELS``).

PagerDuty (DESIGN §7): ``trigger`` when an incident opens, ``resolve`` when it resolves,
``dedup_key`` = the incident's id; reminders and notices (the weekly payout reminder) do not page.
The routing key is added at send time (``pagerduty_seal``), so it is never stored.

Webhook: every message as one JSON object, signed with HMAC-SHA256 over
``<X-SGE-Timestamp>.<body>`` using ``ALERT_WEBHOOK_SECRET``; the signature travels as
``X-SGE-Signature: sha256=<hex>``. A receiver recomputes it over the raw body and rejects old
timestamps (replays). Delivery is at-least-once: a message whose answer was lost (a timeout, a
crash before it was marked sent) is sent again, with the same ``delivery_id`` in the body and
``X-SGE-Delivery`` header; a receiver drops one it has already seen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from ..config import Settings
from ..errors import ConfigError
from .message import Message, cut

# Events v2 severities: critical, error, warning, info
PAGERDUTY_SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
SIGNATURE_HEADER = "X-SGE-Signature"
TIMESTAMP_HEADER = "X-SGE-Timestamp"
# recon.alert_deliveries.id: the same on every attempt of one message (receivers deduplicate on it)
DELIVERY_HEADER = "X-SGE-Delivery"


def pagerduty_event(message: Message) -> dict | None:
    """The Events v2 event for an incident's opening or resolution; None for anything else."""
    if message.incident_id is None or message.event not in ("open", "resolve"):
        return None
    dedup_key = str(message.incident_id)
    if message.event == "resolve":
        return {"event_action": "resolve", "dedup_key": dedup_key}
    details: dict = {name: value for name, value in message.fields}
    details.update(message.details)
    if message.steps:
        details["first_steps"] = list(message.steps)
    payload = {
        "summary": cut(message.headline, 1024),
        "source": f"sge-recon ({message.environment})" if message.environment else "sge-recon",
        "severity": PAGERDUTY_SEVERITY.get(message.priority or "", "warning"),
        "component": message.component or "sge-recon",
        "group": message.environment or "sge-recon",
        "class": message.kind or "incident",
        "custom_details": details,
    }
    if message.at:
        payload["timestamp"] = message.at.isoformat()
    event: dict = {"event_action": "trigger", "dedup_key": dedup_key, "payload": payload,
                   "client": "sge-recon"}
    if message.link:
        event["links"] = [{"href": message.link, "text": message.link_label}]
        event["client_url"] = message.link
    return event


def pagerduty_seal(settings: Settings, payload: dict) -> tuple[bytes, dict[str, str]]:
    return json.dumps({"routing_key": settings.PAGERDUTY_ROUTING_KEY, **payload}).encode(), {}


def webhook_payload(message: Message) -> dict:
    incident = None
    if message.incident_id is not None:
        incident = {"id": message.incident_id, "kind": message.kind,
                    "priority": message.priority}
    return {"source": "sge-recon", "environment": message.environment, "event": message.event,
            "resolved": message.resolved, "incident": incident, "headline": message.headline,
            "fields": [{"name": n, "value": v} for n, v in message.fields],
            "lines": list(message.lines), "first_steps": list(message.steps),
            "link": message.link, "at": message.at.isoformat() if message.at else None,
            "details": message.details}


def webhook_seal(settings: Settings, payload: dict,
                 now: float | None = None) -> tuple[bytes, dict[str, str]]:
    secret = settings.ALERT_WEBHOOK_SECRET
    if not secret:
        raise ConfigError("ALERT_WEBHOOK_SECRET", "is not set; the webhook channel signs every "
                                                  "message: set it (or unset ALERT_WEBHOOK_URL)")
    stamp = str(int(time.time() if now is None else now))
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return body, {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: "sha256=" + sign(secret, stamp, body)}


def sign(secret: str, stamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``<stamp>.<body>`` (what a receiver recomputes to verify)."""
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
