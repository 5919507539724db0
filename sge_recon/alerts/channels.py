"""Alert channels: a small registry (``CHANNELS``), each channel in its own payload format.

A :class:`Message` is channel-neutral; each channel's ``render`` turns it into the payload stored
in ``recon.alert_deliveries`` (Slack: ``{"text", "blocks"}``; Discord: ``{"content", "embeds"}``;
PagerDuty: an Events API v2 event; the generic webhook: signed JSON — see ``hooks``). A channel
may skip a message (``render`` returns None: PagerDuty pages incidents only). Secrets are added
only at send time by ``outgoing`` (the PagerDuty routing key, the webhook signature), so they are
never stored. ``post`` sends one request and raises :class:`DeliveryFailed` with a message that
never contains the URL or a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

from ..config import Settings, mask

PRIORITY_COLOURS = {"P0": 0xD32F2F, "P1": 0xF57C00, "P2": 0xFBC02D, "P3": 0x1976D2}
RESOLVED_COLOUR = 0x388E3C
INFO_COLOUR = 0x607D8B
PRIORITY_EMOJI = {"P0": ":red_circle:", "P1": ":large_orange_circle:",
                  "P2": ":large_yellow_circle:", "P3": ":large_blue_circle:"}



@dataclass
class Message:
    headline: str                     # one line: what happened
    fields: list[tuple[str, str]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)  # the runbook's first steps
    link: str | None = None           # console view
    link_label: str = "Open in the console"
    priority: str | None = None
    resolved: bool = False
    at: datetime | None = None
    lines: list[str] = field(default_factory=list)  # a list body (e.g. one line per batch)
    lines_title: str = ""
    event: str = "notice"             # open | reminder | resolve | notice (not an incident)
    incident_id: int | None = None
    kind: str | None = None           # the incident kind (ledger_imbalance, ...)
    environment: str = ""             # SGE_ENVIRONMENT
    component: str = ""               # where: the console area (ledger, queue, intents, ...)
    details: dict = field(default_factory=dict)  # machine-readable facts (ids, amounts)

    @property
    def colour(self) -> int:
        if self.resolved:
            return RESOLVED_COLOUR
        return PRIORITY_COLOURS.get(self.priority or "", INFO_COLOUR)


class DeliveryFailed(Exception):
    """One attempt failed. ``retry_after`` (seconds) when the service asked us to wait."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Channel:
    name: str
    setting: str                                  # set = the channel is on
    render: Callable[[Message], dict | None]      # the stored payload; None = not for this one
    url_setting: str = ""                         # where it posts (default: ``setting``)
    # (settings, stored payload) -> (body bytes, extra headers), adding secrets at send time
    seal: Callable[[Settings, dict], tuple[bytes, dict[str, str]]] | None = None

    def url(self, settings: Settings) -> str | None:
        return getattr(settings, self.url_setting or self.setting)


def configured_channels(settings: Settings) -> list[str]:
    return [name for name, c in CHANNELS.items() if getattr(settings, c.setting)]


def render(channel: str, message: Message) -> dict | None:
    return CHANNELS[channel].render(message)


def outgoing(channel: str, settings: Settings, payload: dict) -> tuple[str, bytes, dict, list]:
    """(url, body, headers, secrets to scrub from errors) of one delivery, built at send time."""
    from ..errors import ConfigError

    c = CHANNELS[channel]
    url = c.url(settings)
    if not url or not getattr(settings, c.setting):
        raise DeliveryFailed(f"{c.setting} is not set any more")
    try:
        body, headers = c.seal(settings, payload) if c.seal else (json.dumps(payload).encode(), {})
    except ConfigError as exc:
        raise DeliveryFailed(str(exc)) from None
    secrets = [getattr(settings, n) for n in SECRET_SETTINGS.get(channel, ()) if getattr(settings, n)]
    return url, body, headers, [url, *secrets]


def slack_payload(message: Message) -> dict:
    emoji = ":white_check_mark:" if message.resolved else PRIORITY_EMOJI.get(message.priority
                                                                             or "", ":bell:")
    blocks: list[dict] = [{"type": "section",
                           "text": {"type": "mrkdwn", "text": _cut(f"{emoji} *{message.headline}*",
                                                                   3000)}}]
    if message.fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _cut(f"*{name}*\n{value}", 2000)}
            for name, value in message.fields[:10]]})
    if message.lines:
        body = "\n".join(f"• {line}" for line in message.lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            f"*{message.lines_title}*\n{body}" if message.lines_title else body, 3000)}})
    if message.steps:
        steps = "\n".join(f"{i}. {step}" for i, step in enumerate(message.steps, 1))
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _cut(f"*First steps*\n{steps}", 3000)}})
    if message.link:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _cut(f"<{message.link}|{message.link_label}>", 3000)}]})
    return {"text": _cut(message.headline, 3000), "blocks": blocks}


DISCORD_EMBED_BUDGET = 5900  # Discord rejects an embed over 6000 characters in all


def discord_payload(message: Message) -> dict:
    title = _cut(message.headline, 256)
    used = len(title)
    fields = []
    for name, value in message.fields[:25]:
        field_: dict = {"name": _cut(name, 256), "value": _cut(value or "-", 1024),
                        "inline": len(value) < 40}
        if used + len(field_["name"]) + len(field_["value"]) > DISCORD_EMBED_BUDGET // 2:
            break  # keep room for the description (the runbook steps matter most)
        used += len(field_["name"]) + len(field_["value"])
        fields.append(field_)
    embed: dict = {"title": title, "color": message.colour, "fields": fields}
    parts = []
    if message.lines:
        parts.append((f"**{message.lines_title}**\n" if message.lines_title else "")
                     + "\n".join(f"• {line}" for line in message.lines))
    if message.steps:
        parts.append("**First steps**\n" + "\n".join(
            f"{i}. {step}" for i, step in enumerate(message.steps, 1)))
    if parts:
        embed["description"] = _cut("\n\n".join(parts), min(4096, DISCORD_EMBED_BUDGET - used))
    if message.link:
        embed["url"] = message.link
    if message.at:
        embed["timestamp"] = message.at.isoformat()
    embed["footer"] = {"text": "sge-recon"}
    # the headline already says the priority (or "Resolved:"): no prefix repeating it
    return {"content": _cut(message.headline, 2000), "embeds": [embed]}


def post(url: str, payload: dict | bytes, timeout: float = 5.0,
         headers: dict[str, str] | None = None, secrets: Sequence[str] = ()) -> None:
    """POST one payload; raise DeliveryFailed (URL-free message) unless the service took it.

    Plain urllib on purpose: HTTP client libraries log request URLs (httpx does at INFO), and a
    webhook URL is a secret that must never reach a log.
    """
    import urllib.error
    import urllib.request

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "sge-recon-alerts",
                                              **(headers or {})})
    secrets = [url, *secrets]
    try:
        # S310: the URL is a validated http(s) setting, never user input from a request
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read(1024)
            return
    except urllib.error.HTTPError as exc:
        retry_after = None
        if exc.code == 429:
            try:
                retry_after = float(exc.headers.get("Retry-After", "")) or None
            except ValueError:
                retry_after = None
        answer = _scrub(exc.read(200).decode("utf-8", "replace").strip(), secrets)
        raise DeliveryFailed(f"HTTP {exc.code}" + (f": {answer}" if answer else ""),
                             retry_after=retry_after) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(_scrub(f"{type(exc).__name__}: {reason}", secrets)) from None


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask(secret))
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _registry() -> dict[str, Channel]:
    from . import hooks

    return {c.name: c for c in (
        Channel("slack", "SLACK_WEBHOOK_URL", slack_payload),
        Channel("discord", "DISCORD_WEBHOOK_URL", discord_payload),
        Channel("pagerduty", "PAGERDUTY_ROUTING_KEY", hooks.pagerduty_event,
                url_setting="PAGERDUTY_EVENTS_URL", seal=hooks.pagerduty_seal),
        Channel("webhook", "ALERT_WEBHOOK_URL", hooks.webhook_payload, seal=hooks.webhook_seal),
    )}


# settings a delivery error must never show, per channel (besides the URL)
SECRET_SETTINGS = {"pagerduty": ("PAGERDUTY_ROUTING_KEY",), "webhook": ("ALERT_WEBHOOK_SECRET",)}
CHANNELS: dict[str, Channel] = _registry()
