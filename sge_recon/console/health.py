"""Traffic lights: the runbook's thresholds (from settings) turned into green / amber / red.

Pure functions of values and settings, so that the Overview, the tests and the benchmark agree
on what each colour means.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from ..config import Settings


class Light(str, Enum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    GREY = "grey"  # unknown: no data yet, or the check errored; never shown as green

    @classmethod
    def from_check_status(cls, status: str | None) -> "Light":
        return {"pass": cls.GREEN, "warn": cls.AMBER, "fail": cls.RED}.get(status or "", cls.GREY)


@dataclass(frozen=True)
class HealthMetric:
    name: str            # "Ledger status", "Worker status", "Queue depth", "Average processing time"
    value: str           # shown as the metric's value
    light: Light
    detail: str          # one sentence: what the value means against the threshold
    page: str            # the drill-down page that answers "why"


def queue_light(waiting: int, settings: Settings) -> Light:
    if waiting > settings.QUEUE_DEPTH_FAIL:
        return Light.RED
    if waiting >= settings.QUEUE_DEPTH_WARN:
        return Light.AMBER
    return Light.GREEN


def processing_light(mean_seconds: Decimal | None, settings: Settings) -> Light:
    if mean_seconds is None:
        return Light.GREY
    if mean_seconds > settings.PROCESSING_TIME_FAIL_SECONDS:
        return Light.RED
    if mean_seconds >= settings.PROCESSING_TIME_WARN_SECONDS:
        return Light.AMBER
    return Light.GREEN


def worker_state(alive: int, total: int, recent_p50: float | None,
                 baseline_p50: float | None) -> str:
    """DESIGN §5: down (no heartbeat within the limit), degraded (slow or partly down), healthy.
    The one definition is the live facts' (alerts and /metrics read it too)."""
    from ..metrics.facts import worker_status

    def dec(value: float | None) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return worker_status(total, alive, dec(recent_p50), dec(baseline_p50))


WORKER_LIGHTS = {"healthy": Light.GREEN, "degraded": Light.AMBER, "down": Light.RED}
