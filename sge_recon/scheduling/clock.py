"""Clocks. The scheduler asks its clock what time it is, so tests can run a month of schedule in
milliseconds by moving a :class:`ManualClock` instead of waiting; ``sge-recon scheduler`` keeps
the database's time (:class:`DatabaseClock`)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from ..db import Database

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told to (tests, dry runs)."""

    def __init__(self, start: datetime):
        self._now = as_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> datetime:
        with self._lock:
            self._now = as_utc(when)
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


def as_utc(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


class DatabaseClock:
    """The database server's clock, the one every scheduler sharing the database agrees on.

    ``now()`` is the host's clock (``source``) plus the offset to the database's
    ``clock_timestamp()``, measured again every ``refresh_seconds``. So a host whose clock is
    wrong (NTP broken, a VM resumed) neither runs tomorrow's slots today (they would then be
    skipped tomorrow, and a success stamped in the future would keep the staleness alerts quiet),
    nor judges the workers' heartbeats (written by the database's clock) minutes off, nor stalls
    after its clock is stepped back. While the database cannot be read, the last offset is kept.
    """

    def __init__(self, db: "Database | Callable[[], Database]", source: Clock | None = None,
                 refresh_seconds: float = 60.0, warn_after: timedelta = timedelta(seconds=5)):
        """``db``: the database, or what gives it on first use (the composition root's services
        are built without opening one)."""
        self._db, self.source = db, source or SystemClock()
        self.refresh_seconds, self.warn_after = refresh_seconds, warn_after
        self.offset = timedelta(0)
        self._measured_at: float | None = None  # time.monotonic() of the last attempt
        self._lock = threading.Lock()

    @property
    def db(self) -> "Database":
        return self._db() if callable(self._db) else self._db

    def now(self) -> datetime:
        with self._lock:
            if (self._measured_at is None
                    or time.monotonic() - self._measured_at >= self.refresh_seconds):
                self._measure()
            return as_utc(self.source.now()) + self.offset

    def _measure(self) -> None:
        from ..db.job_runs import database_now

        self._measured_at = time.monotonic()
        before = as_utc(self.source.now())
        try:
            server = database_now(self.db)
        except Exception as exc:  # noqa: BLE001 - the database is down: keep the last offset
            log.warning("could not read the database's clock (%s); keeping an offset of %s",
                        type(exc).__name__, self.offset)
            return
        after = as_utc(self.source.now())
        offset = as_utc(server) - (before + (after - before) / 2)
        if abs(offset) > self.warn_after and abs(offset - self.offset) > self.warn_after:
            log.warning("this host's clock is %.1f s %s the database's; the scheduler keeps the "
                        "database's time", abs(offset.total_seconds()),
                        "ahead of" if offset < timedelta(0) else "behind")
        self.offset = offset
