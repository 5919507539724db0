"""The operational facts behind both the alert rules and ``/metrics``, read from CHECK RESULTS.

The catalogue (checks/*.sql + thresholds in checks/checks.yml) is the one definition of every
health signal: a fact here is a check's status, count, value, the per-currency ``totals`` it
computed over all its failing rows, or a field of its bounded sample rows, never SQL of its own
and never a threshold of its own. The results are those the caller has just computed (the
per-minute job passes its fast run), and the checks it lacks are computed now by the same check
code (:meth:`~sge_recon.checks.CheckService.live`, not stored), so an alert, the metric a
dashboard shows and the check's stored status never disagree.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping

from ..config import Settings
from ..db import Database, job_runs, ledger_checkpoint
from ..db.job_runs import MAX_ATTEMPTS, RETRY_AFTER
from ..errors import ReconError
from ..money import money_abs, split_amounts
from ..check_names import (
    LEDGER_BALANCE, PROCESSING_TIME, QUEUE_DEPTH, QUEUE_PAUSED, STUCK_INTENTS,
    WEBHOOK_ENDPOINTS_FAILING, WEBHOOK_EXHAUSTED, WEBHOOK_RETRIES, WORKER_STATUS,
)

if TYPE_CHECKING:
    from ..checks.model import CheckResult

log = logging.getLogger(__name__)

WORKER_STATUSES = ("healthy", "degraded", "down")
# worker_status's value (checks/worker_status.sql overall_code) as the status word
WORKER_CODES = {0: "healthy", 1: "degraded", 2: "down"}
# the checks whose results the alert rules and /metrics read
SIGNAL_CHECKS = (LEDGER_BALANCE, WORKER_STATUS, QUEUE_PAUSED, QUEUE_DEPTH, STUCK_INTENTS,
                 WEBHOOK_EXHAUSTED, WEBHOOK_RETRIES, WEBHOOK_ENDPOINTS_FAILING, PROCESSING_TIME)
EXAMPLES = 5  # ids named in an alert
# the catalogue's named totals (checks.yml `totals:`) the facts read
LEDGER_OFF_BY = "off_by"        # ledger_balance: |difference| per currency
STUCK_PAST_FAIL = "past_fail"   # stuck_intents: past INTENT_STUCK_FAIL_MINUTES, per currency
STUCK_ALL = "stuck"             # stuck_intents: every stuck intent, per currency


@dataclass
class LedgerDifference:
    program_id: str
    currency: str
    total_debits: Decimal
    total_credits: Decimal
    difference: Decimal  # debits - credits


@dataclass
class Facts:
    now: datetime
    # ledger_balance's failing rows (the program/currency ledgers off by LEDGER_TOLERANCE or
    # more; its bounded sample, largest first), their true count and money per currency
    ledger: list[LedgerDifference]
    workers_recent: int
    workers_live: int
    last_heartbeat_at: datetime | None
    worker_status: str
    queue_depth: int
    queue_money: dict[str, Decimal]
    stuck_intents: int            # past INTENT_TIMEOUT_MINUTES (stuck_intents' failing rows)
    stuck_intents_failing: int    # past INTENT_STUCK_FAIL_MINUTES (its totals)
    stuck_money: dict[str, Decimal]  # of the failing ones, per currency (its totals)
    oldest_stuck_at: datetime | None
    webhook_exhausted: int
    webhook_retrying: int
    # no worker heartbeat row at all: last_heartbeat_at then holds when the checks first found
    # none (the start of worker_status's unbroken run of failures), not a heartbeat
    heartbeat_never_seen: bool = False
    failing_endpoints: list[dict] = field(default_factory=list)  # the check's sample rows
    endpoints_failing: int = 0    # webhook_endpoints_failing's failing rows (true count)
    processing_mean_seconds: Decimal | None = None
    processing_sample: int = 0
    # rows of the newest daily ledger_tamper result when it failed (history was modified)
    ledger_tamper: list[dict] = field(default_factory=list)
    # the first few ids behind the alerts: {"id", "program_id"} / {"id", "endpoint_id"}
    stuck_examples: list[dict] = field(default_factory=list)
    exhausted_examples: list[dict] = field(default_factory=list)
    # check name -> reason: signals without data this round: the connected platform has none
    # (its profile says so) or the check errored (e.g. Redis unreadable). They raise no alert
    # and export no series (an absent series is not a zero).
    unavailable: dict[str, str] = field(default_factory=dict)
    # the checks among those that errored: their open incidents stay as they are (an unknown
    # is not a recovery)
    errored: set[str] = field(default_factory=set)
    # each errored check: since when it has errored without a break (its stored results), so a
    # check that keeps erroring pages (rules.py check_error) and a one-minute blip does not
    erroring_since: dict[str, datetime] = field(default_factory=dict)
    # the scheduled jobs whose latest slot failed and is not being tried again
    # (jobs_given_up): their recon.job_runs rows
    jobs_given_up: list[dict] = field(default_factory=list)
    # where queue depth and workers were measured when not PostgreSQL (e.g. "BullMQ queue intents
    # on Redis at redis://host:6379/0"); None: the jobs and worker_heartbeats tables
    queue_source: str | None = None
    # platform reads on a standby (PLATFORM_READ_URL): where, how far behind the primary, and the
    # sentence when it is beyond REPLICA_MAX_LAG_SECONDS, paused or unreachable (then these facts
    # were computed on the primary instead: alerting never goes blind or stale with the replica)
    replica_where: str | None = None
    replica_lag_seconds: Decimal | None = None
    replica_paused: bool = False
    replica_problem: str | None = None
    # the settlement queue is paused (queue_paused): since when and by whom, when the platform
    # records it (BullMQ keeps neither)
    queue_paused: bool = False
    queue_paused_at: datetime | None = None
    queue_paused_by: str | None = None
    # the results the facts were read from (check name -> CheckResult): statuses for the rules
    results: dict[str, Any] = field(default_factory=dict)
    ledger_imbalances: int = 0
    ledger_money: dict[str, Decimal] = field(default_factory=dict)
    # per currency, the NaN / infinite amounts left out of ledger_money and stuck_money (one of
    # them would make the whole sum NaN and hide the rest): {currency: {word: count}}
    ledger_apart: dict[str, dict[str, int]] = field(default_factory=dict)
    stuck_apart: dict[str, dict[str, int]] = field(default_factory=dict)

    def has(self, check: str) -> bool:
        return check not in self.unavailable

    def status(self, check: str) -> str | None:
        """The catalogue's verdict on ``check`` this round (pass/warn/fail/error/unavailable)."""
        result = self.results.get(check)
        return None if result is None else result.status

    def failing(self, check: str) -> bool:
        return self.status(check) == "fail"

    @property
    def worker_down_seconds(self) -> Decimal | None:
        """How long the workers have been down, from the last heartbeat (also one older than
        24 h: checks/worker_status.sql still returns the last worker seen); when no worker has
        ever reported, from the first stored worker_status failure of the current run of them;
        None when up."""
        if self.worker_status != "down" or self.last_heartbeat_at is None:
            return None
        return Decimal(str((self.now - self.last_heartbeat_at).total_seconds()))


def gather_facts(db: Database, settings: Settings, now: datetime,
                 platform_db: Database | None = None,
                 results: Mapping[str, "CheckResult"] | None = None,
                 budget_seconds: float | None = None) -> Facts:
    """The facts from check results: ``results`` (e.g. the per-minute run's, just computed), and
    the signal checks it lacks computed now, not stored. ``db`` is DATABASE_URL (sge-recon's
    state); ``platform_db`` the server the platform is read on (a standby of PLATFORM_READ_URL;
    default ``db``). A standby that is too far behind, paused or down is reported in
    ``replica_problem``, and every signal is computed on ``db`` for this round instead (the
    results of a run refused there are not used)."""
    from ..replica import REFUSED_STALE, freshness

    read = platform_db or db
    fresh = freshness(read, db, settings)
    have: dict[str, CheckResult] = {}
    if fresh.refusal is not None:
        read = db
    elif results:
        # a result the run refused (its standby was stale then, fresh now: replay resumed, the
        # WAL receiver reconnected after a primary restart) is no verdict: computed now instead
        have = {n: r for n, r in results.items()
                if n in SIGNAL_CHECKS and not (r.details or {}).get(REFUSED_STALE)}
    missing = [n for n in SIGNAL_CHECKS if n not in have]
    if missing:
        budget = settings.FAST_RUN_BUDGET_SECONDS if budget_seconds is None else budget_seconds
        have.update(live_results(db, read, settings, missing, budget))
    facts = facts_from_results(have, now)
    facts.ledger_tamper = ledger_checkpoint.latest_tamper_findings(db)
    if fresh.reading is not None or fresh.refusal is not None:
        facts.replica_where = fresh.where
        facts.replica_lag_seconds = fresh.lag_seconds
        facts.replica_paused = bool(fresh.reading and fresh.reading.paused)
        facts.replica_problem = fresh.refusal
    worker = have.get(WORKER_STATUS)
    if worker is not None and facts.worker_status == "down" and \
            (worker.engine == "bullmq" or facts.last_heartbeat_at is None):
        # BullMQ keeps no heartbeat history, and a platform whose workers never sent a heartbeat
        # (a fresh deployment that never started them, a truncated table) has none to date the
        # outage from: "down since" is then the start of the unbroken run of stored
        # worker_status failures (the per-minute checks), so the alert waits out
        # WORKER_DOWN_ALERT_MINUTES as it does on heartbeats, and then pages.
        facts.heartbeat_never_seen = worker.engine != "bullmq"
        facts.last_heartbeat_at = _down_since(db, now)
    for name in sorted(facts.errored):
        facts.erroring_since[name] = _down_since(db, now, name, "error")
    facts.jobs_given_up = jobs_given_up(db, now)
    return facts


# the scheduler's jobs that retry a failed slot (sge_recon.scheduling.jobs.default_jobs, less
# the per-minute monitor, whose next try is the next minute)
RETRIED_JOBS = ("daily_reconciliation", "monthly_audit_export", "weekly_payout_reminder")
RETRY_SLACK = timedelta(minutes=5)  # a retry due RETRY_AFTER after a failure starts by then


def jobs_given_up(db: Database, now: datetime) -> list[dict]:
    """The retried jobs whose latest slot failed and is not being tried again: its attempts are
    used up, or no new attempt began RETRY_AFTER (and a little) after it ended (its grace is
    over, or no scheduler is left to run it). A night unreconciled, a month unexported or a
    Monday's reminder unsent is then final unless someone acts."""
    return [r for r in job_runs.latest_finished_runs(db, RETRIED_JOBS)
            if r["status"] == "failed" and (r["attempts"] >= MAX_ATTEMPTS or
                                            r["finished_at"] <= now - RETRY_AFTER - RETRY_SLACK)]


def live_results(db: Database, read: Database, settings: Settings, names: list[str],
                 budget_seconds: float | None = None) -> dict[str, "CheckResult"]:
    """``names`` computed now by the check code (not stored). A catalogue that cannot load (a
    broken edit of checks.yml) never silences the alerts: the shipped catalogue is used."""
    from ..checks import CheckService

    try:
        return CheckService(settings, db, read).live(names, budget_seconds).by_name()
    except ReconError as exc:
        shipped = dataclasses.replace(settings, CHECKS_DIR="")
        if not settings.CHECKS_DIR or shipped.checks_dir == settings.checks_dir:
            raise
        log.warning("signals: the catalogue in %s cannot be used (%s); using the shipped one",
                    settings.checks_dir, exc.message)
        return CheckService(shipped, db, read).live(names, budget_seconds).by_name()


def facts_from_results(results: Mapping[str, "CheckResult"], now: datetime) -> Facts:
    """Every fact from the check results (pure: no database)."""
    facts = Facts(now=now, ledger=[], workers_recent=0, workers_live=0, last_heartbeat_at=None,
                  worker_status="unavailable", queue_depth=0, queue_money={}, stuck_intents=0,
                  stuck_intents_failing=0, stuck_money={}, oldest_stuck_at=None,
                  webhook_exhausted=0, webhook_retrying=0, results=dict(results))
    for name in SIGNAL_CHECKS:
        r = results.get(name)
        if r is None:
            facts.unavailable[name] = f"{name} is not in the catalogue"
        elif r.status == "unavailable":
            facts.unavailable[name] = r.reason or "no data on this platform"
        elif r.status == "error":
            facts.unavailable[name] = r.error or f"{name} errored"
            facts.errored.add(name)
    if facts.has(LEDGER_BALANCE):
        _ledger(facts, results[LEDGER_BALANCE])
    if facts.has(WORKER_STATUS):
        _workers(facts, results[WORKER_STATUS])
    if facts.has(QUEUE_DEPTH):
        facts.queue_depth = int(results[QUEUE_DEPTH].value or 0)
    if facts.has(QUEUE_PAUSED):
        _paused(facts, results[QUEUE_PAUSED])
    if facts.has(STUCK_INTENTS):
        _stuck(facts, results[STUCK_INTENTS])
    if facts.has(WEBHOOK_EXHAUSTED):
        r = results[WEBHOOK_EXHAUSTED]
        facts.webhook_exhausted = int(r.failing_rows or 0)
        facts.exhausted_examples = [{"id": row["delivery_id"], "endpoint_id": row["endpoint_id"]}
                                    for row in r.rows[:EXAMPLES]]
    if facts.has(WEBHOOK_RETRIES):
        facts.webhook_retrying = int(results[WEBHOOK_RETRIES].failing_rows or 0)
    if facts.has(WEBHOOK_ENDPOINTS_FAILING):
        r = results[WEBHOOK_ENDPOINTS_FAILING]
        facts.failing_endpoints = list(r.rows)
        facts.endpoints_failing = int(r.failing_rows or 0)
    if facts.has(PROCESSING_TIME):
        r = results[PROCESSING_TIME]
        facts.processing_mean_seconds = r.value
        facts.processing_sample = int(r.rows[0].get("intents") or 0) if r.rows else 0
    return facts


def _ledger(facts: Facts, r: "CheckResult") -> None:
    facts.ledger = [LedgerDifference(row["program_id"], row["currency"], row["total_debits"],
                                     row["total_credits"], row["difference"]) for row in r.rows]
    facts.ledger_imbalances = int(r.failing_rows or 0)
    totals = r.totals(LEDGER_OFF_BY)
    if totals is not None:
        facts.ledger_money = {c: t.sum for c, t in totals.items()}
        facts.ledger_apart = {c: t.apart for c, t in totals.items() if t.apart}
    else:  # a result without totals (GX, fused): the sample's money
        for currency in dict.fromkeys(d.currency for d in facts.ledger):
            money, apart = split_amounts(money_abs(d.difference) for d in facts.ledger
                                         if d.currency == currency)
            facts.ledger_money[currency] = money
            if apart:
                facts.ledger_apart[currency] = apart


def _workers(facts: Facts, r: "CheckResult") -> None:
    facts.worker_status = WORKER_CODES.get(int(r.value if r.value is not None else 2), "down")
    # a retired row is the last worker ever seen, returned only when none was seen in 24 h
    # (checks/worker_status.sql): it dates the outage but is not a recent worker
    facts.workers_recent = sum(1 for row in r.rows if not row.get("retired"))
    facts.workers_live = sum(1 for row in r.rows if row.get("status") != "down")
    seen = [row["last_seen_at"] for row in r.rows if row.get("last_seen_at") is not None]
    facts.last_heartbeat_at = max(seen) if seen else None
    if r.engine == "bullmq":
        details = r.details or {}
        facts.queue_source = (f"BullMQ queue {details.get('settlement_queue')} on "
                              f"{details.get('source')}")


def _paused(facts: Facts, r: "CheckResult") -> None:
    facts.queue_paused = bool(r.failing_rows)
    if r.rows:
        facts.queue_paused_at = r.rows[0].get("paused_at")
        facts.queue_paused_by = r.rows[0].get("paused_by")


def _stuck(facts: Facts, r: "CheckResult") -> None:
    facts.stuck_intents = int(r.failing_rows or 0)
    totals = r.totals(STUCK_PAST_FAIL)
    if totals is None:  # no totals (GX): the check failed, so at least one is past the limit
        totals = {}
        facts.stuck_intents_failing = 1 if r.status == "fail" else 0
    else:
        facts.stuck_intents_failing = sum(t.count for t in totals.values())
    facts.stuck_money = {c: t.sum for c, t in totals.items() if t.count}
    facts.stuck_apart = {c: t.apart for c, t in totals.items() if t.count and t.apart}
    # the rows come oldest first (checks/stuck_intents.sql)
    facts.oldest_stuck_at = r.rows[0].get("status_changed_at") if r.rows else None
    # oldest first: the first stuck_intents_failing rows are those past the fail threshold
    facts.stuck_examples = [{"id": row["intent_id"], "program_id": row["program_id"]}
                            for row in r.rows[:min(EXAMPLES, facts.stuck_intents_failing)]]


def _down_since(db: Database, now: datetime, check: str = WORKER_STATUS,
                status: str = "fail") -> datetime:
    """The start of the unbroken run of stored ``status`` results of ``check`` (now: none)."""
    from ..db import checks as store

    since = now
    try:
        rows = store.result_history(db, check, 240)
    except Exception:  # noqa: BLE001 - no history readable: down from now
        return since
    for r in rows:  # newest first
        if r["status"] != status or r["started_at"] is None:
            break
        since = min(since, r["started_at"])
    return since
