"""Platform reads on a streaming standby: when its data is too old to call anything green.

``PLATFORM_READ_URL`` points the platform reads (checks, the console's platform data, the live
facts behind alerts and ``/metrics``, exports) at a hot standby of ``DATABASE_URL``. A standby
that stopped replaying shows an old ledger as balanced, so every reader asks :func:`freshness`
first: a standby further behind than ``REPLICA_MAX_LAG_SECONDS``, paused, or unreachable gives a
sentence that the reader reports instead of a result (a check run: every check ``error``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .config import Settings
from .db import Database
from .db.connection import DriverError
from .db.replica import ReplicaReading, measure
from .errors import DatabaseUnavailable

STALE_SUFFIX = "checks refuse to call stale data green"
# in a refused result's details: the check was not run (the standby was stale), so a reader that
# finds the standby fresh again reads it anew instead of taking the refusal as its verdict
REFUSED_STALE = "refused_stale_replica"


@dataclass(frozen=True)
class Freshness:
    """What a reader of the platform knows about the server it reads."""

    where: str
    reading: ReplicaReading | None     # None: reads the primary itself, or the standby is down
    refusal: str | None                # the sentence, when the data must not be trusted

    @property
    def lag_seconds(self) -> Decimal | None:
        return self.reading.lag_seconds if self.reading and self.reading.standby else None

    @property
    def on_standby(self) -> bool:
        return self.reading is not None and self.reading.standby

    def record(self) -> dict:
        """The columns of recon.check_runs (migration 0012)."""
        r = self.reading
        return {"platform_read": self.where,
                "replica_lag_seconds": self.lag_seconds,
                "replica_paused": r.paused if r and r.standby else None,
                "replica_behind_bytes": r.behind_bytes if r and r.standby else None}


def uses_replica(read_db: Database, primary_db: Database) -> bool:
    return read_db is not primary_db and read_db.url != primary_db.url


def freshness(read_db: Database, primary_db: Database, settings: Settings) -> Freshness:
    """Measure the platform-read server; the refusal sentence when it is too far behind."""
    if not uses_replica(read_db, primary_db):
        return Freshness(primary_db.where, None, None)
    try:
        reading = measure(read_db, primary_db)
    except (DriverError, DatabaseUnavailable) as exc:
        first = getattr(exc, "message", None) or str(exc).strip().splitlines()[0]
        return Freshness(read_db.where, None,
                         f"the replica {read_db.where} (PLATFORM_READ_URL) cannot be read "
                         f"({first}); {STALE_SUFFIX} — fix the standby or unset "
                         "PLATFORM_READ_URL")
    return Freshness(read_db.where, reading, refusal(reading, settings.REPLICA_MAX_LAG_SECONDS))


def refusal(reading: ReplicaReading, max_lag_seconds: int | Decimal) -> str | None:
    """The sentence that replaces every result read from this standby, or None when it is fresh
    enough."""
    where = f"the replica {reading.where}"
    if reading.other_database is not None and reading.same_cluster:
        theirs, ours = reading.other_database
        return (f"{where} (PLATFORM_READ_URL) names database {theirs}, not DATABASE_URL's "
                f"{ours}: the platform reads would read other data; {STALE_SUFFIX} — point "
                f"PLATFORM_READ_URL at database {ours} on a streaming standby of DATABASE_URL, or "
                "unset it")
    if not reading.standby:
        if reading.same_server:
            return None  # DATABASE_URL's own server under another URL
        return (f"{where} (PLATFORM_READ_URL) is not a standby of the DATABASE_URL server: it is "
                "not in recovery (a promoted standby, or another primary), so it no longer "
                f"follows the platform's writes; {STALE_SUFFIX} — point PLATFORM_READ_URL at a "
                "streaming standby of DATABASE_URL, or unset it")
    if reading.same_cluster is False:
        return (f"{where} (PLATFORM_READ_URL) is not a standby of the DATABASE_URL server (another "
                f"cluster: different system identifier); {STALE_SUFFIX} — point PLATFORM_READ_URL "
                "at a streaming standby of DATABASE_URL")
    behind = _behind(reading)
    if reading.paused:
        return (f"WAL replay on {where} is paused (pg_wal_replay_pause()); it is {behind}; "
                f"{STALE_SUFFIX} — resume it with SELECT pg_wal_replay_resume()")
    if reading.lag_seconds is None:
        return (f"{where} is behind the primary by an unknown time (it has replayed no "
                f"transaction since it started){_bytes(reading)}; {STALE_SUFFIX}")
    if reading.lag_seconds > max_lag_seconds:
        return (f"{where} is {behind}, more than REPLICA_MAX_LAG_SECONDS "
                f"({max_lag_seconds} s); {STALE_SUFFIX}")
    return None


def lag_text(seconds: Decimal | float | int | None) -> str:
    """``14 min``, ``3.2 s``, ``2 h 5 min``; ``an unknown time`` for None."""
    if seconds is None:
        return "an unknown time"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    minutes = int(s // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def _behind(reading: ReplicaReading) -> str:
    if reading.lag_seconds == 0:
        return "level with the primary for now (nothing to replay yet)"
    return f"{lag_text(reading.lag_seconds)} behind the primary{_bytes(reading)}"


def _bytes(reading: ReplicaReading) -> str:
    if not reading.behind_bytes:
        return ""
    return f" ({reading.behind_bytes:,} bytes of WAL not replayed)"
