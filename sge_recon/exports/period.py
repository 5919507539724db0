"""A period is one UTC calendar month, written ``YYYY-MM``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import UsageError

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    year: int
    month: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        """First instant of the month (inclusive), UTC."""
        return datetime(self.year, self.month, 1, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        """First instant of the next month (exclusive), UTC."""
        return self.next().start

    def next(self) -> "Period":
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> "Period":
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return self.label

    @classmethod
    def of(cls, moment: datetime) -> "Period":
        moment = moment.astimezone(timezone.utc)
        return cls(moment.year, moment.month)


def is_period_label(name: str) -> bool:
    """A name shaped like a period folder (``YYYY-MM``): what `export list`, the catch-up and the
    columnar engine take a folder's period from."""
    return len(name) == 7 and name[4] == "-" and name[:4].isdigit() and name[5:].isdigit()


def parse_period(text: str, *, now: datetime | None = None) -> Period:
    """``YYYY-MM`` -> Period; a malformed, impossible or future month is a :class:`UsageError`."""
    match = _PERIOD.match((text or "").strip())
    if not match:
        raise UsageError(f"period {text!r} is not a month in the form YYYY-MM (e.g. 2026-10); "
                         "pass --period YYYY-MM with a four-digit year")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise UsageError(f"period {text!r} has month {month:02d}; months run from 01 to 12")
    if year < 1970:
        raise UsageError(f"period {text!r} is before 1970; give a month the ledger can hold")
    period = Period(year, month)
    current = Period.of(now or datetime.now(timezone.utc))
    if period.start > current.start:
        raise UsageError(f"period {period} is in the future (the current UTC month is {current}); "
                         "export a month that has started")
    return period
