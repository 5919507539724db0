"""The four scheduled jobs of DESIGN §7 (what each does; when is in :func:`default_jobs`).

* ``monitor`` — every minute: the fast SQL checks (stored), a metrics sample for the trends, the
  incident rules, and delivery of pending alerts (retries included).
* ``daily_reconciliation`` — 02:00 UTC: the full catalogue through Great Expectations, stored,
  then the incident rules.
* ``weekly_payout_reminder`` — Monday 09:00 UTC: payout batches waiting for approval or
  execution, their age and total, posted to the alert channels.
* ``monthly_audit_export`` — the 1st, 03:00 UTC: the previous month's audit export, and any
  earlier month that is missing (the scheduler was down on a 1st).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..db import job_runs, metric_samples
from ..db.job_runs import MAX_ATTEMPTS, RETRY_AFTER
from ..db import ledger as ledger_rows
from ..db import payouts as payout_rows
from ..errors import AlreadyRunning, DatabaseUnavailable, ReconError
from .cadence import Cadence
from .clock import as_utc
from .scheduler import JobContext, JobServices, JobSpec

if TYPE_CHECKING:
    from ..exports.period import Period

log = logging.getLogger(__name__)

CATCHUP_MONTHS = 12  # how far back the monthly export looks for a missing month
SAMPLE_RETENTION = timedelta(days=90)  # per-minute trend samples kept this long
MONITOR_LOCK_TIMEOUT_MS = 5000
MAX_LISTED_BATCHES = 25  # the reminder lists the oldest batches; the console has them all
EXPORT_WAIT_SECONDS = 600.0  # the catch-up waits this long for another export of the same month


class JobFailed(ReconError):
    """A job finished with errors; ``details`` records what it still achieved."""

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.details = details


# -- every minute ---------------------------------------------------------------------------------
def monitor(ctx: JobContext) -> dict[str, Any]:
    """Fast checks, a metrics sample, the incident rules and alert delivery.

    Each step runs even if an earlier one failed (a broken check must not silence the alerts);
    the run is recorded failed with every error when any step failed.
    """
    from ..metrics import gather_facts, trend_samples

    now, settings = ctx.now, ctx.services.settings
    # Every query of this job is bounded: a table lock or a slow query never holds the minute.
    services = ctx.services.bounded(settings.MONITOR_STATEMENT_TIMEOUT_SECONDS * 1000,
                                    MONITOR_LOCK_TIMEOUT_MS)
    details: dict[str, Any] = {}
    errors: list[str] = []
    run_id, results = None, None
    try:
        run = services.checks.run(fast_only=True, trigger="scheduler",
                                  budget_seconds=settings.FAST_RUN_BUDGET_SECONDS)
        run_id, results = run.run_id, run.by_name()
        details["checks"] = {"run_id": run.run_id, "status": run.status}
    except Exception as exc:  # noqa: BLE001 - alerting still runs on the live facts
        errors.append(f"fast checks: {_text(exc)}")
    try:
        # the rules and the trend samples read the results just computed (one definition per
        # signal); the signal checks the fast run lacks are computed now, not stored
        facts = gather_facts(services.db, settings, now, services.platform_db, results)
        for name in sorted(facts.errored):  # recorded: the rules could not judge this signal
            errors.append(f"{name}: {facts.unavailable[name]}")
    except Exception as exc:  # noqa: BLE001
        errors.append(f"incident rules: {_text(exc)}")
        facts = None
    if facts is not None:
        try:  # a step of its own: trends that cannot be written never hold the alerts back
            details["samples"] = metric_samples.insert_metric_samples(services.db, now,
                                                                      trend_samples(facts))
        except Exception as exc:  # noqa: BLE001 - e.g. the table locked by a REINDEX
            errors.append(f"metric samples: {_text(exc)}")
        try:
            evaluation = services.incidents.evaluate(now, facts, check_run_id=run_id)
            details["incidents"] = evaluation.summary()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"incident rules: {_text(exc)}")
    try:
        details["alerts"] = services.incidents.deliver_pending(now).summary()
    except Exception as exc:  # noqa: BLE001
        errors.append(f"alert delivery: {_text(exc)}")
    if errors:
        raise JobFailed("; ".join(errors), details)
    return details


# -- daily ----------------------------------------------------------------------------------------
def daily_reconciliation(ctx: JobContext) -> dict[str, Any]:
    """The full catalogue through DAILY_CHECK_ENGINE (GX by default; duckdb for a long ledger).
    If that engine itself cannot run, the same checks run through SQL so the night still has a
    stored reconciliation, and the job is recorded failed to say so."""
    services = ctx.services
    engine = services.settings.DAILY_CHECK_ENGINE
    engine_error = None
    try:
        run = services.checks.run(engine=engine, trigger="scheduler")
    except DatabaseUnavailable:
        raise  # nothing can run: recorded failed, retried within the grace (RETRY_AFTER)
    except (ReconError, ImportError) as exc:
        if engine == "sql":
            raise
        engine_error = _text(exc)
        run = services.checks.run(engine="sql", trigger="scheduler")
    details: dict[str, Any] = {
        "run_id": run.run_id, "engine": run.engine, "status": run.status,
        "checks": len(run.checks),
        "not_passing": {c.name: c.status for c in run.checks if c.status != "pass"}}
    # The full run can last many minutes while the per-minute monitor goes on opening and
    # refreshing incidents: what this run writes is dated when it is written (the scheduler's
    # clock now), never at the slot's start (an incident the monitor saw at 02:05 must not read
    # "last seen 02:00", nor a clear_since, resolution or message be dated before it opened).
    now = max(as_utc(ctx.clock.now()), ctx.now)
    evaluation = services.incidents.evaluate(now, check_run_id=run.run_id)
    details["incidents"] = evaluation.summary()
    details["alerts"] = services.incidents.deliver_pending(now).summary()
    details["pruned_samples"] = metric_samples.prune_metric_samples(services.db,
                                                                    now - SAMPLE_RETENTION)
    if engine_error:
        raise JobFailed(f"the {engine} engine failed ({engine_error}); the SQL engine ran instead "
                        f"(run {run.run_id})", details)
    return details


# -- weekly ---------------------------------------------------------------------------------------
def weekly_payout_reminder(ctx: JobContext) -> dict[str, Any]:
    from ..alerts.channels import Message
    from ..alerts.rules import money_text
    from ..money import split_amounts, stakes_text

    now, settings = ctx.now, ctx.services.settings
    # bounded like the monitor: a lock on payout_batches (a platform migration, a stuck session)
    # fails this run with its reason (tried again RETRY_AFTER later) instead of holding it, and
    # every later Monday's, 'busy' for as long as the lock lasts
    services = ctx.services.bounded(settings.MONITOR_STATEMENT_TIMEOUT_SECONDS * 1000,
                                    MONITOR_LOCK_TIMEOUT_MS)
    batches = payout_rows.reminder_payout_batches(services.db, now)
    details: dict[str, Any] = {"batches": len(batches)}
    if not batches:
        return details  # nothing waiting: no message (the channels are for things to do)
    # per currency, exact at any size; a NaN or infinite batch total is counted apart (summed,
    # it made the whole currency's total NaN and hid what the other batches wait to be paid)
    amounts: dict[str, list[Decimal]] = {}
    for b in batches:
        amounts.setdefault(b["currency"] or "", []).append(b["total_amount"])
    split = {c: split_amounts(v) for c, v in amounts.items()}
    totals = {c: s[0] for c, s in split.items()}
    apart = {c: s[1] for c, s in split.items() if s[1]}
    total_text = stakes_text(totals, apart)
    sla = services.settings.PAYOUT_SLA_HOURS
    overdue = [b for b in batches if b["age_hours"] > sla]
    fields = [("Batches waiting", str(len(batches))), ("Total", total_text),
              ("Pending approval", str(sum(b["status"] == "pending_approval" for b in batches))),
              ("Approved, not executed", str(sum(b["status"] == "approved" for b in batches))),
              (f"Older than {sla} h (SLA)", str(len(overdue)))]
    lines = [f"{b['batch_id']} ({b['program_id']}): {b['status']}, {b['affiliate_count']} "
             f"affiliates, {money_text(b['total_amount'], b['currency'] or '')}, "
             f"{b['age_hours']} h old" for b in batches[:MAX_LISTED_BATCHES]]
    if len(batches) > MAX_LISTED_BATCHES:
        lines.append(f"… and {len(batches) - MAX_LISTED_BATCHES} more (console: Payouts)")
    message = Message(f"Weekly payout reminder: {len(batches)} payout batches waiting "
                      f"({total_text})", fields,
                      ["Approvers: review and approve the pending batches (two approvers each).",
                       "Admins: execute the approved batches."],
                      f"{services.settings.CONSOLE_URL.rstrip('/')}/payouts", at=now,
                      lines=lines, lines_title="Oldest first")
    # once per (job, slot): a re-run of an interrupted slot queues nothing a channel already has
    notified = services.incidents.notify("payout_reminder", message, now,
                                         dedup_key=f"{ctx.job}:{ctx.scheduled_for.isoformat()}")
    details["channels"] = notified.channels
    if notified.already_queued:
        details["already_queued"] = notified.already_queued
    details["total"] = {c: str(v) for c, v in totals.items()}
    if apart:
        details["total_apart"] = apart
    details["alerts"] = services.incidents.deliver_pending(now).summary()
    return details


# -- monthly --------------------------------------------------------------------------------------
def monthly_audit_export(ctx: JobContext) -> dict[str, Any]:
    """Export last month, and catch up every missing month of the last CATCHUP_MONTHS.

    A month is missing when its folder has no manifest under the exports directory and no
    successful run of this job recorded it; months before the first ledger entry are skipped.
    A month exported before it was over (a preliminary ``--force`` export: its manifest says
    ``complete_month: false``) is missing too: it is exported again in full, and the
    preliminary version is kept beside it as ``<period>.replaced-<time>``.
    A month that another export is writing at that moment (an operator's ``sge-recon export``)
    is waited for (up to EXPORT_WAIT_SECONDS), then exported here only if still missing
    (``details.exported_elsewhere`` names the others): the run does not fail because of it.
    """
    services = ctx.services
    periods = missing_periods(services, ctx.now)
    out_dir = Path(services.exports.out_dir).resolve()
    exported, elsewhere, errors = [], [], []
    for period in periods:
        try:
            try:
                services.exports.export(period, trigger="scheduler",
                                        force=(out_dir / period).exists())
            except AlreadyRunning:
                # an operator's export of this month (or another host's, on a shared folder) is
                # running: wait for it, and export the month here only if it is missing still
                if not services.exports.wait_while_exporting(period, EXPORT_WAIT_SECONDS):
                    raise
                if period not in missing_periods(services, ctx.now):
                    elsewhere.append(period)
                    continue
                services.exports.export(period, trigger="scheduler",
                                        force=(out_dir / period).exists())
            exported.append(period)
        except ReconError as exc:
            errors.append(f"{period}: {exc.message}")
    details: dict[str, Any] = {"exported": exported,
                               "checked_back_to": earliest_period(services, ctx.now).label}
    if elsewhere:
        details["exported_elsewhere"] = elsewhere
    if errors:
        raise JobFailed("; ".join(errors), details)
    return details


def missing_periods(services: JobServices, now: datetime) -> list[str]:
    from ..exports.period import Period

    out_dir = Path(services.exports.out_dir).resolve()
    done = {p for d in job_runs.succeeded_details(services.db, "monthly_audit_export")
            for p in d.get("exported", [])}
    month, last = earliest_period(services, now), Period.of(now).previous()
    missing = []
    while month.start <= last.start:
        manifest = out_dir / month.label / "manifest.json"
        if (not manifest.is_file() and month.label not in done) or _preliminary(manifest):
            missing.append(month.label)
        month = month.next()
    return missing


def _preliminary(manifest: Path) -> bool:
    """True when the export in that folder was taken before its month was over."""
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("complete_month") is False
    except (OSError, ValueError, AttributeError):
        return False  # absent or unreadable: not ours to overwrite (export verify reports it)


def earliest_period(services: JobServices, now: datetime) -> Period:
    """The first month the catch-up considers: CATCHUP_MONTHS back, not before the ledger."""
    from ..exports.period import Period

    last = Period.of(now).previous()
    earliest = last
    for _ in range(CATCHUP_MONTHS - 1):
        earliest = earliest.previous()
    first_entry = ledger_rows.first_ledger_entry_at(services.db)
    if first_entry is None:
        return last  # an empty ledger: just last month
    return max(earliest, Period.of(first_entry), key=lambda p: p.start)


# -- the schedule ---------------------------------------------------------------------------------
def default_jobs() -> list[JobSpec]:
    # a failed daily/weekly/monthly slot is tried again RETRY_AFTER later, within its grace, up to
    # MAX_ATTEMPTS runs; the monitor's next try is the next minute
    return [
        JobSpec("monitor", Cadence.every_minute(), monitor, timedelta(seconds=90),
                "fast checks, metrics sample, incident rules, alert delivery"),
        JobSpec("daily_reconciliation", Cadence.daily("02:00"), daily_reconciliation,
                timedelta(hours=20), "full catalogue through Great Expectations, stored",
                RETRY_AFTER, MAX_ATTEMPTS),
        JobSpec("weekly_payout_reminder", Cadence.weekly("monday", "09:00"),
                weekly_payout_reminder, timedelta(hours=12),
                "payout batches waiting, their age and total, to the channels",
                RETRY_AFTER, MAX_ATTEMPTS),
        JobSpec("monthly_audit_export", Cadence.monthly(1, "03:00"), monthly_audit_export,
                timedelta(days=27), "last month's audit export, with catch-up",
                RETRY_AFTER, MAX_ATTEMPTS),
    ]


def _text(exc: BaseException) -> str:
    return exc.message if isinstance(exc, ReconError) else f"{type(exc).__name__}: {exc}"
