"""The ops console's library side: the data behind every page, and the actions.

``Recon.console`` (built by the composition root, sge_recon.context) is a
:class:`ConsoleService`. The Streamlit pages under ``app/`` call it and only render what it
returns; no SQL and no HTTP happens in page code. Each data call runs in one
read-only transaction, so a page shows one consistent picture, and raises
:class:`~sge_recon.errors.DatabaseUnavailable` when the database is down (the page shows a
banner and recovers on its own at the next refresh).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ..db import DriverError, action_log, intents
from ..db import ledger as ledger_rows  # not `ledger`: the submodule console.ledger takes that name
from ..db import checks as check_store, console as q, incidents as incident_rows
from ..db import jobs as queue_jobs, runbook as runbook_ticks, webhooks as webhook_rows
from ..config_checks import hide_password
from ..errors import CheckDefinitionError, DatabaseUnavailable, UsageError
from .actions import (ActionOutcome, ActionService, CorrectionEntry, parse_correction,
                      parse_correction_entries)
from .health import HealthMetric, Light
from .ledger import LedgerFlags, ledger_flags, mark_balances, transaction_offsets
from .overview import AlertSummary, Overview, build_overview, mark_unavailable
from .runbook import CHECKLISTS, INCIDENT_GUIDE, ITEMS, item_day, period_days
from .slo import AVAILABILITY, Slo, compute_slos
from .trends import TrendsReader
from .payout_pages import PayoutPages
from .platform_source import PlatformChooser, read_on
from ..check_names import (LEDGER_BALANCE, STUCK_INTENTS, TRANSACTION_BALANCE,
                           WEBHOOK_ENDPOINTS_FAILING, WEBHOOK_EXHAUSTED,
                           WEBHOOK_RETRIES, WORKER_STATUS)
from . import verdicts
from .verdicts import SIGNAL_LIST_LIMIT

if TYPE_CHECKING:
    from ..alerts.service import AlertService
    from ..checks.service import CheckService
    from ..config import Settings
    from ..db import Database
    from ..db.databases import Databases
    from ..replica import Freshness

__all__ = ["ActionOutcome", "AlertSummary", "CHECKLISTS", "ConsoleService", "CorrectionEntry",
           "HealthMetric", "INCIDENT_GUIDE", "LedgerFlags", "Light", "Overview", "Slo",
           "mark_balances", "parse_correction", "parse_correction_entries", "transaction_offsets"]

T = TypeVar("T")
ENDPOINT_CHECKS = (WEBHOOK_ENDPOINTS_FAILING, WEBHOOK_EXHAUSTED, WEBHOOK_RETRIES)
# webhook_endpoints_failing read at a zero threshold: every enabled endpoint with a streak of
# failed attempts, measured by the check's own SQL (shown; the verdict is the real run's)
ANY_STREAK = {"webhook_consecutive_failures": 0, "webhook_disable_hours": 0}
INCIDENT_STATUSES = ("open", "acknowledged", "accepted", "resolved")
JOB_LIST_LIMIT = 100  # jobs listed per state on the Queue page (the counts are exact)


@dataclass(frozen=True)
class ApiHealth:
    ok: bool
    message: str


class ConsoleService(TrendsReader, PayoutPages):
    def __init__(self, settings: "Settings", databases: "Databases", checks: "CheckService",
                 alerts: "AlertService", freshness: "Callable[[], Freshness]",
                 client_factory: Callable[[], Any] | None = None, clock: Any = None):
        """``checks``: stored results, the fast run; ``alerts``: the silences; ``freshness``:
        sge_recon.replica's, of the platform reads; ``client_factory``: the admin API client;
        ``clock``: :meth:`now`'s (the composition root gives the database's, as the scheduler's)."""
        self.settings, self._clock = settings, clock
        self._databases = databases
        self.checks = checks
        self._alerts = alerts
        self._client_factory = client_factory or self._default_client
        # the standby while it can be trusted, else the primary (console.platform_source)
        self.platform = PlatformChooser(databases, checks, freshness)

    @property
    def db(self) -> "Database":  # DATABASE_URL: sge-recon's state
        return self._databases.db

    # -- plumbing --------------------------------------------------------------------------------
    def read(self, load: Callable[[Any], T]) -> T:
        """Run ``load(conn)`` on sge-recon's own state (``recon``: incidents, ticks, the action
        log, stored results) in one read-only transaction on DATABASE_URL; driver errors become
        ReconErrors."""
        return self._read(self.db, load)

    def read_platform(self, load: Callable[[Any], T]) -> T:
        """Run ``load(conn)`` on the platform's data, on the platform-read server (the standby of
        PLATFORM_READ_URL, or DATABASE_URL; the primary while the standby is refused: down,
        frozen, stale or not the platform's), in one read-only transaction."""
        return self.platform.read(self._read, load)

    def read_both(self, load: Callable[[Any, Any], T]) -> T:
        """``load(platform_conn, recon_conn)`` for a page that shows both (one connection when
        the platform is read on DATABASE_URL)."""
        if self.platform.current().db is self.db:
            return self.read(lambda conn: load(conn, conn))
        return self.read_platform(lambda pconn: self.read(lambda rconn: load(pconn, rconn)))

    @staticmethod
    def _read(db, load: Callable[[Any], T]) -> T:
        try:
            with db.transaction(read_only=True) as conn:
                return load(conn)
        except DriverError as exc:
            raise DatabaseUnavailable(f"the database query failed on {db.where} "
                                      f"({_first_line(exc)}); check that PostgreSQL is up and "
                                      "`sge-recon db init` has run") from None

    def _default_client(self):
        from ..sge_admin_client import admin_client_for

        # Approver keys are used only by approve_batch_as, for the signed-in approver's own key.
        return admin_client_for(self.settings, self.db.relations.admin_api, timeout=15.0)

    @property
    def admin_api(self) -> str:
        """The connected platform's admin API dialect: ``contract`` (DESIGN §6) or ``sge``."""
        return self.db.relations.admin_api

    def action_unsupported(self, action: str) -> str | None:
        """Why the connected platform cannot do ``action`` (an admin client method name, e.g.
        ``ledger_correction``), or None when it can. The console shows the reason instead of a
        button that would fail."""
        if self.admin_api == "sge":
            from ..sge_admin_client import UNSUPPORTED

            return UNSUPPORTED.get(action)
        return None

    @cached_property
    def corrections(self):
        """The Ledger page's correction desk (proposal, dry run, two-person rule)."""
        from .corrections import CorrectionDesk

        return CorrectionDesk(self.settings, self.read_platform, self.read, self.actions,
                              self.db)

    @cached_property
    def webhooks(self):
        """The Webhooks page's explorer (filters, attempt history)."""
        from .webhooks import WebhookExplorer

        return WebhookExplorer(self.read_platform)

    @cached_property
    def actions(self) -> ActionService:
        return ActionService(self.db, self._client_factory, self.queue_source,
                             dialect=self.admin_api)

    def api_health(self) -> ApiHealth:
        client = self._client_factory()
        try:
            result = client.health()
        finally:
            client.close()
        where = hide_password(self.settings.SGE_ADMIN_API_URL)
        if result.ok:
            return ApiHealth(True, f"The admin API at {where} is up.")
        reason = result.error or f"HTTP {result.status_code}"
        return ApiHealth(False, f"The admin API at {where} is not "
                                f"available ({reason}). Actions will fail until it is back; "
                                "start it with `sge-recon api` or check SGE_ADMIN_API_URL.")

    # -- Overview --------------------------------------------------------------------------------
    def overview(self) -> Overview:
        checks = self.checks
        try:
            results = checks.latest_results()
            last_run = checks.latest()
        except DriverError as exc:
            raise DatabaseUnavailable(f"cannot read the stored check results "
                                      f"({_first_line(exc)})") from None
        source = self.platform.current(recheck_standby=True)
        live = self.live_results()
        overview = self.read_both(lambda pconn, rconn: build_overview(
            pconn, self.settings, results, last_run, state_conn=rconn, live=live))
        return mark_unavailable(replace(overview, **read_on(source)), self.unavailable_checks())

    def platform_notice(self) -> str | None:
        """The banner of every platform page while the standby of PLATFORM_READ_URL is refused
        and the primary is read instead (None otherwise)."""
        return self.platform.current(recheck_standby=True).notice

    def live_results(self) -> dict:
        """overview.LIVE_CHECKS computed now by the check code, not stored (a stale standby
        makes them error: grey, never a stale green; queue checks on BullMQ when declared)."""
        from .overview import LIVE_CHECKS

        return self._live(LIVE_CHECKS)

    def _live(self, names, sample_rows: int | None = None, params: dict | None = None) -> dict:
        """Check name -> result of ``names`` computed now by the check code (not stored)."""
        try:
            return self.platform.current().checks.live(
                list(names), self.settings.FAST_RUN_BUDGET_SECONDS, sample_rows=sample_rows,
                params=params).by_name()
        except CheckDefinitionError:  # a broken catalogue: no verdict (grey / unknown)
            return {}
        except DriverError as exc:
            raise DatabaseUnavailable(f"cannot compute the live checks "
                                      f"({_first_line(exc)})") from None

    def queue_source(self):
        """The platform's queue source (BullMQ on Redis), or None (sge_recon.queues)."""
        return self.checks.queue_source()

    def platform_lacks(self, *tables: str) -> str | None:
        """Why the connected platform has none of ``tables`` (its profile declares them absent),
        or None when it has at least one of them."""
        relations = self.db.relations
        if any(relations.has(t) for t in tables):
            return None
        reason = relations.unavailable_reason(tables)
        return f"{reason} (profile {relations.profile})"

    def unavailable_checks(self) -> dict[str, str]:
        """Check name -> why this platform has no data for it (empty on the contract platform)."""
        relations = self.db.relations
        if not relations.absent and not relations.limitations:
            return {}
        return self.checks.unavailable()

    def run_fast_checks(self):
        """The per-minute fast SQL checks, now (never GX: it is too heavy for a button)."""
        return self.checks.run(engine="sql", trigger="console", fast_only=True)

    # -- Ledger ----------------------------------------------------------------------------------
    def ledger_balances(self) -> list[dict]:  # sums to show; the verdict is ledger_flags'
        """Per program and currency: the checkpoint's totals plus the entries since (the sums
        the per-minute ledger_balance judges; milliseconds instead of a scan of the ledger)."""
        relations = self._databases.platform_db.relations
        return self.read_platform(lambda c: ledger_rows.ledger_balances(c, relations))

    def ledger_flags(self) -> LedgerFlags:
        """ledger_balance computed now (per-minute form, not stored): its failing rows."""
        try:
            result = self.platform.current().checks.live(
                [LEDGER_BALANCE], self.settings.FAST_RUN_BUDGET_SECONDS).by_name().get(LEDGER_BALANCE)
        except DriverError as exc:
            raise DatabaseUnavailable(f"cannot run {LEDGER_BALANCE} ({_first_line(exc)})") \
                from None
        return ledger_flags(result)

    def ledger_check_results(self) -> dict[str, Any]:
        results = self.checks.latest_results()
        return {n: results[n] for n in (LEDGER_BALANCE, TRANSACTION_BALANCE) if n in results}

    def unbalanced_transactions(self, program_id: str, currency: str, limit: int = 200):
        relations = self._databases.platform_db.relations
        return self.read_platform(lambda c: ledger_rows.unbalanced_transactions(
            c, program_id, currency, limit, relations))

    def transaction_entries(self, transaction_id: str) -> list[dict]:
        return self.read_platform(lambda c: ledger_rows.transaction_entries(c, transaction_id.strip()))

    def programs(self) -> list[dict]:
        return self.read_platform(ledger_rows.programs)

    # -- Intents ---------------------------------------------------------------------------------
    def stuck_intents(self, limit: int = SIGNAL_LIST_LIMIT) -> list[dict]:
        """The rows of :meth:`stuck_list` (the oldest ``limit`` stuck intents)."""
        return self.stuck_list(limit).rows

    def stuck_list(self, limit: int = SIGNAL_LIST_LIMIT) -> "verdicts.StuckList":
        """The stuck intents: the check stuck_intents' failing rows computed now (its exact
        count, how many are past its fail threshold, the money per currency), each row with
        ``retry`` "scheduled" (and ``retried_by``/``retried_at``) while a retry from the console
        waits to be processed (the intent stays stuck, and listed, until it really completes),
        else empty."""
        found = verdicts.stuck_list(self._live([STUCK_INTENTS], sample_rows=limit)
                                    .get(STUCK_INTENTS))
        rows = found.rows
        retried = self.read(lambda c: action_log.last_ok_actions_on(
            c, "retry_intent", [r["intent_id"] for r in rows])) if rows else {}
        for r in rows:
            action = retried.get(r["intent_id"])
            if action and action["at"] < r["status_changed_at"]:
                action = None  # retried before its latest status change: that retry is over
            r["retry"] = "scheduled" if action else ""
            r["retried_by"] = action["operator"] if action else None
            r["retried_at"] = action["at"] if action else None
        return found

    def intent_detail(self, intent_id: str) -> dict | None:
        intent_id = (intent_id or "").strip()
        if not intent_id:
            raise UsageError("type an intent id to search for")

        def load(conn, state):
            intent = intents.intent(conn, intent_id)
            if intent is None:
                return None
            return {"intent": intent, "jobs": intents.intent_jobs(conn, intent_id),
                    "settlement": intents.intent_settlement(conn, intent_id),
                    "entries": intents.intent_entries(conn, intent_id),
                    "actions": action_log.recent_actions(state, 20, intent_id)}
        return self.read_both(load)

    # -- Webhooks --------------------------------------------------------------------------------
    def failing_deliveries(self, limit: int = 500) -> list[dict]:
        return self.read_platform(lambda c: webhook_rows.failing_deliveries(c, limit))

    def delivery(self, delivery_id: str) -> dict | None:
        delivery_id = (delivery_id or "").strip()
        return self.read(lambda c: webhook_rows.delivery(c, delivery_id)) if delivery_id else None

    def endpoint_health(self) -> list[dict]:
        """Every endpoint with its health: the checks' verdict (console.verdicts)."""
        # three independent reads, each on its own connection: side by side, the page waits for
        # the slowest (webhook_endpoints_failing, run at two thresholds) instead of their sum
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="endpoint-health") as pool:
            checks = pool.submit(self._live, ENDPOINT_CHECKS, sample_rows=SIGNAL_LIST_LIMIT)
            any_streak = pool.submit(self._live, [WEBHOOK_ENDPOINTS_FAILING],
                                     sample_rows=SIGNAL_LIST_LIMIT, params=ANY_STREAK)
            endpoints = pool.submit(self.read_platform, webhook_rows.endpoints)
            results, streaks = checks.result(), any_streak.result().get(WEBHOOK_ENDPOINTS_FAILING)
            return verdicts.endpoint_health(
                endpoints.result(), results.get(WEBHOOK_ENDPOINTS_FAILING), streaks,
                results.get(WEBHOOK_EXHAUSTED), results.get(WEBHOOK_RETRIES))

    # -- Queue & workers -------------------------------------------------------------------------
    def queue_state(self) -> dict:
        def load(conn):
            return {"depth": queue_jobs.queue_depth_by_status(conn), "control": queue_jobs.queue_control(conn),
                    "workers": q.worker_heartbeats(conn)}
        state = self.read_platform(load)
        # alive or silent: worker_status's row for each worker (the Overview's light's rows)
        state["workers"] = verdicts.worker_states(
            state["workers"], self._live([WORKER_STATUS], sample_rows=SIGNAL_LIST_LIMIT)
            .get(WORKER_STATUS))
        # the platform records the key ("admin"); the console's action log knows the person
        state["last_toggle"] = self.read(lambda conn: action_log.last_ok_action(
            conn, ["pause_queue", "resume_queue"], "settlement"))
        return state

    def queue_jobs(self, limit: int = JOB_LIST_LIMIT) -> dict:
        """The settlement queue's jobs per state (failed, waiting, delayed, active; each list
        bounded by ``limit``, counts from ``queue_state``) and the retired workers (silent for
        more than 24 h: aged out of the list, never counted as down)."""
        from ..db import jobs

        def load(conn):
            lists = {state: jobs.jobs_in_state(conn, state, limit)
                     for state in jobs.JOB_LIST_ORDER}
            # what a retry can act on: a failed job whose intent has not completed since
            retryable = [j for j in lists["failed"]
                         if j["intent_id"] and j["intent_status"] != "completed"]
            return {"lists": lists, "retryable": retryable,
                    "retired": jobs.retired_workers(conn), "limit": limit}
        return self.read_platform(load)

    def bullmq_queues(self, list_limit: int = 50) -> dict | None:
        """The Queue page on a platform whose queues are BullMQ on Redis (None elsewhere):
        counts per queue and state, the settlement queue's oldest waiting job, the workers,
        and per queue the failed and delayed jobs (with errors and attempts) and the stalled
        ones. Raises QueueUnavailable (a ReconError) with a sentence when Redis cannot be read."""
        source = self.queue_source()
        if source is None:
            return None
        snapshot = source.depth()
        jobs = source.job_lists(("failed", "delayed"), list_limit, counts=snapshot.counts)
        return {"snapshot": snapshot, "jobs": jobs,
                "oldest_waiting_seconds": snapshot.oldest_waiting_seconds(self.now())}

    def queue_kind(self) -> str | None:
        """``bullmq`` when the profile declares BullMQ queues, else None (the jobs table)."""
        decl = self.db.relations.queues
        return decl.kind if decl is not None else None

    def queue_missing_reason(self) -> str | None:
        from ..queues import missing_source_reason

        return missing_source_reason(self.settings, self.db.relations)

    # -- SLOs ------------------------------------------------------------------------------------
    def slos(self, days: int) -> list[Slo]:
        if days < 1:
            raise UsageError("the SLO window must be at least one day")
        from .overview import worker_metric

        slos = self.read_both(lambda c, state: compute_slos(
            c, days, self.settings.PAYOUT_SLA_HOURS, state_conn=state))
        # Availability's state now: the Overview's Worker status light (worker_status now)
        now = worker_metric(self._live([WORKER_STATUS]).get(WORKER_STATUS))
        return [replace(s, now=now) if s.name == AVAILABILITY else s for s in slos]

    # -- Runbook ---------------------------------------------------------------------------------
    def runbook_ticks(self, operator: str, today: date) -> dict[str, datetime]:
        """Item id -> when this operator ticked it, for the periods that contain ``today``."""
        days = period_days(today)
        rows = self.read(lambda c: runbook_ticks.ticks(c, sorted(set(days.values())), operator))
        return {r["item"]: r["ticked_at"] for r in rows
                if r["item"] in ITEMS and r["day"] == item_day(r["item"], today)}

    def runbook_ticks_by_others(self, operator: str, today: date) -> dict[str, list[str]]:
        days = period_days(today)
        rows = self.read(lambda c: runbook_ticks.ticks_by_anyone(c, sorted(set(days.values()))))
        out: dict[str, list[str]] = {}
        for r in rows:
            if r["item"] in ITEMS and r["day"] == item_day(r["item"], today) \
                    and r["operator"] != operator:
                out.setdefault(r["item"], []).append(r["operator"])
        return out

    def set_runbook_tick(self, operator: str, item_id: str, ticked: bool, today: date) -> None:
        """Checked when written; the (un)tick or its refusal is recorded in recon.action_log."""
        from .action_record import change_and_record
        from .outcome import require_operator

        operator = require_operator(operator)
        if item_id not in ITEMS:
            raise UsageError(f"unknown runbook item {item_id!r}")
        day = item_day(item_id, today)
        action, target = "runbook_tick" if ticked else "runbook_untick", f"runbook:{item_id}:{day}"
        denied = self.actions.refused(operator, "act", action, target, None)
        if denied:
            raise UsageError(denied.message.replace("nothing was done.", "the tick was not saved."))

        def tick(conn) -> str:
            runbook_ticks.set_tick(conn, day, operator, item_id, ticked)
            return "Saved."
        done = change_and_record(self.db, operator, action, target, None, tick)
        if not done.ok:
            raise DatabaseUnavailable(f"the tick could not be saved ({done.message})")

    # -- Incidents -------------------------------------------------------------------------------
    def incidents(self, statuses: list[str] | None = None, limit: int = 200) -> list[dict]:
        statuses = list(statuses or INCIDENT_STATUSES)
        unknown = set(statuses) - set(INCIDENT_STATUSES)
        if unknown:
            raise UsageError(f"unknown incident status {', '.join(sorted(unknown))}; use open, "
                             "acknowledged, accepted or resolved")
        return self.read(lambda c: incident_rows.incidents(c, statuses, limit))

    def incident(self, incident_id: Any) -> dict | None:
        try:
            number = int(str(incident_id).strip().lstrip("#"))
        except ValueError:
            raise UsageError(f"incident id {incident_id!r} is not a number") from None
        return self.read(lambda c: incident_rows.incident_by_id(c, number))

    def silences(self) -> list[dict]:
        """Silences: active and upcoming first, then expired ones (who, why, until when)."""
        return self._alerts.silences(self.now())

    @staticmethod
    def resolved_by_evidence(incident: dict) -> str | None:
        """Why an incident cannot be resolved by hand (its rule resolves it), or None."""
        from ..alerts.rules import RULES

        if incident["kind"] in RULES:
            return ("it resolves by evidence: when its check passes (acknowledge it, or accept "
                    "it with a note)")
        return None

    @staticmethod
    def describe_silence(silence: dict) -> str:
        from ..alerts.silences import describe

        return describe(silence)

    @staticmethod
    def by_money_at_stake(incidents: list[dict]) -> list[dict]:
        """Money-weighted order: unresolved, priority, the largest amount at stake."""
        from ..alerts.evidence import money_order

        return money_order(incidents)

    @staticmethod
    def incident_evidence(incident: dict):
        """The incident's evidence: frozen at open, now, its changes, the runs (issue 19)."""
        from ..alerts.evidence import evidence_view

        return evidence_view(incident)

    def incident_check_results(self, incident: dict) -> list[dict]:
        if not incident.get("check_run_id"):
            return []
        return self.read(lambda c: check_store.check_results_of_run(c, incident["check_run_id"]))

    # -- Action log ------------------------------------------------------------------------------
    def recent_actions(self, limit: int = 100) -> list[dict]:
        return self.read(lambda c: action_log.recent_actions(c, limit))

    def now(self) -> datetime:
        """The scheduler's (database's) clock: silences, notes, the runbook's day (not the host's)."""
        return self._clock.now() if self._clock else datetime.now(timezone.utc)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
