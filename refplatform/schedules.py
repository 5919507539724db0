"""Retry schedules of the platform (DESIGN §6) and the clock everything reads time from.

The clock is injectable so that tests move time forward instead of sleeping for an hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

Clock = Callable[[], datetime]

# A transient intent failure is retried after these delays; after the last one it fails.
INTENT_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
                  timedelta(hours=1))
# Webhook attempts happen at 0, then these delays after each failed attempt; then `failed`.
WEBHOOK_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
                   timedelta(hours=1))
WEBHOOK_MAX_ATTEMPTS = 1 + len(WEBHOOK_BACKOFF)
# An endpoint that has failed continuously for this long is disabled.
ENDPOINT_DISABLE_AFTER = timedelta(hours=24)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def intent_retry_delay(failed_attempts: int) -> timedelta | None:
    """Delay before the next try after `failed_attempts` failures; None: give up (failed)."""
    if 1 <= failed_attempts <= len(INTENT_BACKOFF):
        return INTENT_BACKOFF[failed_attempts - 1]
    return None


def webhook_retry_delay(attempts_made: int) -> timedelta | None:
    """Delay before the next attempt after `attempts_made` failed attempts; None: give up."""
    if 1 <= attempts_made < WEBHOOK_MAX_ATTEMPTS:
        return WEBHOOK_BACKOFF[attempts_made - 1]
    return None


class ManualClock:
    """A clock that moves only when told (tests, simulations)."""

    def __init__(self, start: datetime | None = None):
        self.now = start or utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now
