"""How the console writes values for people: status marks, money (exact, with its currency, never
added across currencies), table headers, times in the viewer's timezone (named), links to pages.
Re-exported by console_kit, which the pages import."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import streamlit as st

from sge_recon.money import money_add, money_exact, special_text, stakes_text


LIGHT_BADGES = {"green": ("green", "OK"), "amber": ("orange", "WARN"), "red": ("red", "FAIL"),
                "grey": ("gray", "UNKNOWN")}
STATUS_LIGHTS = {"pass": "green", "warn": "amber", "fail": "red", True: "green", False: "red"}


# Without [ ] < > ` * $ ~ { } \ no link, image, HTML, code, emphasis, LaTeX or coloured text can
# be formed; with the line breaks gone and a leading # escaped, no heading, list or table either.
# ( ) : _ - . ! # | stay as typed: ids and "HTTP 500: …" read unchanged.
_MARKDOWN_SPECIAL = set("\\`*{}[]<>$~")
_JOINER = "\u2060"  # WORD JOINER: invisible, breaks what a backslash cannot
_NOT_ESCAPABLE = re.compile(r"(?<=:)(?=[\w+\-/]+:)|(?<=http)(?=s?://)|(?<=www)(?=\.)|(?=@)",
                            re.IGNORECASE)


def shown_controls(text: str) -> str:
    """Invisible format characters made visible as ⟨U+202E⟩: a right-to-left override would
    reverse what follows it on the screen (batch_⟨RLO⟩99_tnuocca reads "batch_account_99"), and a
    zero-width space makes two different ids look the same. A zero-width joiner inside an emoji
    sequence (👩‍💻) stays."""
    out = []
    for i, c in enumerate(text):
        if not _invisible(c) or (c == "\u200d" and _emoji(text[i - 1:i])
                                 and _emoji(text[i + 1:i + 2])):
            out.append(c)
        else:
            out.append(f"⟨U+{ord(c):04X}⟩")
    return "".join(out)


# Letters and marks that draw nothing: Hangul fillers, the combining grapheme joiner, the
# Braille blank; an id made with one looks like the id without it.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u034f\u2800")


def _invisible(c: str) -> bool:
    """A format character (bidi controls, zero-width spaces), a control character other than a
    tab or line break (which the text's own layout shows), a line or paragraph separator, a
    space other than the ASCII space (a no-break or ideographic space reads as a space), or a
    blank letter."""
    category = unicodedata.category(c)
    return (category in ("Cf", "Zl", "Zp") or (category == "Cc" and c not in "\t\n\r")
            or (category == "Zs" and c != " ") or c in _BLANK)


def shown_json(value: Any) -> Any:
    """A JSON value (an incident's details) for st.json: every string in it, keys included,
    through shown_controls (the viewer draws strings as they are, bidi overrides obeyed)."""
    if isinstance(value, str):
        return shown_controls(value)
    if isinstance(value, dict):
        return {shown_json(str(k)): shown_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [shown_json(v) for v in value]
    return value


def _emoji(c: str) -> bool:
    return bool(c) and unicodedata.category(c) in ("So", "Sk")


def _context_special(text: str, i: int) -> bool:
    """An underscore that could open or close _emphasis_ (not one inside a word: prog_1), and a
    colon before a letter (Streamlit's :red / :blue-badge directives swallow the word even
    without brackets). ``HTTP 500: boom`` and ``12:30`` stay as typed."""
    before, after = text[i - 1:i], text[i + 1:i + 2]
    if text[i] == "_":
        return not (before.isalnum() and after.isalnum())
    return text[i] == ":" and after.isalpha()


class Markdown(str):
    """Text that is already Markdown-safe (built by md() or money()): md() leaves it as it is,
    so it is never escaped twice."""


def md(value: Any) -> str:
    """Untrusted text (an id from the address, a platform's error, URL or name) made inert for
    st.markdown and the alert boxes: the characters that build links, images, HTML, LaTeX and
    Streamlit's coloured text are escaped, and line breaks become spaces. It reads as the same
    text."""
    if isinstance(value, Markdown):
        return value
    text = shown_controls(" ".join(str(value).split()) if value is not None else "")
    # What escaping cannot stop (checked in Chromium): Streamlit's :material/…: icons and
    # :emoji: shortcodes, and the autolinks of http://, www. and e-mail addresses. An invisible
    # word joiner breaks each.
    text = _NOT_ESCAPABLE.sub(_JOINER, text)
    text = "".join("\\" + c if c in _MARKDOWN_SPECIAL or _context_special(text, i) else c
                   for i, c in enumerate(text))
    return Markdown("\\" + text if text[:1] in ("#", "-", "+", "|", ">") else text)


def md_line(template: str, *values: Any) -> str:
    """Markdown from the console's own ``template`` (its **bold**, its line breaks) with every
    ``{}`` filled by md() of a value: ids, amounts with their currency, names, reasons and
    errors read as stored in a caption, an alert, a confirm dialog and a button or link label
    (Streamlit renders Markdown and LaTeX in labels too):
    ``md_line("Pay batch **{}**: {}?", batch_id, money(total, currency))``."""
    return template.format(*(md(v) for v in values))


def mark(light: Any) -> str:
    """A coloured badge with a word (Markdown) for a light, a check status or a met/unmet flag:
    the word keeps it readable without colour."""
    word = getattr(light, "value", None) or STATUS_LIGHTS.get(light, "grey")
    colour, text = LIGHT_BADGES.get(word, LIGHT_BADGES["grey"])
    return f":{colour}-badge[{text}]"


def money(value: Any, currency: str | None = None, markdown: bool = True) -> str:
    """An amount with its currency: 1,234.50 USD (exact: more decimals only when they exist).
    Markdown-safe by default (the platform's currency code made inert: two codes with a $ would
    otherwise turn the amounts between them into LaTeX); ``markdown=False`` for a table cell."""
    if value is None:
        return "—"
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    # a NaN or an infinity (a sum that met one) in words: "an unknown amount of USD (NaN: …)"
    shown = special_text(amount, currency) or \
        (f"{exact(amount)} {currency}" if currency else exact(amount))
    return md(shown) if markdown else shown


def money_by_currency(amounts: dict[str, Any] | None, markdown: bool = True,
                      apart: dict[str, Any] | None = None) -> str:
    """Totals per currency, never one sum across currencies: 10.50 USD · 1,000.00 EUR. ``apart``:
    per currency, the NaN / infinite amounts left out of the totals, said after the stated sum
    (250,000.00 USD plus 1 amount that is not a number (NaN))."""
    if not amounts and not apart:
        return "—"
    text = stakes_text(amounts, apart, lambda v, c: money(v, c, markdown), " · ")
    return Markdown(text) if markdown else text


def incident_money(incident: dict, markdown: bool = True) -> str | None:
    """An incident's money at stake per currency (the alerting job keeps it in details.money;
    an older incident only in money_at_stake, its currency not recorded), None when none."""
    details = incident.get("details") or {}
    if details.get("money") or details.get("money_apart"):
        return money_by_currency(details.get("money"), markdown, details.get("money_apart"))
    if incident.get("money_at_stake") is not None:
        return money(incident["money_at_stake"], "(currency not recorded)", markdown)
    return None


def totals_by_currency(rows: list[dict], amount: str = "amount",
                       currency: str = "currency") -> dict[str, Decimal]:
    """The stated amounts per currency, exact at any numeric(38,6) size (money_add). A NaN or
    infinite amount is left out (it would make the whole total NaN or infinite and hide the
    rest): see unstated()."""
    out: dict[str, Decimal] = {}
    for r in rows:
        if r.get(amount) is not None and Decimal(str(r[amount])).is_finite():
            key = r.get(currency) or "?"
            out[key] = money_add(out.get(key, Decimal(0)), Decimal(str(r[amount])))
    return out


def unstated(rows: list[dict], amount: str = "amount") -> int:
    """How many rows hold an amount that is not a number or infinite (numeric 'NaN', 'Infinity',
    '-Infinity' on the platform)."""
    return sum(1 for r in rows
               if r.get(amount) is not None and not Decimal(str(r[amount])).is_finite())


def exact(value: Any) -> Any:
    """A Decimal as exact text with at least cents (52.20, 0.000001): Streamlit would otherwise
    show Decimals as floats and drop trailing zeros. Other values pass through."""
    return money_exact(value) if isinstance(value, Decimal) else value


HEADERS = {"id": "Id", "intent_id": "Intent", "batch_id": "Batch", "delivery_id": "Delivery",
           "endpoint_id": "Endpoint", "program_id": "Program", "user_id": "User",
           "affiliate_id": "Affiliate", "transaction_id": "Transaction",
           "commission_id": "Commission", "settlement_id": "Settlement", "worker_id": "Worker",
           "attempt_count": "Attempts", "last_error": "Last error", "url": "URL",
           "sla_left_hours": "SLA left (h)", "stuck_minutes": "Stuck (min)",
           "silent_seconds": "Silent (s)", "money_at_stake": "Money at stake",
           "status_code": "HTTP status", "tx_hash": "Tx hash"}
# id column -> (page, query parameter) of the page that opens that item (DESIGN §9 deep links)
LINKS = {"intent_id": ("intents", "id"), "batch_id": ("payouts", "id"),
         "delivery_id": ("webhooks", "id"), "transaction_id": ("ledger", "transaction"),
         "program_id": ("ledger", "program")}


# -- the viewer's timezone: every time on every page is shown in it, with its name -----------------
TZ_KEY = "viewer_tz"


def timezones() -> list[str]:
    """UTC first, then every IANA zone by name."""
    from sge_recon.accounts import timezone_names

    return list(timezone_names())


def zone_name() -> str:
    """The viewer's chosen timezone (sidebar; kept on the account), UTC by default."""
    return st.session_state.get(TZ_KEY) or "UTC"


def zone() -> ZoneInfo:
    try:
        return ZoneInfo(zone_name())
    except (ValueError, KeyError, OSError):
        return ZoneInfo("UTC")


def local(value: datetime) -> datetime:
    """A time in the viewer's timezone (a naive time is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(zone())


def when(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time as people read it, in the viewer's timezone and named: 2026-11-25 21:10:33
    Europe/Berlin. Accepts a datetime or an ISO 8601 string; None is an em dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return f"{local(value).strftime(fmt)} {zone_name()}"


def header(name: str) -> str:
    if name in HEADERS:
        return HEADERS[name]
    text = name.replace("_", " ").capitalize()
    return text[:-3] + f" ({zone_name()})" if name.endswith("_at") else text


def cell(value: Any) -> Any:
    """One table cell as people read it: exact money, times in the viewer's timezone without an
    offset (the column header names the zone), no None."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return exact(value)
    if isinstance(value, datetime):
        return f"{local(value):%Y-%m-%d %H:%M:%S}"
    if isinstance(value, (list, tuple)):
        return shown_controls(", ".join(str(v) for v in value))
    if isinstance(value, dict):
        return shown_controls(json.dumps(value, default=str)[:500])
    if isinstance(value, str):
        return shown_controls(value)
    return value


# A LinkColumn shows the text its display_text regex captures from the href, URL-decoded (the
# frontend's decodeURIComponent): captured from the query, an id's right-to-left override or
# zero-width space came back and was obeyed. The href's fragment carries the id as every other
# cell shows it (shown_controls), and the column shows that; the query keeps the stored id, so
# the link opens the right record (the fragment never reaches the app's query parameters).
LINK_TEXT = r"#(.*)$"


def link(page: str, param: str, value: Any) -> str:
    """The deep link to ``value`` on ``page`` (``?<param>=<the stored id>``), with the id as
    people should read it in its fragment: the text of a LinkColumn with display_text=LINK_TEXT."""
    text = str(value)
    return f"/{page}?{urlencode({param: text})}#{quote(shown_controls(text), safe='')}"
