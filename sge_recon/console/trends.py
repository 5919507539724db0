"""The Trends page's data (the weekly deep dive): processing time, the queue-depth heatmap,
payout times, RPC providers and the commission spot-check. Part of
:class:`~sge_recon.console.ConsoleService`, kept apart to keep each module small."""

from __future__ import annotations

from typing import Any, Callable

from ..db import trends

QUEUE_DEPTH_METRIC = "sge_queue_depth_total"


class TrendsReader:
    read: Callable[[Callable[[Any], Any]], Any]
    read_platform: Callable[[Callable[[Any], Any]], Any]

    def processing_trend(self, days: int = 7) -> list[dict]:
        return self.read_platform(lambda c: trends.processing_time_by_hour(c, days))

    def queue_heatmap(self, days: int = 28) -> tuple[list[dict], str]:
        """Mean depth per weekday × hour, and where it came from (samples or job history)."""
        rows = self.read(lambda c: trends.queue_depth_samples_by_hour(c, QUEUE_DEPTH_METRIC, days))
        if rows:
            return rows, "the scheduler's per-minute queue-depth samples"
        return (self.read_platform(lambda c: trends.queue_depth_reconstructed_by_hour(c, min(days, 7))),
                "job history (no queue-depth samples stored yet)")

    def payout_execution_times(self, days: int = 30) -> list[dict]:
        return self.read_platform(lambda c: trends.payout_execution_times(c, days))

    def rpc_health(self, days: int = 7) -> list[dict]:
        return self.read_platform(lambda c: trends.rpc_by_hour(c, days))

    def commission_spot_check(self, sample: int = 10) -> list[dict]:
        rows = self.read_platform(lambda c: trends.commission_spot_check(c, sample))
        for row in rows:
            if row["commission_id"] is None or row["status"] == "cancelled":
                row["matches"] = None  # none, or not owed (commission_accuracy leaves it out)
                continue
            row["matches"] = (row["actual_rate"] == row["contract_rate"]
                              and row["actual_amount"] == row["expected_amount"])
        return rows
