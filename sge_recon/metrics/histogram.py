"""The processing-time histogram of /metrics: completed intents counted as they complete."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..db import processing_times

if TYPE_CHECKING:
    from ..db import Database

PROCESSING_METRIC = "sge_intent_processing_duration_seconds"
# histogram bounds (seconds): the runbook's thresholds are 5 s (warn) and 15 s (fail)
PROCESSING_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 300.0, 900.0)
HISTOGRAM_SEED_SECONDS = 3600  # the first read counts the intents completed in the last hour
# A completion is counted once its completed_at is this old: completed_at is written before the
# row commits, and by the platform's clock, so one dated just before a refresh may become visible
# only after it (it would fall below the watermark and never be counted)
HISTOGRAM_LAG_SECONDS = 60


class ProcessingHistogram:
    """Processing time of completed intents as a Prometheus histogram (cumulative counters).

    Each successful refresh adds the intents completed since the previous one (by
    ``completed_at``, up to HISTOGRAM_LAG_SECONDS before the clock's now); the first counts the
    hour before that. Counters start
    again from zero when the process restarts, as Prometheus expects of counters."""

    def __init__(self, bounds: tuple[float, ...] = PROCESSING_BUCKETS):
        self.bounds = bounds
        self.buckets = [0] * len(bounds)  # cumulative: completions that took <= bound
        self.count = 0
        self.sum = 0.0
        self.watermark: datetime | None = None

    def read(self, platform_db: "Database", now: datetime) -> "tuple":
        """The additions since the watermark (applied by ``apply`` once the refresh succeeded)."""
        from datetime import timedelta

        until = now - timedelta(seconds=HISTOGRAM_LAG_SECONDS)
        since = self.watermark or until - timedelta(seconds=HISTOGRAM_SEED_SECONDS)
        if until <= since:
            return since, [0] * len(self.bounds), 0, 0.0
        rows = processing_times.processing_histogram(platform_db, since, until, self.bounds)
        n = rows[0]["n"] if rows else 0
        total = float(rows[0]["total"]) if rows else 0.0
        return until, [r["le_count"] for r in rows], n, total

    def apply(self, delta: tuple) -> None:
        until, les, n, total = delta
        self.buckets = [a + b for a, b in zip(self.buckets, les)]
        self.count += n
        self.sum += total
        self.watermark = until

    def family(self):
        from prometheus_client.core import HistogramMetricFamily

        buckets = [(_le(b), float(c)) for b, c in zip(self.bounds, self.buckets)]
        buckets.append(("+Inf", float(self.count)))
        return HistogramMetricFamily(
            PROCESSING_METRIC, "Seconds from creation to completion of settlement intents, "
            "counted as they complete.", buckets=buckets, sum_value=self.sum)


def _le(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else str(bound)
