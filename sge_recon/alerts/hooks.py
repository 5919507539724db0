"""PagerDuty Events API v2 and the generic signed-JSON webhook (channels registered in
``channels.CHANNELS``).

PagerDuty (DESIGN §7): ``trigger`` when an incident opens, ``resolve`` when it resolves,
``acknowledge`` once it is acknowledged or accepted in the console (its escalation stops),
``dedup_key`` = the incident's id (an escalation re-triggers it with the higher severity);
reminders and notices (the weekly payout reminder) do not page. An incident acknowledged or
accepted that gets worse is reopened and paged again (alerts/spread.py), but PagerDuty never
notifies again for an alert it holds acknowledged, whatever triggers with its dedup_key follow: so
each such round pages under a key of its own, ``<id>:reopened:<n>`` (a new alert that notifies),
and the previous round's alert is resolved (superseded), so that one alert per incident is open.
The routing key is added at send time (``pagerduty_seal``), so it is never stored. Incident ids
restart at 1 in every deployment: each environment needs its own integration (routing key).

Webhook: every message as one JSON object, signed with HMAC-SHA256 over
``<X-SGE-Timestamp>.<body>`` using ``ALERT_WEBHOOK_SECRET``; the signature travels as
``X-SGE-Signature: sha256=<hex>``. A receiver recomputes it over the raw body and rejects old
timestamps (replays). Delivery is at-least-once: a message whose answer was lost (a timeout, a
crash before it was marked sent) is sent again, with the same ``delivery_id`` in the body and
``X-SGE-Delivery`` header; a receiver drops one it has already seen.

Size: a PagerDuty event is at most ``PAGERDUTY_MAX_EVENT_BYTES`` (512,000: Events v2 refuses a
larger one with a 400, and a refused P0 page is lost), the webhook's body at most
``WEBHOOK_MAX_BODY_BYTES`` (256,000: receivers commonly refuse bodies of 1 MB or less with a
413). A message that would be larger keeps what a person acts on (PagerDuty: summary, source,
severity, dedup_key, links; the webhook: headline, incident, link) and gives up detail, as
Alertmanager does (``notify/pagerduty``: ``maxEventSize``): first the evidence copies are dropped
and lists and texts are bounded (``details.truncated`` says so; the counts such as
``items_total`` stay exact), then the details become a short note with the incident's console
link. A normal message is sent as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from ..config import Settings
from ..errors import ConfigError
from .message import Message, cut

PAGERDUTY_MAX_EVENT_BYTES = 512_000  # Events v2's limit (Alertmanager's maxEventSize)
WEBHOOK_MAX_BODY_BYTES = 256_000     # the signed body, delivery_id included
SEND_TIME_ROOM = 1_000  # kept free at render for what sealing adds (routing key, delivery_id)
# the console's copies of the failing set (sge_recon/alerts/evidence.py ``snapshot``): they
# repeat the items, keys and programs the details already carry
EVIDENCE_COPIES = ("evidence_at_open", "evidence_latest", "evidence_changes")
# (list items, text characters) kept when details must shrink, gentlest first
SHRINK_STEPS = ((20, 2000), (5, 256))

# Events v2 severities: critical, error, warning, info
PAGERDUTY_SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
SIGNATURE_HEADER = "X-SGE-Signature"
TIMESTAMP_HEADER = "X-SGE-Timestamp"
# recon.alert_deliveries.id: the same on every attempt of one message (receivers deduplicate on it)
DELIVERY_HEADER = "X-SGE-Delivery"


def pagerduty_event(message: Message) -> dict | None:
    """The Events v2 event for an incident's opening, escalation (a trigger with the same
    dedup_key and the new severity), acknowledgement or resolution; None for anything else."""
    if message.incident_id is None or message.event not in ("open", "reopen", "escalate",
                                                             "acknowledge", "resolve"):
        return None
    dedup_key = pagerduty_dedup_key(message.incident_id, message.page_round)
    if message.event in ("acknowledge", "resolve"):  # acknowledged or accepted in the console
        return {"event_action": message.event, "dedup_key": dedup_key}
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
    return fit_pagerduty(event, PAGERDUTY_MAX_EVENT_BYTES - SEND_TIME_ROOM)


def pagerduty_dedup_key(incident_id: int, page_round: int = 0) -> str:
    """The key of the incident's PagerDuty alert in this round (0: as first paged)."""
    return str(incident_id) if not page_round else f"{incident_id}:reopened:{page_round}"


def pagerduty_superseded(incident_id: int, page_round: int) -> dict:
    """The resolve of round ``page_round - 1``'s alert, once round ``page_round`` pages."""
    return {"event_action": "resolve",
            "dedup_key": pagerduty_dedup_key(incident_id, page_round - 1)}


def pagerduty_seal(settings: Settings, payload: dict) -> tuple[bytes, dict[str, str]]:
    key = {"routing_key": settings.PAGERDUTY_ROUTING_KEY}
    body = json.dumps({**key, **payload}).encode()
    if len(body) > PAGERDUTY_MAX_EVENT_BYTES:  # stored before the cap, or a very long key
        room = len(json.dumps(key).encode())
        body = json.dumps({**key, **fit_pagerduty(payload, PAGERDUTY_MAX_EVENT_BYTES - room)}
                          ).encode()
    return body, {}


def fit_pagerduty(event: dict, limit: int) -> dict:
    """``event`` whose JSON (as sent) is at most ``limit`` bytes: custom_details shrink first
    (module docstring); summary, source, severity, dedup_key and links always stay."""
    if _pd_size(event) <= limit or "payload" not in event:
        return event
    payload = event["payload"]
    details = payload.get("custom_details") or {}
    link = event.get("client_url")
    for items, chars in SHRINK_STEPS:
        smaller = {**event, "payload": {**payload, "custom_details": shrink_details(
            details, items, chars, _note("PagerDuty", PAGERDUTY_MAX_EVENT_BYTES, link))}}
        if _pd_size(smaller) <= limit:
            return smaller
    return {**event, "payload": {**payload, "custom_details": _removed(
        "PagerDuty", PAGERDUTY_MAX_EVENT_BYTES, link)}}


def webhook_payload(message: Message) -> dict:
    incident = None
    if message.incident_id is not None:
        incident = {"id": message.incident_id, "kind": message.kind,
                    "priority": message.priority}
    payload = {"source": "sge-recon", "environment": message.environment,
               "event": message.event, "resolved": message.resolved, "incident": incident,
               "headline": message.headline,
               "fields": [{"name": n, "value": v} for n, v in message.fields],
               "lines": list(message.lines), "first_steps": list(message.steps),
               "link": message.link, "at": message.at.isoformat() if message.at else None,
               "details": message.details}
    return fit_webhook(payload, WEBHOOK_MAX_BODY_BYTES - SEND_TIME_ROOM)


def fit_webhook(payload: dict, limit: int) -> dict:
    """``payload`` whose signed body is at most ``limit`` bytes: its details shrink first, then
    the fields, lines and steps are bounded and the details become a note (module docstring)."""
    if _hook_size(payload) <= limit:
        return payload
    link = payload.get("link")
    details = payload.get("details") or {}
    note = _note("the webhook", WEBHOOK_MAX_BODY_BYTES, link)
    for items, chars in SHRINK_STEPS:
        smaller = {**payload, "details": shrink_details(details, items, chars, note)}
        if _hook_size(smaller) <= limit:
            return smaller
    items, chars = SHRINK_STEPS[-1]
    smaller = {**payload, "details": _removed("the webhook", WEBHOOK_MAX_BODY_BYTES, link),
               **{k: _bounded(payload.get(k) or [], items, chars)
                  for k in ("fields", "lines", "first_steps")}}
    if _hook_size(smaller) <= limit:
        return smaller
    return {**smaller, "headline": cut(str(payload.get("headline") or ""), 1024),
            "fields": [], "lines": [], "first_steps": []}


def webhook_seal(settings: Settings, payload: dict,
                 now: float | None = None) -> tuple[bytes, dict[str, str]]:
    secret = settings.ALERT_WEBHOOK_SECRET
    if not secret:
        raise ConfigError("ALERT_WEBHOOK_SECRET", "is not set; the webhook channel signs every "
                                                  "message: set it (or unset ALERT_WEBHOOK_URL)")
    stamp = str(int(time.time() if now is None else now))
    if _hook_size(payload) > WEBHOOK_MAX_BODY_BYTES:  # stored before the cap
        payload = fit_webhook(payload, WEBHOOK_MAX_BODY_BYTES)
    body = _hook_body(payload)
    return body, {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: "sha256=" + sign(secret, stamp, body)}


def sign(secret: str, stamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``<stamp>.<body>`` (what a receiver recomputes to verify)."""
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def shrink_details(details: dict, items: int, chars: int, note: str) -> dict:
    """The details without the evidence copies, every list cut to its first ``items`` and every
    text to ``chars`` characters, and ``truncated``: what was done."""
    out = {k: _bounded(v, items, chars) for k, v in details.items() if k not in EVIDENCE_COPIES}
    out["truncated"] = (f"{note}: the evidence copies are left out, lists cut to their first "
                        f"{items}, texts to {chars} characters")
    return out


def _bounded(value, items: int, chars: int):
    if isinstance(value, str):
        return cut(value, chars)
    if isinstance(value, (list, tuple)):
        return [_bounded(v, items, chars) for v in value[:items]]
    if isinstance(value, dict):
        return {cut(str(k), chars): _bounded(v, items, chars) for k, v in value.items()}
    return value


def _note(channel: str, limit: int, link: str | None) -> str:
    where = f"; the whole incident: {link}" if link else ""
    return f"Shortened to fit {channel}'s limit of {limit:,} bytes{where}"


def _removed(channel: str, limit: int, link: str | None) -> dict:
    return {"note": f"Details left out: the message would exceed {channel}'s limit of "
                    f"{limit:,} bytes. Open the incident in the console for them.",
            "link": link}


def _pd_size(event: dict) -> int:
    return len(json.dumps(event).encode())  # as pagerduty_seal encodes it


def _hook_body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _hook_size(payload: dict) -> int:
    return len(_hook_body(payload))
