"""The Overview: "is everything green?" in one glance.

Four health metrics as traffic lights, the open alert types with counts and money at stake, the
last reconciliation run and the open incidents. Every light is a CHECK RESULT's status (the
catalogue's SQL and thresholds, checks/checks.yml): the ledger's from the latest stored results
(the per-minute and daily runs store them), the live signals (workers, queue, processing time,
stuck intents, webhooks) from the same checks computed now by the check code (not stored), so
the Overview, the alerts and /metrics never disagree. Nothing here applies a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ..alerts.evidence import UNSTATED, largest_amount, money_order
from ..money import MONEY, split_amounts
from ..config import Settings
from ..db import console as q
from .health import HealthMetric, Light
from ..check_names import (
    LEDGER_BALANCE, PAYOUT_BATCH_SLA, PROCESSING_TIME, QUEUE_DEPTH, QUEUE_PAUSED, STUCK_INTENTS,
    TRANSACTION_BALANCE, WEBHOOK_EXHAUSTED, WEBHOOK_RETRIES, WORKER_STATUS,
)

# the checks behind the live lights and tiles, computed on each refresh (cheap: the fast checks,
# and payout_batch_sla, which reads the open batches only)
LIVE_CHECKS = (WORKER_STATUS, QUEUE_DEPTH, QUEUE_PAUSED, PROCESSING_TIME, STUCK_INTENTS,
               WEBHOOK_RETRIES, WEBHOOK_EXHAUSTED, PAYOUT_BATCH_SLA)
WORKER_WORDS = {0: "healthy", 1: "degraded", 2: "down"}  # worker_status's value


@dataclass(frozen=True)
class AlertSummary:
    kind: str            # stuck_intents | ledger_imbalances | pending_payouts | webhook_failures
    label: str
    count: int
    money_at_stake: dict[str, Decimal] | None   # per currency, never summed across currencies
    detail: str
    light: Light
    page: str
    # per currency, the NaN / infinite amounts left out of money_at_stake, counted apart
    money_apart: dict[str, dict[str, int]] = field(default_factory=dict)


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
    # the primary (where) read instead of the refused standby (console.platform_source)
    read_on_primary: str | None = None

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
        if self.read_on_primary is not None:
            return (f"Platform data read on the primary {self.read_on_primary} (DATABASE_URL) "
                    f"instead of the replica {self.platform_read}.")
        from ..replica import lag_text

        lag = "lag unknown" if self.replica_lag_seconds is None else \
            f"{lag_text(self.replica_lag_seconds)} behind the primary"
        return f"Platform data read on the replica {self.platform_read} ({lag})."


def build_overview(conn, settings: Settings, check_results: dict[str, Any],
                   last_run: Any | None, *, state_conn=None,
                   live: dict[str, Any] | None = None) -> Overview:
    """Everything on the Overview: ``live`` (check name -> result computed now, for
    :data:`LIVE_CHECKS`; default the stored ``check_results``), the stored check results, the
    pending payouts from ``conn`` (the platform-read server), sge-recon's state from
    ``state_conn`` (default ``conn``). Where the platform was read (a standby, or the primary
    instead of a refused one) is added by the console (platform_source.read_on)."""
    state = state_conn or conn
    now = {**check_results, **(live or {})}
    payouts = q.pending_payout_summary(conn)
    payouts["money"] = q.pending_payout_money_by_currency(conn) \
        if int(payouts.get("count") or 0) else {}
    incidents = {r["priority"]: r["count"] for r in q.open_incident_counts(state)}
    top = money_order(q.unresolved_incidents(state, INCIDENTS_RANKED))[:INCIDENTS_SHOWN]
    ledger_age = q.newest_result_age(state, list(LEDGER_CHECKS)).get("age_seconds")
    paused = now.get(QUEUE_PAUSED)
    is_paused = bool(paused is not None and paused.status in ("warn", "fail"))

    metrics = [
        ledger_metric(check_results, ledger_age),
        worker_metric(now.get(WORKER_STATUS)),
        queue_metric(now.get(QUEUE_DEPTH), is_paused, settings),
        processing_metric(now.get(PROCESSING_TIME), settings),
    ]
    alerts = by_money_at_stake([
        stuck_alert(now.get(STUCK_INTENTS), settings),
        imbalance_alert(check_results),
        payout_alert(payouts, now.get(PAYOUT_BATCH_SLA), settings),
        webhook_alert(now.get(WEBHOOK_RETRIES), now.get(WEBHOOK_EXHAUSTED)),
    ])
    return Overview(loaded_at=datetime.now(timezone.utc), metrics=metrics, alerts=alerts,
                    last_run=summarise_run(last_run), open_incidents=incidents,
                    top_incidents=top, queue_paused=is_paused)


INCIDENTS_RANKED = 200  # unresolved incidents read to rank (more are counted, not ranked)
INCIDENTS_SHOWN = 5
LIGHT_ORDER = {Light.RED: 0, Light.AMBER: 1, Light.GREY: 2, Light.GREEN: 3}


def by_money_at_stake(alerts: list[AlertSummary]) -> list[AlertSummary]:
    """Red before amber before unknown before green; within a colour, the largest amount at
    stake in any one currency first (amounts in different currencies are never added up)."""
    return sorted(alerts, key=lambda a: (LIGHT_ORDER[a.light],
                                          MONEY.minus(UNSTATED if a.money_apart else
                                                      largest_amount(a.money_at_stake))))


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


def _unknown(name: str, result: Any, page: str) -> HealthMetric | None:
    """Grey with the reason when the check has no usable result (never a guess shown green)."""
    if result is None:
        return HealthMetric(name, "Unknown", Light.GREY, "No result of its check yet.", page)
    if result.status == "error":
        return HealthMetric(name, "Unknown", Light.GREY, result.error or "Its check errored.",
                            page)
    if result.status == "unavailable":
        return HealthMetric(name, "Not available", Light.GREY, result.reason or "", page)
    return None


def worker_metric(result: Any) -> HealthMetric:
    """worker_status: its value is the state (0 healthy, 1 degraded, 2 down), its status the
    light; the rows are the workers seen in the last 24 h."""
    unknown = _unknown("Worker status", result, "queue")
    if unknown is not None:
        return unknown
    state = WORKER_WORDS.get(int(result.value if result.value is not None else 2), "down")
    light = Light.from_check_status(result.status)
    details = result.details or {}
    if result.engine == "bullmq":
        detail = (f"{details.get('workers', len(result.rows))} worker connection(s) registered "
                  f"on BullMQ queue {details.get('settlement_queue')}")
        if details.get("stalled_jobs"):
            detail += f"; {len(details['stalled_jobs'])} stalled job(s) (lock lost)"
    elif not result.rows:
        detail = "No worker heartbeat in the last 24 h"
    else:
        alive = sum(1 for r in result.rows if r.get("status") != "down")
        detail = f"{alive} of {len(result.rows)} workers alive"
        if state == "degraded" and alive == len(result.rows):
            detail += "; jobs slower than twice their 7-day median"
    return HealthMetric("Worker status", state, light, detail + ".", "queue")


def queue_metric(result: Any, paused: bool, settings: Settings) -> HealthMetric:
    unknown = _unknown("Queue depth", result, "queue")
    if unknown is not None:
        return unknown
    waiting = int(result.value or 0)
    detail = (f"Jobs waiting in the settlement queue (amber from {settings.QUEUE_DEPTH_WARN}, "
              f"red above {settings.QUEUE_DEPTH_FAIL}).")
    if paused:
        detail += " The queue is PAUSED."
    d = result.details or {}
    if result.engine == "bullmq":
        detail += (f" BullMQ queue {d.get('settlement_queue')}: {d.get('waiting')} waiting + "
                   f"{d.get('prioritized')} prioritized; {d.get('delayed')} delayed, "
                   f"{d.get('active')} active, {d.get('failed')} failed apart.")
        if d.get("oldest_waiting_seconds") is not None:
            detail += f" Oldest waiting for {_duration(d['oldest_waiting_seconds'])}."
    return HealthMetric("Queue depth", f"{waiting:,}", Light.from_check_status(result.status),
                        detail, "queue")


def processing_metric(result: Any, settings: Settings) -> HealthMetric:
    unknown = _unknown("Average processing time", result, "trends")
    if unknown is not None:
        return unknown
    mean = result.value
    sample = int(result.rows[0].get("intents") or 0) if result.rows else 0
    value = f"{mean:.2f} s" if mean is not None else "no data"
    light = Light.from_check_status(result.status) if mean is not None else Light.GREY
    return HealthMetric("Average processing time", value, light,
                        f"Mean creation-to-completion of the last {sample} "
                        f"completed intents (amber from {settings.PROCESSING_TIME_WARN_SECONDS} s, "
                        f"red above {settings.PROCESSING_TIME_FAIL_SECONDS} s).", "trends")


# -- the alert types -----------------------------------------------------------------------------
def per_currency(result: Any, total: str, amount: str, currency: str = "currency"
                 ) -> tuple[dict[str, Decimal], dict[str, dict[str, int]]]:
    """The check's named total per currency (over all its failing rows); without it (GX, a fused
    query) the sum over its sample rows. The finite sums, and apart from them the NaN and
    infinite amounts counted per currency (one of them made the whole sum NaN)."""
    totals = result.totals(total)
    if totals is not None:
        return ({c: t.sum for c, t in totals.items() if t.count},
                {c: t.apart for c, t in totals.items() if t.count and t.apart})
    values: dict[str, list[Decimal]] = {}
    for r in result.rows:
        value = Decimal(str(r.get(amount) or 0))
        values.setdefault(str(r.get(currency) or "?"), []).append(
            MONEY.abs(value) if total == "off_by" else value)
    split = {c: split_amounts(v) for c, v in values.items()}
    return {c: s[0] for c, s in split.items()}, {c: s[1] for c, s in split.items() if s[1]}


def stuck_alert(result: Any, settings: Settings) -> AlertSummary:
    """stuck_intents: its failing rows (past INTENT_TIMEOUT_MINUTES) and their money per
    currency; red when the check fails (one past INTENT_STUCK_FAIL_MINUTES), amber on warn."""
    if result is None or result.status in ("error", "unavailable"):
        reason = "Unknown: no usable stuck_intents result." if result is None else \
            (result.error or result.reason or "")
        return AlertSummary(STUCK_INTENTS, "Stuck intents", 0, None, reason, Light.GREY,
                            "intents")
    count = int(result.failing_rows or 0)
    past = result.totals("past_fail")
    over = sum(t.count for t in past.values()) if past is not None else None
    detail = (f"Oldest stuck for {_duration(result.value)}"
              + (f"; {over} past {settings.INTENT_STUCK_FAIL_MINUTES} min." if over is not None
                 else ".") if count else
              f"No intent stuck longer than {settings.INTENT_TIMEOUT_MINUTES} min.")
    money, apart = per_currency(result, "stuck", "amount") if count else ({}, {})
    return AlertSummary(STUCK_INTENTS, "Stuck intents", count, money, detail,
                        Light.from_check_status(result.status), "intents", apart)


def imbalance_alert(results: dict[str, Any]) -> AlertSummary:
    result = results.get(LEDGER_BALANCE)
    if result is None or result.status == "error":
        return AlertSummary("ledger_imbalances", "Ledger imbalances", 0, None,
                            "Unknown: no usable ledger_balance result stored.", Light.GREY, "ledger")
    count = int(result.failing_rows or 0)
    money, apart = per_currency(result, "off_by", "difference") if count else ({}, {})
    return AlertSummary("ledger_imbalances", "Ledger imbalances", count, money,
                        "Program/currency pairs whose debits and credits differ." if count else
                        "Every program and currency balances.",
                        Light.from_check_status(result.status), "ledger", apart)


def payout_alert(row: dict, sla: Any, settings: Settings) -> AlertSummary:
    """The waiting batches (count and money, for display); the light and the number past the
    SLA are the check payout_batch_sla's status and failing rows (grey when it cannot run)."""
    count = int(row.get("count") or 0)
    money = dict(row.get("money") or {})
    if sla is None or sla.status in ("error", "unavailable"):
        why = "no result of payout_batch_sla" if sla is None else \
            (sla.error or sla.reason or "payout_batch_sla could not run")
        return AlertSummary("pending_payouts", "Pending payout batches", count, money,
                            f"SLA unknown: {why}.", Light.GREY, "payouts")
    over = int(sla.failing_rows or 0)
    detail = (f"{over} past the {settings.PAYOUT_SLA_HOURS} h SLA." if over else
              "All within the SLA." if count else "No batch waiting.")
    unstated = int(row.get("unstated") or 0)
    if unstated:  # left out of the money (it would make the whole sum NaN), said here
        detail += (f" {unstated} batch(es) whose total is not a number (NaN) or infinite, not "
                   "in the money at stake: platform_data_integrity names them.")
    return AlertSummary("pending_payouts", "Pending payout batches", count, money, detail,
                        Light.from_check_status(sla.status), "payouts")


def webhook_alert(retries: Any, exhausted: Any) -> AlertSummary:
    """webhook_retries and webhook_exhausted: red when exhausted fails, amber when retries warn."""
    usable = [r for r in (retries, exhausted) if r is not None
              and r.status not in ("error", "unavailable")]
    if not usable:
        return AlertSummary("webhook_failures", "Webhook failures", 0, None,
                            "Unknown: no usable webhook check result.", Light.GREY, "webhooks")
    n_retry = int(retries.failing_rows or 0) if retries in usable else 0
    n_gone = int(exhausted.failing_rows or 0) if exhausted in usable else 0
    worst = max((r.status for r in usable), key=_severity)
    return AlertSummary("webhook_failures", "Webhook failures", n_retry + n_gone, None,
                        f"{n_retry} waiting for a retry, {n_gone} gave up after 5 attempts.",
                        Light.from_check_status(worst), "webhooks")


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


def summarise_run(run: Any | None) -> LastRun | None:
    if run is None:
        return None
    counts: dict[str, int] = {}
    for check in run.checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    return LastRun(str(run.run_id), run.started_at, run.finished_at, run.status, run.engine, counts)


def _severity(status: str) -> int:
    return {"pass": 0, "warn": 1, "fail": 2, "error": 3}.get(status, 3)


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
