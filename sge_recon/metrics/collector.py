"""The Prometheus exporter: a custom collector that reads the database, with a short cache.

A scrape never scans the database by itself: the gauges are computed at most once per
``ttl`` seconds (by whichever scrape comes first) and served from memory in between, so ten
Prometheus replicas scraping every 5 s cost one round of queries per ``ttl``. The same
:class:`~sge_recon.metrics.facts.Facts` feed the alert rules, and ``trend_samples`` stores them in
``recon.metric_samples`` every minute for the console's trends. Names: docs/metrics.md.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Iterator

from ..db import ops
from .facts import WORKER_STATUSES, Facts, gather_facts

if TYPE_CHECKING:
    from ..context import Recon
    from ..scheduling.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 15.0
CHECK_STATUSES = ("pass", "warn", "fail", "error", "unavailable")


@dataclass
class Gauge:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    samples: list[tuple[tuple[str, ...], Decimal]] = field(default_factory=list)

    def add(self, value: Decimal | int | float, *labels: str) -> "Gauge":
        self.samples.append((tuple(labels), Decimal(str(value))))
        return self


def core_gauges(facts: Facts) -> list[Gauge]:
    """The gauges computed from the live facts (also stored as trend samples)."""
    processing = Gauge("sge_intent_processing_duration_seconds",
                       "Mean seconds from creation to completion of the last 100 completed "
                       "settlement intents (0 when none completed yet).")
    processing.add(facts.processing_mean_seconds or 0)
    ledger = Gauge("sge_ledger_balance_difference_cents",
                   "Debits minus credits over the whole ledger, in cents, per program and "
                   "currency (0 = balanced).", ("program_id", "currency"))
    for d in facts.ledger:
        ledger.add(d.difference * 100, d.program_id, d.currency)
    queue = Gauge("sge_queue_depth_total", "Jobs waiting in the settlement queue.")
    queue.add(facts.queue_depth)
    workers = Gauge("sge_worker_status", "Settlement worker status: 1 for the current status, "
                    "0 for the others.", ("status",))
    for status in WORKER_STATUSES:
        workers.add(1 if facts.worker_status == status else 0, status)
    live = Gauge("sge_workers", "Workers by state: live (heartbeat within WORKER_DOWN_SECONDS) "
                 "and seen in the last 24 h.", ("state",))
    live.add(facts.workers_live, "live").add(facts.workers_recent, "seen_24h")
    down = Gauge("sge_worker_down_seconds", "Seconds since the last worker heartbeat while all "
                 "workers are down (0 while any is live).")
    down.add(facts.worker_down_seconds or 0)
    stuck = Gauge("sge_intents_stuck", "Intents in payment_pending/verifying/processing for "
                  "longer than INTENT_TIMEOUT_MINUTES (timeout) or INTENT_STUCK_FAIL_MINUTES "
                  "(fail).", ("threshold",))
    stuck.add(facts.stuck_intents, "timeout").add(facts.stuck_intents_failing, "fail")
    oldest = Gauge("sge_intents_stuck_oldest_seconds", "Age of the oldest stuck intent in its "
                   "status (0 when none).")
    oldest.add(int((facts.now - facts.oldest_stuck_at).total_seconds())
               if facts.oldest_stuck_at else 0)
    exhausted = Gauge("sge_webhook_deliveries_exhausted", "Webhook deliveries that gave up after "
                      "5 attempts (status failed).")
    exhausted.add(facts.webhook_exhausted)
    retrying = Gauge("sge_webhook_deliveries_retry_scheduled", "Webhook deliveries waiting for "
                     "a retry.")
    retrying.add(facts.webhook_retrying)
    endpoints = Gauge("sge_webhook_endpoints_failing", "Enabled webhook endpoints with more than "
                      "WEBHOOK_CONSECUTIVE_FAILURES consecutive failed attempts.")
    endpoints.add(len(facts.failing_endpoints))
    # A signal the platform has no data for exports no series: an absent series is not a zero
    # (sge_check_status{status="unavailable"} says why it is missing).
    by_check = {"processing_time": [processing], "ledger_balance": [ledger],
                "queue_depth": [queue], "worker_status": [workers, live, down],
                "stuck_intents": [stuck, oldest], "webhook_exhausted": [exhausted],
                "webhook_retries": [retrying], "webhook_endpoints_failing": [endpoints]}
    return [g for check, gauges in by_check.items() if facts.has(check) for g in gauges]


def state_gauges(recon: "Recon") -> list[Gauge]:
    """Gauges about sge-recon's own state: checks, incidents, alert deliveries, jobs."""
    with ops.snapshot(recon.db) as snap:
        return _state_gauges(snap)


def _state_gauges(db: "ops.Snapshot") -> list[Gauge]:
    check_status = Gauge("sge_check_status", "Latest stored result of each check: 1 for its "
                         "status, 0 for the others.", ("check", "priority", "status"))
    failing = Gauge("sge_check_failing_rows", "Failing rows of each check's latest result.",
                    ("check",))
    checked_at = Gauge("sge_check_last_run_timestamp_seconds", "When each check last ran.",
                       ("check",))
    for r in ops.latest_check_statuses(db):
        for status in CHECK_STATUSES:
            check_status.add(1 if r["status"] == status else 0, r["name"], r["priority"] or "",
                             status)
        failing.add(r["failing_rows"] or 0, r["name"])
        checked_at.add(r["created_at"].timestamp(), r["name"])
    incidents = Gauge("sge_incidents_open", "Open (or acknowledged) incidents.",
                      ("priority", "kind"))
    for r in ops.open_incident_counts(db):
        incidents.add(r["n"], r["priority"], r["kind"])
    alerts = Gauge("sge_alert_deliveries", "Alert messages by channel and status (pending = "
                   "waiting to be sent or retried).", ("channel", "status"))
    for r in ops.alert_delivery_counts(db):
        alerts.add(r["n"], r["channel"], r["status"])
    jobs = Gauge("sge_job_last_success_timestamp_seconds", "When each scheduled job last "
                 "succeeded.", ("job",))
    for r in ops.last_success_per_job(db):
        jobs.add(r["finished_at"].timestamp(), r["job"])
    return [check_status, failing, checked_at, incidents, alerts, jobs]


def trend_samples(facts: Facts) -> list[tuple[str, dict[str, str], Decimal]]:
    """(metric, labels, value) rows for recon.metric_samples, from the core gauges."""
    out = []
    for gauge in core_gauges(facts):
        for labels, value in gauge.samples:
            out.append((gauge.name, dict(zip(gauge.labels, labels)), value))
    return out


class ReconCollector:
    """prometheus_client custom collector over the database, cached for ``ttl`` seconds."""

    def __init__(self, recon: "Recon", ttl: float = DEFAULT_TTL_SECONDS,
                 clock: "Clock | None" = None):
        from ..scheduling.clock import SystemClock

        self.recon = recon
        self.ttl = ttl
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._cached: list | None = None
        self._cached_at = 0.0
        self.refreshes = 0  # how many times the database was read (for tests and /metrics)

    def describe(self) -> list:
        return []  # registering must not touch the database

    def collect(self) -> Iterator:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached_at >= self.ttl:
                self._cached = self._build()
                self._cached_at = time.monotonic()
            families = self._cached
        yield from families

    def _build(self) -> list:
        from prometheus_client.core import GaugeMetricFamily

        started = time.monotonic()
        now: datetime = self.clock.now()
        try:
            gauges = core_gauges(gather_facts(self.recon.db, self.recon.settings, now))
            gauges += state_gauges(self.recon)
            up = 1
        except Exception as exc:  # noqa: BLE001 - a scrape must answer even when the DB is down
            log.error("metrics: could not read the database: %s", exc)
            gauges, up = [], 0
        self.refreshes += 1
        families = []
        for gauge in gauges:
            family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))
            for labels, value in gauge.samples:
                family.add_metric(list(labels), float(value))
            families.append(family)
        meta = [("sge_recon_up", "1 when the last refresh could read the database.", up),
                ("sge_recon_metrics_refresh_seconds", "How long the last refresh took.",
                 time.monotonic() - started),
                ("sge_recon_metrics_refreshed_timestamp_seconds", "When the values were read.",
                 now.timestamp())]
        for name, help_text, value in meta:
            families.append(GaugeMetricFamily(name, help_text, value=float(value)))
        return families


class MetricsServer:
    """``/metrics`` over HTTP on ``host:port`` (prometheus_client's threaded server)."""

    def __init__(self, collector: ReconCollector, port: int, host: str = "127.0.0.1"):
        self.collector = collector
        self.port = port
        self.host = host
        self._server = None
        self._thread = None

    def start(self) -> "MetricsServer":
        from prometheus_client import CollectorRegistry, start_http_server

        from ..errors import ReconError

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        try:
            self._server, self._thread = start_http_server(self.port, addr=self.host,
                                                           registry=registry)
        except OSError as exc:
            raise ReconError(f"cannot serve /metrics on {self.host}:{self.port} "
                             f"({exc.strerror}); choose another port with --metrics-port") from None
        self.port = self._server.server_address[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
