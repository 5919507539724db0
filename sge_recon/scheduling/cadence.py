"""When a job is due: UTC slots (every minute, daily, weekly, monthly).

A *slot* is the scheduled instant a run belongs to (e.g. 2026-11-24 02:00 UTC for the daily
reconciliation). The scheduler runs the latest slot at or before now, once; recording runs per
slot is what makes a job run exactly once across schedulers and lets a late start still run a
slot it missed (within the job's grace period).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import UsageError
from .clock import as_utc

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Cadence:
    kind: str  # minute | daily | weekly | monthly
    hour: int = 0
    minute: int = 0
    weekday: int = 0  # Monday = 0 (weekly)
    day: int = 1      # day of month (monthly), 1..28 so that every month has it

    # -- constructors -----------------------------------------------------------------------------
    @classmethod
    def every_minute(cls) -> "Cadence":
        return cls("minute")

    @classmethod
    def daily(cls, at: str) -> "Cadence":
        hour, minute = _parse_hhmm(at)
        return cls("daily", hour, minute)

    @classmethod
    def weekly(cls, weekday: str, at: str) -> "Cadence":
        if weekday.lower() not in WEEKDAYS:
            raise UsageError(f"unknown weekday {weekday!r}; use one of {', '.join(WEEKDAYS)}")
        hour, minute = _parse_hhmm(at)
        return cls("weekly", hour, minute, weekday=WEEKDAYS.index(weekday.lower()))

    @classmethod
    def monthly(cls, day: int, at: str) -> "Cadence":
        if not 1 <= day <= 28:
            raise UsageError(f"monthly day must be 1..28 (every month has it), got {day}")
        hour, minute = _parse_hhmm(at)
        return cls("monthly", hour, minute, day=day)

    # -- slots ------------------------------------------------------------------------------------
    def latest_slot(self, now: datetime) -> datetime:
        """The most recent scheduled instant at or before ``now`` (UTC)."""
        now = as_utc(now)
        if self.kind == "minute":
            return now.replace(second=0, microsecond=0)
        at = now.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if self.kind == "daily":
            return at if at <= now else at - timedelta(days=1)
        if self.kind == "weekly":
            at -= timedelta(days=(now.weekday() - self.weekday) % 7)
            return at if at <= now else at - timedelta(days=7)
        if self.kind == "monthly":
            at = at.replace(day=self.day)
            if at > now:
                at = _previous_month(at)
            return at
        raise UsageError(f"unknown cadence {self.kind!r}")

    def next_slot(self, now: datetime) -> datetime:
        """The first scheduled instant strictly after ``now``."""
        latest = self.latest_slot(now)
        if self.kind == "minute":
            return latest + timedelta(minutes=1)
        if self.kind == "daily":
            return latest + timedelta(days=1)
        if self.kind == "weekly":
            return latest + timedelta(days=7)
        return _next_month(latest)

    def describe(self) -> str:
        hhmm = f"{self.hour:02d}:{self.minute:02d} UTC"
        if self.kind == "minute":
            return "every minute"
        if self.kind == "daily":
            return f"daily at {hhmm}"
        if self.kind == "weekly":
            return f"every {WEEKDAYS[self.weekday].capitalize()} at {hhmm}"
        return f"monthly on day {self.day} at {hhmm}"


def _parse_hhmm(text: str) -> tuple[int, int]:
    try:
        hour, minute = (int(part) for part in text.split(":"))
    except ValueError:
        raise UsageError(f"time {text!r} must be HH:MM (24 h, UTC)") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise UsageError(f"time {text!r} is out of range; use 00:00..23:59 (UTC)")
    return hour, minute


def _previous_month(when: datetime) -> datetime:
    year, month = (when.year, when.month - 1) if when.month > 1 else (when.year - 1, 12)
    return when.replace(year=year, month=month)


def _next_month(when: datetime) -> datetime:
    year, month = (when.year, when.month + 1) if when.month < 12 else (when.year + 1, 1)
    return when.replace(year=year, month=month)
