"""Alert channels: a small registry (``CHANNELS``), each channel in its own payload format.

A :class:`Message` is channel-neutral; each channel's ``render`` turns it into the payload stored
in ``recon.alert_deliveries`` (Slack: ``{"text", "blocks"}``; Discord: ``{"content", "embeds"}``;
PagerDuty: an Events API v2 event; the generic webhook: signed JSON — see ``hooks``). A channel
may skip a message (``render`` returns None: PagerDuty pages incidents only). Secrets are added
only at send time by ``outgoing`` (the PagerDuty routing key, the webhook signature), so they are
never stored. ``post`` (sge_recon/alerts/transport.py) sends one request within an overall
deadline and raises :class:`DeliveryFailed` with a message that never contains the URL or a
secret.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

from ..config import Settings
# Message, DeliveryFailed and post are re-exported: callers use ``channels.<name>``.
from .message import Message, cut
from .transport import DeliveryFailed, post

__all__ = ["CHANNELS", "Channel", "DeliveryFailed", "Message", "configured_channels",
           "discord_payload", "outgoing", "post", "render", "slack_payload"]

PRIORITY_EMOJI = {"P0": ":red_circle:", "P1": ":large_orange_circle:",
                  "P2": ":large_yellow_circle:", "P3": ":large_blue_circle:"}



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


def outgoing(channel: str, settings: Settings, payload: dict,
             delivery_id: int | None = None) -> tuple[str, bytes, dict, list]:
    """(url, body, headers, secrets to scrub from errors) of one delivery, built at send time.

    ``delivery_id`` (recon.alert_deliveries.id) is the same on every attempt of one message:
    it travels as the ``X-SGE-Delivery`` header on every channel and, for the signed webhook,
    as ``delivery_id`` in the (signed) body, so a receiver can drop a repeat (delivery is
    at-least-once: an answer lost to a timeout or a crash means the message is sent again)."""
    from ..errors import ConfigError
    from .hooks import DELIVERY_HEADER

    c = CHANNELS[channel]
    url = c.url(settings)
    if not url or not getattr(settings, c.setting):
        raise DeliveryFailed(f"{c.setting} is not set any more")
    if delivery_id is not None and channel == "webhook":
        payload = {**payload, "delivery_id": delivery_id}
    try:
        body, headers = c.seal(settings, payload) if c.seal else (json.dumps(payload).encode(), {})
    except ConfigError as exc:
        raise DeliveryFailed(str(exc)) from None
    if delivery_id is not None:
        headers = {**headers, DELIVERY_HEADER: str(delivery_id)}
    secrets = [getattr(settings, n) for n in SECRET_SETTINGS.get(channel, ()) if getattr(settings, n)]
    return url, body, headers, [url, *secrets]


def slack_text(text: str) -> str:
    """Platform text made inert for Slack: ``&``, ``<``, ``>`` escaped (Slack's own rule), so a
    program id cannot ping (``<!channel>``) or plant a link (``<https://…|text>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Discord markdown that platform text must not use: a masked link ``[text](https://…)`` (shown as
# "text", leading anywhere), spoilers ``||…||``, code, mention and timestamp tags ``<@…>``
# ``<t:…>``; each is shown as itself when escaped with a backslash (Discord drops the backslash
# before any punctuation). ``#``, ``>`` and ``-`` make headings, quotes, lists and subtext only at
# the start of a line. Emphasis (``*``, ``_``, ``~``) can neither hide nor forge: left as it is.
_DISCORD_INLINE = re.compile(r"([\\\[\]|`<>])")
_DISCORD_LINE_START = re.compile(r"(?m)^(\s*)([#>-])")


def discord_text(text: str) -> str:
    """Platform text made inert for Discord: its markdown escaped (no masked link, spoiler or
    heading can be planted) and @everyone/@here broken by a zero-width space (the payload's
    ``allowed_mentions`` also parses no mentions at all)."""
    text = _DISCORD_LINE_START.sub(r"\1\\\2", _DISCORD_INLINE.sub(r"\\\1", text))
    return text.replace("@everyone", "@\u200beveryone").replace("@here", "@\u200bhere")


def slack_cut(text: str, limit: int) -> str:
    """``text`` escaped for Slack (``slack_text``) in at most ``limit`` characters. The raw text is
    cut, then escaped, so a cut never splits an entity (``&amp;`` into ``&am…``); when escaping
    makes it longer, less of the raw text is kept (whole characters, each escaped whole)."""
    escaped = slack_text(text)
    if len(escaped) <= limit:
        return escaped
    kept: list[str] = []
    room = limit - 1  # for the "…"
    for char in text:
        piece = slack_text(char)
        if len(piece) > room:
            break
        kept.append(piece)
        room -= len(piece)
    return "".join(kept) + "…"


def slack_payload(message: Message) -> dict:
    # Slack's markup (*, •, the emoji codes) has no &, < or >: escaping a whole block equals
    # escaping its platform text, so each block is built raw and cut by ``slack_cut``.
    esc = slack_text
    emoji = ":white_check_mark:" if message.resolved else PRIORITY_EMOJI.get(message.priority
                                                                             or "", ":bell:")
    blocks: list[dict] = [{"type": "section",
                           "text": {"type": "mrkdwn",
                                    "text": slack_cut(f"{emoji} *{message.headline}*", 3000)}}]
    if message.fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": slack_cut(f"*{name}*\n{value}", 2000)}
            for name, value in message.fields[:10]]})
    if message.lines:
        body = "\n".join(f"• {line}" for line in message.lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": slack_cut(
            f"*{message.lines_title}*\n{body}" if message.lines_title else body, 3000)}})
    if message.steps:
        steps = "\n".join(f"{i}. {step}" for i, step in enumerate(message.steps, 1))
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": slack_cut(f"*First steps*\n{steps}",
                                                                    3000)}})
    if message.link:
        link = message.link.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E") \
            .replace("|", "%7C")
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": cut(f"<{link}|{esc(message.link_label)}>", 3000)}]})
    return {"text": slack_cut(message.headline, 3000), "blocks": blocks}


DISCORD_EMBED_BUDGET = 5900  # Discord rejects an embed over 6000 characters in all


def discord_payload(message: Message) -> dict:
    esc = discord_text
    title = cut(esc(message.headline), 256)
    used = len(title)
    fields = []
    for name, value in message.fields[:25]:
        field_: dict = {"name": cut(esc(name), 256), "value": cut(esc(value) or "-", 1024),
                        "inline": len(value) < 40}
        if used + len(field_["name"]) + len(field_["value"]) > DISCORD_EMBED_BUDGET // 2:
            break  # keep room for the description (the runbook steps matter most)
        used += len(field_["name"]) + len(field_["value"])
        fields.append(field_)
    embed: dict = {"title": title, "color": message.colour, "fields": fields}
    parts = []
    if message.lines:
        parts.append((f"**{esc(message.lines_title)}**\n" if message.lines_title else "")
                     + "\n".join(f"• {esc(line)}" for line in message.lines))
    if message.steps:
        parts.append("**First steps**\n" + "\n".join(
            f"{i}. {esc(step)}" for i, step in enumerate(message.steps, 1)))
    if parts:
        embed["description"] = cut("\n\n".join(parts), min(4096, DISCORD_EMBED_BUDGET - used))
    if message.link:
        embed["url"] = message.link
    if message.at:
        embed["timestamp"] = message.at.isoformat()
    embed["footer"] = {"text": "sge-recon"}
    # the headline already says the priority (or "Resolved:"): no prefix repeating it;
    # allowed_mentions: platform text never pings anyone (users, roles, @everyone/@here)
    return {"content": cut(esc(message.headline), 2000), "embeds": [embed],
            "allowed_mentions": {"parse": []}}


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
