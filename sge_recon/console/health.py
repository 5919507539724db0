"""Traffic lights: a check's status (the catalogue's thresholds, checks/checks.yml) shown as
green / amber / red. No threshold lives here: the light of a signal is its check's status."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
