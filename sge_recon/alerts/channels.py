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
from dataclasses import dataclass
from typing import Callable, Sequence

from ..config import Settings, mask
# Message is re-exported: callers build ``channels.Message``.
from .message import Message, cut

PRIORITY_EMOJI = {"P0": ":red_circle:", "P1": ":large_orange_circle:",
                  "P2": ":large_yellow_circle:", "P3": ":large_blue_circle:"}



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
                           "text": {"type": "mrkdwn", "text": cut(f"{emoji} *{message.headline}*",
                                                                   3000)}}]
    if message.fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": cut(f"*{name}*\n{value}", 2000)}
            for name, value in message.fields[:10]]})
    if message.lines:
        body = "\n".join(f"• {line}" for line in message.lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(
            f"*{message.lines_title}*\n{body}" if message.lines_title else body, 3000)}})
    if message.steps:
        steps = "\n".join(f"{i}. {step}" for i, step in enumerate(message.steps, 1))
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": cut(f"*First steps*\n{steps}", 3000)}})
    if message.link:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": cut(f"<{message.link}|{message.link_label}>", 3000)}]})
    return {"text": cut(message.headline, 3000), "blocks": blocks}


DISCORD_EMBED_BUDGET = 5900  # Discord rejects an embed over 6000 characters in all


def discord_payload(message: Message) -> dict:
    title = cut(message.headline, 256)
    used = len(title)
    fields = []
    for name, value in message.fields[:25]:
        field_: dict = {"name": cut(name, 256), "value": cut(value or "-", 1024),
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
        embed["description"] = cut("\n\n".join(parts), min(4096, DISCORD_EMBED_BUDGET - used))
    if message.link:
        embed["url"] = message.link
    if message.at:
        embed["timestamp"] = message.at.isoformat()
    embed["footer"] = {"text": "sge-recon"}
    # the headline already says the priority (or "Resolved:"): no prefix repeating it
    return {"content": cut(message.headline, 2000), "embeds": [embed]}


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
