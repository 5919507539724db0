"""How long settlement intents took from creation to completion, as the ``/metrics`` histogram
reads it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .snapshot import Reader


def processing_histogram(db: Reader, since: datetime, until: datetime,
                         bounds: tuple[float, ...]) -> list[dict]:
    """Intents completed in (since, until]: per upper bound ``le`` the cumulative count of those
    that took at most ``le`` seconds from creation to completion, with the overall count ``n`` and
    sum ``total`` on every row (the ``completed_at`` index bounds the scan).

    A completion dated before its creation (clock skew between the hosts that wrote the two) is
    not counted, as in checks/processing_time.sql: its negative duration would make the
    histogram's ``_sum`` go down, which ``rate()`` reads as a counter reset (adding back the
    whole sum: a false ProcessingSlow)."""
    return db.fetch_all(
        "WITH done AS (SELECT extract(epoch FROM completed_at - created_at)::float8 AS d "
        "FROM platform.settlement_intents WHERE status = 'completed' "
        "AND completed_at > %(since)s AND completed_at <= %(until)s "
        "AND completed_at >= created_at) "
        "SELECT b.le, (SELECT count(*) FROM done WHERE d <= b.le) AS le_count, "
        "(SELECT count(*) FROM done) AS n, (SELECT coalesce(sum(d), 0) FROM done) AS total "
        "FROM unnest(%(bounds)s::float8[]) AS b(le) ORDER BY b.le",
        {"since": since, "until": until, "bounds": list(bounds)})
