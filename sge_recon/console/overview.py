"""The Overview: "is everything green?" in one glance.

Four health metrics as traffic lights, the open alert types with counts and money at stake, the
last reconciliation run and the open incidents. Live values come from cheap queries over rows in
live states (partial indexes); the ledger's status comes from the latest stored check results —
the whole-ledger balance is too heavy for a 30-second refresh, the checks engine stores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ..alerts.evidence import largest_amount, money_order
from ..config import Settings
from ..db import console as q
from .health import (WORKER_LIGHTS, HealthMetric, Light, processing_light, queue_light,
                      worker_state)
from ..check_names import (
    LEDGER_BALANCE, PAYOUT_BATCH_SLA, PROCESSING_TIME, QUEUE_DEPTH, STUCK_INTENTS,
    TRANSACTION_BALANCE, WEBHOOK_EXHAUSTED, WEBHOOK_RETRIES, WORKER_STATUS,
)


@dataclass(frozen=True)
class AlertSummary:
    kind: str            # stuck_intents | ledger_imbalances | pending_payouts | webhook_failures
    label: str
    count: int
    money_at_stake: dict[str, Decimal] | None   # per currency, never summed across currencies
    detail: str
    light: Light
    page: str


@dataclass(frozen=True)
class LastRun:
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    engine: str
    counts: dict[str, int]


@dataclass
class Overview:
    loaded_at: datetime
    metrics: list[HealthMetric]
    alerts: list[AlertSummary]
    last_run: LastRun | None
    open_incidents: dict[str, int] = field(default_factory=dict)
    # the open incidents with the most money at stake first (issue 19: money-weighted severity)
    top_incidents: list[dict] = field(default_factory=list)
    queue_paused: bool = False
    # platform reads on a standby (PLATFORM_READ_URL): where, how far behind, and the sentence
    # when it is too far behind or paused (then nothing on the page is green)
    platform_read: str | None = None
    replica_lag_seconds: Decimal | None = None
    replica_warning: str | None = None

    @property
    def all_green(self) -> bool:
        return self.replica_warning is None and \
            all(m.light is Light.GREEN for m in self.metrics) and \
            all(a.light is Light.GREEN for a in self.alerts)

    @property
    def replica_text(self) -> str | None:
        """One line for the page: "Platform read on … (3.2 s behind the primary)"; None when the
        platform is read on DATABASE_URL itself."""
        if self.platform_read is None:
            return None
        from ..replica import lag_text

        lag = "lag unknown" if self.replica_lag_seconds is None else \
            f"{lag_text(self.replica_lag_seconds)} behind the primary"
        return f"Platform data read on the replica {self.platform_read} ({lag})."


def build_overview(conn, settings: Settings, check_results: dict[str, Any],
                   last_run: Any | None, *, state_conn=None, replica: Any = None) -> Overview:
    """Everything on the Overview: the platform's live values from ``conn`` (the platform-read
    server), sge-recon's state from ``state_conn`` (default ``conn``), the stored check results,
    and ``replica`` (sge_recon.replica.Freshness) when the platform is read on a standby."""
    state = state_conn or conn
    queue = q.queue_waiting(conn)
    processing = q.mean_processing_seconds(conn)
    workers = q.workers(conn, settings.WORKER_DOWN_SECONDS)
    p50 = q.job_duration_p50(conn) if workers else {}
    stuck = q.stuck_intent_summary(conn, settings.INTENT_TIMEOUT_MINUTES,
                                   settings.INTENT_STUCK_FAIL_MINUTES)
    stuck["money"] = q.stuck_money_by_currency(conn, settings.INTENT_TIMEOUT_MINUTES) \
        if int(stuck.get("count") or 0) else {}
    payouts = q.pending_payout_summary(conn, settings.PAYOUT_SLA_HOURS)
    payouts["money"] = q.pending_payout_money_by_currency(conn) \
        if int(payouts.get("count") or 0) else {}
    webhooks = q.webhook_failure_summary(conn)
    incidents = {r["priority"]: r["count"] for r in q.open_incident_counts(state)}
    top = money_order(q.unresolved_incidents(state, INCIDENTS_RANKED))[:INCIDENTS_SHOWN]
    ledger_age = q.newest_result_age(state, list(LEDGER_CHECKS)).get("age_seconds")

    metrics = [
        ledger_metric(check_results, ledger_age),
        worker_metric(workers, p50),
        queue_metric(int(queue.get("waiting") or 0), bool(queue.get("paused")), settings),
        processing_metric(processing, settings),
    ]
    alerts = by_money_at_stake([
        stuck_alert(stuck, settings),
        imbalance_alert(check_results),
        payout_alert(payouts, settings),
        webhook_alert(webhooks, settings),
    ])
    return Overview(loaded_at=datetime.now(timezone.utc), metrics=metrics, alerts=alerts,
                    last_run=summarise_run(last_run), open_incidents=incidents,
                    top_incidents=top,
                    queue_paused=bool(queue.get("paused")),
                    **_replica_fields(replica))


INCIDENTS_RANKED = 200  # unresolved incidents read to rank (more are counted, not ranked)
INCIDENTS_SHOWN = 5
LIGHT_ORDER = {Light.RED: 0, Light.AMBER: 1, Light.GREY: 2, Light.GREEN: 3}


def by_money_at_stake(alerts: list[AlertSummary]) -> list[AlertSummary]:
    """Red before amber before unknown before green; within a colour, the largest amount at
    stake in any one currency first (amounts in different currencies are never added up)."""
    return sorted(alerts, key=lambda a: (LIGHT_ORDER[a.light], -largest_amount(a.money_at_stake)))


def _replica_fields(replica: Any) -> dict[str, Any]:
    if replica is None or replica.where is None or (replica.reading is None
                                                    and replica.refusal is None):
        return {}
    return {"platform_read": replica.where, "replica_lag_seconds": replica.lag_seconds,
            "replica_warning": replica.refusal}


# -- the four health metrics ---------------------------------------------------------------------
LEDGER_CHECKS = (LEDGER_BALANCE, TRANSACTION_BALANCE)
STALE_AFTER_SECONDS = 25 * 3600  # the daily reconciliation, and an hour of slack


def ledger_metric(results: dict[str, Any], age_seconds: Any = None) -> HealthMetric:
    metric = _ledger_metric(results)
    if age_seconds is None or metric.light is Light.GREY:
        return metric
    age = f" Last checked {_duration(age_seconds)} ago."
    if int(age_seconds) > STALE_AFTER_SECONDS and metric.light is not Light.RED:
        return HealthMetric(metric.name, "Stale", Light.GREY, "The newest stored ledger check is "
                            "older than a day: is the scheduler running?" + age, metric.page)
    return HealthMetric(metric.name, metric.value, metric.light, metric.detail + age, metric.page)


def _counted(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _ledger_metric(results: dict[str, Any]) -> HealthMetric:
    checks = [results[n] for n in LEDGER_CHECKS if n in results]
    if not checks:
        return HealthMetric("Ledger status", "Not checked yet", Light.GREY,
                            "No stored ledger check result: run `sge-recon check` or wait for the "
                            "scheduler's run.", "ledger")
    errored = [c.name for c in checks if c.status == "error"]
    failing = [c for c in checks if c.status == "fail"]
    if failing:
        # each check's own count, named as the Ledger page and the alert tile name it (a sum of
        # both would read "4 issues" beside "1 imbalance")
        what = {LEDGER_BALANCE: "program/currency imbalance", TRANSACTION_BALANCE:
                "unbalanced transaction"}
        parts = [_counted(int(c.failing_rows or 0), what.get(c.name, c.name)) for c in failing]
        return HealthMetric("Ledger status", parts[0], Light.RED,
                            "; ".join(parts) + ": debits and credits differ; open Ledger for the "
                            "offending transactions (P0).", "ledger")
    if errored:
        return HealthMetric("Ledger status", "Check errored", Light.GREY,
                            f"{', '.join(errored)} could not run; see Ledger for the error.",
                            "ledger")
    light = Light.from_check_status(max((c.status for c in checks), key=_severity))
    return HealthMetric("Ledger status", "Balanced" if light is Light.GREEN else "Warning",
                        light, "Every program and currency balances in the latest stored check.",
                        "ledger")


def worker_metric(workers: list[dict], p50: dict) -> HealthMetric:
    if not workers:
        return HealthMetric("Worker status", "down", Light.RED,
                            "No worker heartbeat in the last 24 h.", "queue")
    alive = sum(1 for w in workers if w["alive"])
    recent, baseline = _float(p50.get("recent_p50")), _float(p50.get("baseline_p50"))
    state = worker_state(alive, len(workers), recent, baseline)
    detail = f"{alive} of {len(workers)} workers alive"
    if recent is not None and baseline:
        detail += f"; job p50 {recent:.2f} s (baseline {baseline:.2f} s)"
    return HealthMetric("Worker status", state, WORKER_LIGHTS[state], detail + ".", "queue")


def queue_metric(waiting: int, paused: bool, settings: Settings) -> HealthMetric:
    detail = (f"Jobs waiting in the settlement queue (amber from {settings.QUEUE_DEPTH_WARN}, "
              f"red above {settings.QUEUE_DEPTH_FAIL}).")
    if paused:
        detail += " The queue is PAUSED."
    return HealthMetric("Queue depth", f"{waiting:,}", queue_light(waiting, settings), detail,
                        "queue")


def processing_metric(row: dict, settings: Settings) -> HealthMetric:
    mean = row.get("mean_seconds")
    mean = Decimal(mean) if mean is not None else None
    value = f"{mean:.2f} s" if mean is not None else "no data"
    return HealthMetric("Average processing time", value, processing_light(mean, settings),
                        f"Mean creation-to-completion of the last {row.get('sample_size') or 0} "
                        f"completed intents (amber from {settings.PROCESSING_TIME_WARN_SECONDS} s, "
                        f"red above {settings.PROCESSING_TIME_FAIL_SECONDS} s).", "trends")


# -- the alert types -----------------------------------------------------------------------------
def stuck_alert(row: dict, settings: Settings) -> AlertSummary:
    count, over = int(row.get("count") or 0), int(row.get("over_fail") or 0)
    light = Light.RED if over else Light.AMBER if count else Light.GREEN
    detail = (f"Oldest stuck for {_duration(row.get('oldest_seconds'))}; {over} past "
              f"{settings.INTENT_STUCK_FAIL_MINUTES} min." if count else
              f"No intent stuck longer than {settings.INTENT_TIMEOUT_MINUTES} min.")
    return AlertSummary(STUCK_INTENTS, "Stuck intents", count, dict(row.get("money") or {}),
                        detail, light, "intents")


def imbalance_alert(results: dict[str, Any]) -> AlertSummary:
    result = results.get(LEDGER_BALANCE)
    if result is None or result.status == "error":
        return AlertSummary("ledger_imbalances", "Ledger imbalances", 0, None,
                            "Unknown: no usable ledger_balance result stored.", Light.GREY, "ledger")
    count = int(result.failing_rows or 0)
    money: dict[str, Decimal] = {}
    for r in result.rows:
        currency = str(r.get("currency") or "?")
        money[currency] = money.get(currency, Decimal(0)) + abs(Decimal(str(r.get("difference")
                                                                            or 0)))
    return AlertSummary("ledger_imbalances", "Ledger imbalances", count, money,
                        "Program/currency pairs whose debits and credits differ." if count else
                        "Every program and currency balances.",
                        Light.RED if count else Light.GREEN, "ledger")


def payout_alert(row: dict, settings: Settings) -> AlertSummary:
    count, over = int(row.get("count") or 0), int(row.get("over_sla") or 0)
    detail = (f"{over} past the {settings.PAYOUT_SLA_HOURS} h SLA." if over else
              "All within the SLA." if count else "No batch waiting.")
    return AlertSummary("pending_payouts", "Pending payout batches", count,
                        dict(row.get("money") or {}), detail,
                        Light.AMBER if over else Light.GREEN, "payouts")


def webhook_alert(row: dict, settings: Settings) -> AlertSummary:
    retrying, exhausted = int(row.get("retrying") or 0), int(row.get("exhausted") or 0)
    light = Light.RED if exhausted else \
        Light.AMBER if retrying > settings.WEBHOOK_RETRY_WARN_COUNT else Light.GREEN
    return AlertSummary("webhook_failures", "Webhook failures", retrying + exhausted, None,
                        f"{retrying} waiting for a retry, {exhausted} gave up after 5 attempts.",
                        light, "webhooks")


# Which catalogue check each light stands for: a light whose check the connected platform cannot
# support (its profile declares the data absent) is grey with the profile's reason, never a
# zero shown green.
METRIC_CHECKS = {"Ledger status": LEDGER_BALANCE, "Worker status": WORKER_STATUS,
                 "Queue depth": QUEUE_DEPTH, "Average processing time": PROCESSING_TIME}
ALERT_CHECKS = {STUCK_INTENTS: (STUCK_INTENTS,), "ledger_imbalances": (LEDGER_BALANCE,),
                "pending_payouts": (PAYOUT_BATCH_SLA,),
                "webhook_failures": (WEBHOOK_EXHAUSTED, WEBHOOK_RETRIES)}


def mark_unavailable(overview: Overview, unavailable: dict[str, str]) -> Overview:
    """Grey out the lights and alert types whose data this platform does not have."""
    if not unavailable:
        return overview
    overview.metrics = [
        HealthMetric(m.name, "Not available", Light.GREY, unavailable[METRIC_CHECKS[m.name]],
                     m.page) if METRIC_CHECKS.get(m.name) in unavailable else m
        for m in overview.metrics]
    alerts = []
    for a in overview.alerts:
        reasons = [unavailable[c] for c in ALERT_CHECKS.get(a.kind, ()) if c in unavailable]
        alerts.append(AlertSummary(a.kind, a.label, 0, None, reasons[0], Light.GREY, a.page)
                      if reasons and len(reasons) == len(ALERT_CHECKS[a.kind]) else a)
    overview.alerts = by_money_at_stake(alerts)
    return overview


def apply_queue_snapshot(overview: Overview, snapshot: Any, error: str | None,
                         settings: Settings) -> Overview:
    """The Worker status and Queue depth lights measured from the platform's queue source
    (BullMQ on Redis) instead of PostgreSQL; grey with the sentence when it cannot be read."""
    if error is not None:
        replaced = {"Worker status": HealthMetric("Worker status", "Unknown", Light.GREY, error,
                                                  "queue"),
                    "Queue depth": HealthMetric("Queue depth", "Unknown", Light.GREY, error,
                                                "queue")}
    else:
        s = snapshot.settlement
        state = snapshot.worker_state
        workers = snapshot.settlement_workers
        detail = (f"{len(workers)} worker connection(s) registered on BullMQ queue "
                  f"{snapshot.settlement_queue}")
        if snapshot.stalled:
            detail += f"; {len(snapshot.stalled)} stalled job(s) (lock lost)"
        metric = queue_metric(s.depth, s.paused, settings)
        oldest = snapshot.oldest_waiting_seconds(datetime.now(timezone.utc))
        extra = (f" BullMQ queue {snapshot.settlement_queue}: {s.waiting} waiting + "
                 f"{s.prioritized} prioritized; {s.delayed} delayed, {s.active} active, "
                 f"{s.failed} failed apart.")
        if oldest is not None:
            extra += f" Oldest waiting for {_duration(oldest)}."
        replaced = {"Worker status": HealthMetric("Worker status", state, WORKER_LIGHTS[state],
                                                  detail + ".", "queue"),
                    "Queue depth": HealthMetric(metric.name, metric.value, metric.light,
                                                metric.detail + extra, "queue")}
        overview.queue_paused = s.paused
    overview.metrics = [replaced.get(m.name, m) for m in overview.metrics]
    return overview


def summarise_run(run: Any | None) -> LastRun | None:
    if run is None:
        return None
    counts: dict[str, int] = {}
    for check in run.checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    return LastRun(str(run.run_id), run.started_at, run.finished_at, run.status, run.engine, counts)


def _severity(status: str) -> int:
    return {"pass": 0, "warn": 1, "fail": 2, "error": 3}.get(status, 3)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)  # durations, not money


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"
