"""The Prometheus exporter: a custom collector over the check results, with a short cache.

A scrape never scans the database by itself: the gauges are computed at most once per
``ttl`` seconds (a refresh started by whichever scrape comes first, in a thread of its own) and
served from memory in between, so ten Prometheus replicas scraping every 5 s cost one round of
queries per ``ttl``. No scrape waits for a refresh longer than ``answer_within`` seconds. The gauges come
from :class:`~sge_recon.metrics.facts.Facts`, read from the signal checks' results computed by
the check code (the catalogue's SQL and thresholds); the same facts feed the alert rules, and ``trend_samples`` stores them in
``recon.metric_samples`` every minute for the console's trends. Names: docs/metrics.md.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Iterator

from ..db import alert_outbox, job_runs, ledger_checkpoint
from ..db import checks as check_rows
from ..db import incidents as incident_rows
from ..db.snapshot import Snapshot, snapshot
from ..money import MONEY
from .facts import WORKER_STATUSES, Facts, gather_facts
from .histogram import PROCESSING_METRIC, ProcessingHistogram
from ..check_names import (
    LEDGER_BALANCE, PROCESSING_TIME, QUEUE_DEPTH, QUEUE_PAUSED, STUCK_INTENTS,
    WEBHOOK_ENDPOINTS_FAILING, WEBHOOK_EXHAUSTED, WEBHOOK_RETRIES, WORKER_STATUS,
)

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from ..config import Settings
    from ..db import Database
    from ..db.databases import Databases
    from ..scheduling.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 15.0
METRICS_LOCK_TIMEOUT_MS = 5000  # a refresh never waits on a table lock longer than this
# A scrape waits this long for a refresh, then answers with the last values read (sge_recon_up 0)
# while the refresh goes on: within Prometheus's default scrape_timeout (10 s), so a slow or
# locked database never makes the series go stale (and the alerts on them "resolve").
ANSWER_WITHIN_SECONDS = 5.0
CHECK_STATUSES = ("pass", "warn", "fail", "error", "unavailable")


@dataclass
class Gauge:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    samples: list[tuple[tuple[str, ...], Decimal]] = field(default_factory=list)
    kind: str = "gauge"  # or "counter" (a count that only grows; exposed as <name>_total)

    def add(self, value: Decimal | int | float, *labels: str | None) -> "Gauge":
        # platform data may hold a NULL (a ledger row without currency): the empty label value,
        # Prometheus's "not set"; None would make every scrape fail (500), and all alerts resolve
        self.samples.append((tuple("" if v is None else str(v) for v in labels),
                             Decimal(str(value))))
        return self


def core_gauges(facts: Facts) -> list[Gauge]:
    """The gauges computed from the live facts (also stored as trend samples)."""
    processing = Gauge(PROCESSING_METRIC,
                       "Mean seconds from creation to completion of the last 100 completed "
                       "settlement intents (0 when none completed yet).")
    processing.add(facts.processing_mean_seconds or 0)
    ledger = Gauge("sge_ledger_balance_difference_cents",
                   "Debits minus credits over the whole ledger, in cents, per program and "
                   "currency that ledger_balance flags (off by LEDGER_TOLERANCE or more; no "
                   "series = balanced).", ("program_id", "currency"))
    for d in facts.ledger:
        ledger.add(MONEY.multiply(d.difference, 100), d.program_id, d.currency)
    queue = Gauge("sge_queue_depth_total", "Jobs waiting in the settlement queue.")
    queue.add(facts.queue_depth)
    paused = Gauge("sge_queue_paused", "1 while the settlement queue is paused (workers take no "
                   "new jobs), else 0.")
    paused.add(1 if facts.queue_paused else 0)
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
    endpoints.add(facts.endpoints_failing)
    # A signal the platform has no data for exports no series: an absent series is not a zero
    # (sge_check_status{status="unavailable"} says why it is missing).
    by_check = {PROCESSING_TIME: [processing], LEDGER_BALANCE: [ledger],
                QUEUE_DEPTH: [queue], QUEUE_PAUSED: [paused], WORKER_STATUS: [workers, live, down],
                STUCK_INTENTS: [stuck, oldest], WEBHOOK_EXHAUSTED: [exhausted],
                WEBHOOK_RETRIES: [retrying], WEBHOOK_ENDPOINTS_FAILING: [endpoints]}
    return [g for check, gauges in by_check.items() if facts.has(check) for g in gauges]


# the signal check each served business gauge comes from (an errored check keeps its last values)
GAUGE_CHECKS = {
    "sge_ledger_balance_difference": LEDGER_BALANCE,
    "sge_ledger_balance_difference_cents": LEDGER_BALANCE,
    "sge_queue_depth": QUEUE_DEPTH, "sge_queue_depth_total": QUEUE_DEPTH,
    "sge_queue_paused": QUEUE_PAUSED, "sge_worker_status": WORKER_STATUS,
    "sge_workers": WORKER_STATUS, "sge_worker_down_seconds": WORKER_STATUS,
    "sge_intents_stuck": STUCK_INTENTS, "sge_intents_stuck_oldest_seconds": STUCK_INTENTS,
    "sge_webhook_deliveries_exhausted": WEBHOOK_EXHAUSTED,
    "sge_webhook_deliveries_retry_scheduled": WEBHOOK_RETRIES,
    "sge_webhook_endpoints_failing": WEBHOOK_ENDPOINTS_FAILING,
}


def exported_gauges(facts: Facts) -> list[Gauge]:
    """What /metrics serves from the live facts: the core gauges without the processing mean
    (served as the histogram of the same name instead), plus the conventional twins of pinned
    names: ``sge_queue_depth`` and the ledger difference in currency units."""
    gauges = [g for g in core_gauges(facts) if g.name != PROCESSING_METRIC]
    queue = Gauge("sge_queue_depth", "Jobs waiting in the settlement queue (the same value as "
                  "the pinned sge_queue_depth_total).")
    queue.add(facts.queue_depth)
    ledger = Gauge("sge_ledger_balance_difference", "Debits minus credits over the whole ledger "
                   "per program, in units of its currency, for the ledgers ledger_balance flags "
                   "(no series = balanced).",
                   ("program_id", "currency"))
    for d in facts.ledger:
        ledger.add(d.difference, d.program_id, d.currency)
    twins = [g for check, g in ((QUEUE_DEPTH, queue), (LEDGER_BALANCE, ledger))
             if facts.has(check)]
    return gauges + twins + replica_gauges(facts)


def replica_gauges(facts: Facts) -> list[Gauge]:
    """The standby's lag, when the platform is read on one (PLATFORM_READ_URL); no series
    otherwise (there is no replica to measure, which is not a lag of 0)."""
    if facts.replica_where is None:
        return []
    out = []
    if facts.replica_lag_seconds is not None:
        out.append(Gauge("sge_recon_replica_lag_seconds", "How far the standby that the platform "
                         "is read on (PLATFORM_READ_URL) is behind the primary: now() - "
                         "pg_last_xact_replay_timestamp(), 0 when it has replayed all the "
                         "primary's WAL.").add(facts.replica_lag_seconds))
    out.append(Gauge("sge_recon_replica_replay_paused", "1 when WAL replay on the standby of "
                     "PLATFORM_READ_URL is paused (checks refuse to run there).")
               .add(1 if facts.replica_paused else 0))
    out.append(Gauge("sge_recon_replica_stale", "1 when the standby of PLATFORM_READ_URL is "
                     "beyond REPLICA_MAX_LAG_SECONDS, paused or unreachable (checks error).")
               .add(1 if facts.replica_problem else 0))
    return out


def state_gauges(db: "Database", settings: "Settings") -> list[Gauge]:
    """Gauges about sge-recon's own state (``db``): checks, incidents, alert deliveries, jobs."""
    from ..alerts.channels import configured_channels

    with snapshot(db) as snap:
        return _state_gauges(snap, configured_channels(settings), _catalogue_names(settings, db))


def _catalogue_names(settings: "Settings", db: "Database") -> frozenset[str] | None:
    """The checks of the catalogue in use: the stored result of one removed from it (a CHECKS_DIR
    edit, a rename) is not served, or its last `fail` would page (CheckFailing) for ever. None
    when the catalogue cannot be read (a broken edit): then every stored result is served."""
    from ..checks import CheckService

    try:
        return frozenset(d.name for d in CheckService(settings, db).catalogue())
    except Exception as exc:  # noqa: BLE001 - a broken catalogue never hides a failing check
        log.warning("metrics: the check catalogue cannot be read (%s): every stored check result "
                    "is served", exc)
        return None


def _state_gauges(db: Snapshot, channels: list[str],
                  catalogue: frozenset[str] | None = None) -> list[Gauge]:
    check_status = Gauge("sge_check_status", "Latest stored result of each check: 1 for its "
                         "status, 0 for the others.", ("check", "priority", "status"))
    failing = Gauge("sge_check_failing_rows", "Failing rows of each check's latest result.",
                    ("check",))
    checked_at = Gauge("sge_check_last_run_timestamp_seconds", "When each check last ran.",
                       ("check",))
    for r in check_rows.latest_check_statuses(db):
        if catalogue is not None and r["name"] not in catalogue:
            continue
        for status in CHECK_STATUSES:
            check_status.add(1 if r["status"] == status else 0, r["name"], r["priority"] or "",
                             status)
        failing.add(r["failing_rows"] or 0, r["name"])
        checked_at.add(r["created_at"].timestamp(), r["name"])
    incidents = Gauge("sge_incidents_open",
                      "Unresolved (open, acknowledged or accepted) incidents.",
                      ("priority", "kind"))
    for r in incident_rows.open_incident_counts(db):
        incidents.add(r["n"], r["priority"], r["kind"])
    pending = Gauge("sge_alert_deliveries_pending", "Alert messages waiting to be sent or "
                    "retried, per channel.", ("channel",))
    done = Gauge("sge_alert_deliveries", "Alert messages sent, or given up (failed: after 24 h "
                 "of retries, or at once on a permanent 4xx answer), per channel.",
                 ("channel", "status"), kind="counter")
    counts = {(c, s): 0 for c in channels for s in ("pending", "sent", "failed")}
    counts.update({(r["channel"], r["status"]): r["n"] for r in alert_outbox.alert_delivery_counts(db)})
    for (channel, status), n in sorted(counts.items()):
        if status == "pending":
            pending.add(n, channel)
        else:
            done.add(n, channel, status)
    # the label is not `job`: Prometheus would rename it exported_job at scrape
    jobs = Gauge("sge_job_last_success_timestamp_seconds", "When each scheduled job last "
                 "succeeded (no series for a job that never did).", ("scheduled_job",))
    for r in job_runs.last_success_per_job(db):
        jobs.add(r["finished_at"].timestamp(), r["job"])
    return [check_status, failing, checked_at, incidents, pending, done, jobs,
            *_checkpoint_gauges(db)]


def _checkpoint_gauges(db: Snapshot) -> list[Gauge]:
    """The per-minute run's ledger checkpoint: a candidate that waits long means a transaction
    open since then holds the watermark, so the per-minute run reads ever more entries and
    ledger_tamper cannot yet vouch for that history (LedgerCheckpointStalled)."""
    times = ledger_checkpoint.checkpoint_times(db)
    advanced = Gauge("sge_recon_ledger_checkpoint_advanced_timestamp_seconds", "When the ledger "
                     "checkpoint's watermark last moved (no series before it first did).")
    waiting = Gauge("sge_recon_ledger_checkpoint_candidate_timestamp_seconds", "When the "
                    "watermark candidate still waiting for older transactions was recorded "
                    "(no series while none waits).")
    if times and times["advanced_at"] is not None:
        advanced.add(times["advanced_at"].timestamp())
    if times and times["pending_at"] is not None:
        waiting.add(times["pending_at"].timestamp())
    return [advanced, waiting]


def trend_samples(facts: Facts) -> list[tuple[str, dict[str, str], Decimal]]:
    """(metric, labels, value) rows for recon.metric_samples, from the core gauges."""
    out = []
    for gauge in core_gauges(facts):
        for labels, value in gauge.samples:
            out.append((gauge.name, dict(zip(gauge.labels, labels)), value))
    return out


class ReconCollector:
    """prometheus_client custom collector over the database, cached for ``ttl`` seconds.

    A refresh that cannot read the database keeps serving the last values read, with
    ``sge_recon_up 0``; ``sge_recon_last_success_timestamp_seconds`` says how old they are (it
    moves only on a successful read). Alerts therefore do not "resolve" because the exporter is
    blind, and the staleness rules in docs/prometheus-alerts.yml page instead. A refresh runs in
    a thread of its own, one at a time: a scrape waits for it at most ``answer_within`` seconds,
    then answers with the last values read and ``sge_recon_up 0`` (the same as a failed read)."""

    def __init__(self, settings: "Settings", databases: "Databases",
                 ttl: float = DEFAULT_TTL_SECONDS, clock: "Clock | None" = None,
                 answer_within: float = ANSWER_WITHIN_SECONDS):
        from ..scheduling.clock import DatabaseClock

        self.settings = settings
        self.databases = databases
        self.ttl = ttl
        self.answer_within = answer_within
        # the database's clock, as the scheduler's (its query bounded like a refresh's): the ages
        # served (sge_worker_down_seconds) and the histogram's watermark are measured against
        # times the platform wrote by it; a host clock hours off paged hours late or early and
        # moved the watermark past every completion to come
        self.clock = clock or DatabaseClock(lambda: self._bounded().db)
        self._lock = threading.Lock()
        self._refreshed_at: float | None = None  # monotonic end of the last refresh
        self._running: threading.Thread | None = None
        self._running_since = 0.0
        self._up = 0
        self._duration = 0.0
        self._last_good: list[Gauge] = []
        self._last_success: datetime | None = None
        self.histogram = ProcessingHistogram()
        self.refreshes = 0  # how many times the database was read (for tests and /metrics)
        self.failed_refreshes = 0

    def describe(self) -> list:
        return []  # registering must not touch the database

    def collect(self) -> Iterator:
        with self._lock:
            due = self._refreshed_at is None or \
                time.monotonic() - self._refreshed_at >= self.ttl
            if due and self._running is None:
                self._running_since = time.monotonic()
                self._running = threading.Thread(target=self._refresh, daemon=True,
                                                 name="metrics-refresh")
                self._running.start()
            running = self._running
        if running is not None:
            running.join(self.answer_within)
        with self._lock:
            # overrun: the refresh waited for is still running (not a newer one started since by
            # another scrape: this one's outcome is served then)
            families = self._families(overrun=running is not None and running.is_alive())
        yield from families

    def _bounded(self) -> "Databases":
        """The databases whose every query has a statement and a lock timeout: a table lock or
        a slow query makes a refresh fail (sge_recon_up 0, the last values served), and it never
        runs for ever in the background."""
        return self.databases.bounded(
            statement_timeout_ms=self.settings.MONITOR_STATEMENT_TIMEOUT_SECONDS * 1000,
            lock_timeout_ms=METRICS_LOCK_TIMEOUT_MS)

    def _refresh(self) -> None:
        """One read of the database (in its own thread); its outcome replaces the state served.

        A signal check that errors (its query failed, timed out or was cut by the budget) keeps
        the gauges it had at the last read, and the read counts as incomplete (sge_recon_up 0,
        the freshness timestamp stays); the other checks' gauges are fresh. Only a read that
        fails as a whole (the database is down) serves every last value."""
        started = time.monotonic()
        now: datetime = self.clock.now()
        read, up, gauges, delta = False, 0, None, None
        try:
            dbs = self._bounded()
            facts = gather_facts(dbs.db, self.settings, now, dbs.platform_db)
            blind = {n for n in facts.errored if facts.results[n].engine == "sql"}
            gauges = exported_gauges(facts)
            if blind:
                log.error("metrics: checks errored (serving their last values): %s: %s",
                          ", ".join(sorted(blind)), facts.unavailable[min(blind)])
                with self._lock:
                    gauges += [g for g in self._last_good if GAUGE_CHECKS.get(g.name) in blind]
            gauges += state_gauges(dbs.db, self.settings)
            # where the facts were read: a standby that is down, paused or too far behind is
            # reported stale and the primary read instead (reading it here failed every refresh
            # while it was down, and counted a paused one's old completions for good)
            delta = self.histogram.read(dbs.db if facts.replica_problem else dbs.platform_db,
                                        now)
            read, up = True, 0 if blind else 1
        except Exception as exc:  # noqa: BLE001 - a scrape must answer even when the DB is down
            log.error("metrics: could not read the database (serving the last values): %s", exc)
        finally:
            with self._lock:
                if read and delta is not None:
                    self.histogram.apply(delta)
                    self._last_good = gauges or []
                if up:
                    self._last_success = now
                else:
                    self.failed_refreshes += 1
                self.refreshes += 1
                self._up, self._duration = up, time.monotonic() - started
                self._refreshed_at, self._running = time.monotonic(), None

    def _families(self, overrun: bool) -> list:
        """What a scrape serves: the last values read, and the exporter's own health (``overrun``:
        a refresh is still running past ``answer_within``, so these values are the last ones)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        families = []
        for gauge in self._last_good:
            kind = CounterMetricFamily if gauge.kind == "counter" else GaugeMetricFamily
            family = kind(gauge.name, gauge.help, labels=list(gauge.labels))
            for labels, value in gauge.samples:
                family.add_metric(list(labels), float(value))
            families.append(family)
        if self._last_success is not None:
            families.append(self.histogram.family())
        duration = time.monotonic() - self._running_since if overrun else self._duration
        meta = [("sge_recon_up", "1 when the last refresh could read the database, 0 while the "
                 "values served are the last ones read (a refresh failed, or is still running "
                 "after ANSWER_WITHIN_SECONDS).", 0 if overrun else self._up),
                ("sge_recon_refresh_duration_seconds", "How long the last refresh took (or the "
                 "one still running has taken so far).", duration)]
        if self._last_success is not None:
            meta.append(("sge_recon_last_success_timestamp_seconds", "When the values served "
                         "were read (moves only on a successful read).",
                         self._last_success.timestamp()))
        for name, help_text, number in meta:
            families.append(GaugeMetricFamily(name, help_text, value=float(number)))
        return families


class MetricsServer:
    """``/metrics`` over HTTP on ``host:port`` (prometheus_client's threaded server)."""

    def __init__(self, collector: ReconCollector, port: int, host: str = "127.0.0.1"):
        self.collector = collector
        self.port = port
        self.host = host
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "MetricsServer":
        from wsgiref.simple_server import make_server

        from prometheus_client import CollectorRegistry, make_wsgi_app
        from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

        from ..errors import ReconError

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        app = _answer_head(make_wsgi_app(registry))
        try:
            # the address's own family: an IPv6 one (::1, or :: for every interface) could not
            # be served by the IPv4-only server ("Address family for hostname not supported")
            family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
            server = type("MetricsWSGIServer", (ThreadingWSGIServer,), {"address_family": family})
            self._server = make_server(self.host, self.port, app, server,
                                       handler_class=_SilentHandler)
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                            name="metrics-http")
            self._thread.start()
        except (OSError, UnicodeError, ValueError) as exc:
            raise ReconError(_serve_problem(self.host, self.port, exc)) from None
        self.port = self._server.server_address[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{_hostport(self.host, self.port)}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _serve_problem(host: str, port: int, exc: Exception) -> str:
    """Why /metrics cannot listen, with the option to change: the address (not one of this
    machine's, or no such name) or the port (taken, or privileged)."""
    import errno
    import socket

    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    where = f"cannot serve /metrics on {_hostport(host, port)} ({reason})"
    if isinstance(exc, (socket.gaierror, UnicodeError, ValueError)) or \
            getattr(exc, "errno", None) == errno.EADDRNOTAVAIL:
        return (f"{where}; --metrics-host must be an address of this machine (127.0.0.1, or "
                "0.0.0.0 for every interface) or a name that resolves to one")
    return f"{where}; choose another port with --metrics-port"


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _answer_head(app):
    """HEAD /metrics answers like GET without the body (prometheus_client says 405)."""

    def wrapped(environ, start_response):
        if environ.get("REQUEST_METHOD") != "HEAD":
            return app(environ, start_response)
        body = app({**environ, "REQUEST_METHOD": "GET"}, start_response)
        for _ in body:
            pass
        return [b""]

    return wrapped
