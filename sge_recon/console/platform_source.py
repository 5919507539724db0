"""Where the console reads the platform: the standby of PLATFORM_READ_URL while it can be trusted,
the primary (DATABASE_URL) while it cannot.

A standby that is down, frozen, paused, too far behind, or no standby of DATABASE_URL's platform
(another cluster, another database) is refused by :func:`sge_recon.replica.freshness`. The alert
facts and ``/metrics`` then read the primary for that round (sge_recon.metrics.facts); the
console does the same, so that an ops lead in a standby incident keeps every page, with a banner
that says the standby's trouble and that the figures are the primary's. The primary is
DATABASE_URL, the platform's own database: nothing else is ever read instead.

The measurement costs a query on each server (and up to the connect timeout on a frozen
standby), so it is kept for :data:`FRESH_TTL_SECONDS` while the standby is fine and
:data:`REFUSED_TTL_SECONDS` while it is refused (a page load does not wait for the standby's
connect timeout every time; coming back to the standby takes at most that long).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ..errors import DatabaseUnavailable

if TYPE_CHECKING:
    from ..checks.service import CheckService
    from ..db import Database
    from ..db.databases import Databases
    from ..replica import Freshness

T = TypeVar("T")
FRESH_TTL_SECONDS = 5.0
REFUSED_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class PlatformSource:
    """The server the console reads the platform on now, and the checks reading it."""

    db: "Database"
    checks: "CheckService"
    freshness: "Freshness"
    on_primary_instead: bool  # the standby was refused: the primary is read meanwhile

    @property
    def notice(self) -> str | None:
        """The banner while the primary is read instead of the standby, else None."""
        if not self.on_primary_instead or self.freshness.refusal is None:
            return None
        said = self.freshness.refusal
        return (f"{said[:1].upper()}{said[1:]}. Meanwhile the figures on this page are read on "
                f"the primary, {self.db.where} (DATABASE_URL), as the alerts and /metrics are: "
                "they are current, and the primary carries the console's reads until the "
                "standby is back")


class PlatformChooser:
    def __init__(self, databases: "Databases", checks: "CheckService",
                 freshness: "Callable[[], Freshness]",
                 clock: Callable[[], float] = time.monotonic):
        self._databases = databases
        self._checks = checks
        self._freshness = freshness
        self._clock = clock
        self._lock = threading.Lock()
        self._source: PlatformSource | None = None
        self._until = 0.0
        self._on_primary: "CheckService | None" = None

    def current(self, *, recheck_standby: bool = False) -> PlatformSource:
        """The source to read now (measured again once its time to live has passed, and with
        ``recheck_standby`` whenever it was the standby: a page's banner, drawn before its data,
        is never late for a standby that just went down)."""
        with self._lock:
            if self._source is None or self._clock() >= self._until or \
                    (recheck_standby and not self._source.on_primary_instead):
                self._source = self._measure()
                ttl = REFUSED_TTL_SECONDS if self._source.on_primary_instead else \
                    FRESH_TTL_SECONDS
                self._until = self._clock() + ttl
            return self._source

    def read(self, read: "Callable[[Database, Callable[[Any], T]], T]",
             load: "Callable[[Any], T]") -> T:
        """``read(db, load)`` on the current source. A standby that fails the read (it went
        down or froze since it was measured) is measured at once, and the read done on the
        primary when it is refused: no "database unavailable" page until the next measurement."""
        source = self.current()
        try:
            return read(source.db, load)
        except DatabaseUnavailable:
            if source.db is self._databases.db:
                raise
            self.forget()
            again = self.current()
            if again.db is source.db:
                raise
            return read(again.db, load)

    def forget(self) -> None:
        """Measure again on the next read (the page's own refresh button, a test)."""
        with self._lock:
            self._source = None

    def _measure(self) -> PlatformSource:
        fresh = self._freshness()
        if fresh.refusal is None:
            return PlatformSource(self._databases.platform_db, self._checks, fresh, False)
        primary = self._databases.db
        if self._databases.platform_db is primary:  # no standby: nothing to fall back from
            return PlatformSource(primary, self._checks, fresh, False)
        if self._on_primary is None:
            self._on_primary = self._checks.on_primary()
        return PlatformSource(primary, self._on_primary, fresh, True)


def read_on(source: PlatformSource) -> dict[str, Any]:
    """The Overview's fields that say where the platform was read (sge_recon.console.overview)."""
    fresh = source.freshness
    if fresh.reading is None and fresh.refusal is None:
        return {}
    return {"platform_read": fresh.where, "replica_lag_seconds": fresh.lag_seconds,
            "replica_warning": source.notice or fresh.refusal,
            "read_on_primary": source.db.where if source.on_primary_instead else None}
