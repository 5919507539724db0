"""The channel-neutral alert message (what happened, the fields, the first runbook steps) that
every channel renders in its own format (sge_recon/alerts/channels.py, hooks.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

PRIORITY_COLOURS = {"P0": 0xD32F2F, "P1": 0xF57C00, "P2": 0xFBC02D, "P3": 0x1976D2}
RESOLVED_COLOUR = 0x388E3C
INFO_COLOUR = 0x607D8B


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
    event: str = "notice"             # open | escalate | reminder | resolve | notice
    incident_id: int | None = None
    kind: str | None = None           # the incident kind (ledger_imbalance, ...)
    environment: str = ""             # SGE_ENVIRONMENT
    component: str = ""               # where: the console area (ledger, queue, intents, ...)
    details: dict = field(default_factory=dict)  # machine-readable facts (ids, amounts)
    # how many times the incident was reopened and paged again (alerts/spread.py): PagerDuty
    # keys each round's alert apart, since it never re-notifies an acknowledged one
    page_round: int = 0

    @property
    def colour(self) -> int:
        if self.resolved:
            return RESOLVED_COLOUR
        return PRIORITY_COLOURS.get(self.priority or "", INFO_COLOUR)


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in "…" when cut. Cut raw text, never escaped text
    (a cut could split an entity: Slack's is ``channels.slack_cut``)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def duration_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if hours else []) + [f"{mins} min"]
    return " ".join(parts[:2]) if days else " ".join(parts)
