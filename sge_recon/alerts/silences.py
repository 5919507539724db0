"""Silences and maintenance windows (issue 19): which silence covers an incident now, weekly
windows (e.g. "Sundays 02:00–03:00 UTC for the platform's maintenance"), and the reminder that a
silence is about to expire."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from . import channels as ch

EXPIRY_REMINDER = timedelta(hours=1)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def in_window(silence: dict, now: datetime) -> bool:
    """A one-off silence is in force from starts_at to ends_at; a weekly one only inside its
    window (UTC), which may cross midnight."""
    if silence.get("weekly_day") is None:
        return True
    now = now.astimezone(timezone.utc)
    start_t: time = silence["weekly_start"]
    length = timedelta(minutes=int(silence["weekly_minutes"]))
    for back in (0, 1):  # today's window, or yesterday's running past midnight
        day = (now - timedelta(days=back)).date()
        if day.isoweekday() != int(silence["weekly_day"]):
            continue
        opens = datetime.combine(day, start_t, tzinfo=timezone.utc)
        if opens <= now < opens + length:
            return True
    return False


def matching(silences: list[dict], kind: str, details: dict, now: datetime) -> dict | None:
    """The silence that mutes an incident now, or None. A silence covers only what it names: one
    for a program mutes an incident only when EVERY program in it is silenced (a grouped
    incident lists all its programs), so a program that is not silenced always pages, even
    when it joins an incident that was opened muted. An incident without programs is muted
    only by a silence for every program. When several silences together cover the programs,
    the one that ends first is returned (the mute ends with it)."""
    programs = set(details.get("programs") or []) | (
        {str(details["program_id"])} if details.get("program_id") else set())
    live = [s for s in silences if s["kind"] in (None, kind) and in_window(s, now)]
    for s in live:
        if s["program_id"] is None:
            return s
    if not programs:
        return None
    covering: dict[str, dict] = {}
    for s in live:
        if s["program_id"] in programs:
            covering.setdefault(s["program_id"], s)
    if set(covering) != programs:
        return None
    return min(covering.values(), key=lambda s: (s["ends_at"], s["id"]))


def describe(silence: dict) -> str:
    scope = (silence["kind"] or "every incident kind") + (
        f" for program {silence['program_id']}" if silence["program_id"] else "")
    if silence.get("weekly_day") is not None:
        scope += (f", {DAYS[int(silence['weekly_day']) - 1]}s "
                  f"{silence['weekly_start']:%H:%M} UTC for {silence['weekly_minutes']} min")
    return scope


def expiry_message(silence: dict, console_url: str) -> ch.Message:
    return ch.Message(
        f"Silence #{silence['id']} expires at "
        f"{silence['ends_at'].astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC: "
        f"{describe(silence)}",
        [("Reason", silence["reason"]), ("Owner", silence["owner"]),
         ("Created by", silence["created_by"])],
        ["Extend it with a new silence if the work is not over; otherwise alerts resume."],
        f"{console_url.rstrip('/')}/incidents", link_label="Silences", event="notice",
        kind="silence_expiring")
