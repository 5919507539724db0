"""Operational metrics: live facts from the database, the Prometheus exporter, trend samples."""

from .collector import MetricsServer, ReconCollector, core_gauges, state_gauges, trend_samples
from .facts import Facts, gather_facts

__all__ = ["Facts", "MetricsServer", "ReconCollector", "core_gauges", "gather_facts",
           "state_gauges", "trend_samples"]
