"""The ops console's library side: the data behind every page, and the actions.

``Recon.console`` is a :class:`ConsoleService`. The Streamlit pages under ``app/`` call it and
only render what it returns; no SQL and no HTTP happens in page code. Each data call runs in one
read-only transaction, so a page shows one consistent picture, and raises
:class:`~sge_recon.errors.DatabaseUnavailable` when the database is down (the page shows a
banner and recovers on its own at the next refresh).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ..db import DriverError
from ..db import console as q
from ..errors import DatabaseUnavailable, UsageError
from .actions import (ActionOutcome, ActionService, CorrectionEntry, parse_correction,
                      parse_correction_entries)
from .health import HealthMetric, Light
from .overview import AlertSummary, Overview, build_overview, mark_unavailable
from .runbook import CHECKLISTS, INCIDENT_GUIDE, ITEMS, item_day, period_days
from .slo import Slo, compute_slos

if TYPE_CHECKING:
    from ..context import Recon

__all__ = ["ActionOutcome", "AlertSummary", "CHECKLISTS", "ConsoleService", "CorrectionEntry",
           "HealthMetric", "INCIDENT_GUIDE", "Light", "Overview", "Slo", "parse_correction",
           "parse_correction_entries"]

T = TypeVar("T")
QUEUE_DEPTH_METRIC = "sge_queue_depth_total"
INCIDENT_STATUSES = ("open", "acknowledged", "resolved")


@dataclass(frozen=True)
class ApiHealth:
    ok: bool
    message: str


class ConsoleService:
    def __init__(self, recon: "Recon", client_factory: Callable[[], Any] | None = None):
        self.recon = recon
        self.settings = recon.settings
        self._client_factory = client_factory or self._default_client

    # -- plumbing --------------------------------------------------------------------------------
    def read(self, load: Callable[[Any], T]) -> T:
        """Run ``load(conn)`` on sge-recon's own state (``recon``: incidents, ticks, the action
        log, stored results) in one read-only transaction on DATABASE_URL; driver errors become
        ReconErrors."""
        return self._read(self.recon.db, load)

    def read_platform(self, load: Callable[[Any], T]) -> T:
        """Run ``load(conn)`` on the platform's data, on the platform-read server (the standby of
        PLATFORM_READ_URL, or DATABASE_URL), in one read-only transaction."""
        return self._read(self.recon.platform_db, load)

    def read_both(self, load: Callable[[Any, Any], T]) -> T:
        """``load(platform_conn, recon_conn)`` for a page that shows both (one connection when
        the platform is read on DATABASE_URL)."""
        if self.recon.platform_db is self.recon.db:
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
        from ..admin_client import AdminClient

        # Approver keys are never taken from the settings here: an approver types theirs.
        return AdminClient(self.settings.SGE_ADMIN_API_URL, admin_key=self.settings.ADMIN_API_KEY,
                           timeout=15.0)

    @cached_property
    def actions(self) -> ActionService:
        return ActionService(self.recon.db, self._client_factory)

    def api_health(self) -> ApiHealth:
        client = self._client_factory()
        try:
            result = client.health()
        finally:
            client.close()
        if result.ok:
            return ApiHealth(True, f"The admin API at {self.settings.SGE_ADMIN_API_URL} is up.")
        reason = result.error or f"HTTP {result.status_code}"
        return ApiHealth(False, f"The admin API at {self.settings.SGE_ADMIN_API_URL} is not "
                                f"available ({reason}). Actions will fail until it is back; "
                                "start it with `sge-recon api` or check SGE_ADMIN_API_URL.")

    # -- Overview --------------------------------------------------------------------------------
    def overview(self) -> Overview:
        checks = self.recon.checks
        try:
            results = checks.latest_results()
            last_run = checks.latest()
        except DriverError as exc:
            raise DatabaseUnavailable(f"cannot read the stored check results "
                                      f"({_first_line(exc)})") from None
        fresh = self.recon.replica_freshness()
        overview = self.read_both(lambda pconn, rconn: build_overview(
            pconn, self.settings, results, last_run, state_conn=rconn, replica=fresh))
        return mark_unavailable(overview, self.unavailable_checks())

    def platform_lacks(self, *tables: str) -> str | None:
        """Why the connected platform has none of ``tables`` (its profile declares them absent),
        or None when it has at least one of them."""
        relations = self.recon.db.relations
        if any(relations.has(t) for t in tables):
            return None
        reason = relations.unavailable_reason(tables)
        return f"{reason} (profile {relations.profile})"

    def unavailable_checks(self) -> dict[str, str]:
        """Check name -> why this platform has no data for it (empty on the contract platform)."""
        relations = self.recon.db.relations
        if not relations.absent and not relations.limitations:
            return {}
        return self.recon.checks.unavailable()

    def run_fast_checks(self):
        """The per-minute fast SQL checks, now (never GX: it is too heavy for a button)."""
        return self.recon.checks.run(engine="sql", trigger="console", fast_only=True)

    # -- Ledger ----------------------------------------------------------------------------------
    def ledger_balances(self) -> list[dict]:
        return self.read_platform(q.ledger_balances)

    def ledger_check_results(self) -> dict[str, Any]:
        results = self.recon.checks.latest_results()
        return {n: results[n] for n in ("ledger_balance", "transaction_balance") if n in results}

    def unbalanced_transactions(self, program_id: str, currency: str, limit: int = 200):
        return self.read_platform(lambda c: q.unbalanced_transactions(c, program_id, currency, limit))

    def transaction_entries(self, transaction_id: str) -> list[dict]:
        return self.read_platform(lambda c: q.transaction_entries(c, transaction_id.strip()))

    def programs(self) -> list[dict]:
        return self.read_platform(q.programs)

    # -- Intents ---------------------------------------------------------------------------------
    def stuck_intents(self, limit: int = 500) -> list[dict]:
        return self.read_platform(lambda c: q.stuck_intents(c, self.settings.INTENT_TIMEOUT_MINUTES, limit))

    def intent_detail(self, intent_id: str) -> dict | None:
        intent_id = (intent_id or "").strip()
        if not intent_id:
            raise UsageError("type an intent id to search for")

        def load(conn, state):
            intent = q.intent(conn, intent_id)
            if intent is None:
                return None
            return {"intent": intent, "jobs": q.intent_jobs(conn, intent_id),
                    "settlement": q.intent_settlement(conn, intent_id),
                    "entries": q.intent_entries(conn, intent_id),
                    "actions": q.recent_actions(state, 20, intent_id)}
        return self.read_both(load)

    # -- Payouts ---------------------------------------------------------------------------------
    def open_payout_batches(self) -> list[dict]:
        sla = self.settings.PAYOUT_SLA_HOURS * 3600
        rows = self.read_platform(q.open_payout_batches)
        for row in rows:
            row["approvals"] = f"{len(row['approvers'])} of 2"
            row["sla_left_hours"] = round((sla - int(row["clock_seconds"])) / 3600, 1)
            row["sla_breached"] = int(row["clock_seconds"]) > sla
            row["approvers"] = ", ".join(row["approvers"])
        return rows

    def recent_payout_batches(self, limit: int = 50) -> list[dict]:
        return self.read_platform(lambda c: q.recent_payout_batches(c, limit))

    # -- Webhooks --------------------------------------------------------------------------------
    def failing_deliveries(self, limit: int = 500) -> list[dict]:
        return self.read_platform(lambda c: q.failing_deliveries(c, limit))

    def endpoint_health(self) -> list[dict]:
        threshold = self.settings.WEBHOOK_CONSECUTIVE_FAILURES
        rows = self.read_platform(q.endpoint_health)
        for row in rows:
            row["health"] = ("disabled" if not row["enabled"] else
                             "failing" if row["consecutive_failures"] > threshold else
                             "degraded" if row["consecutive_failures"] else "healthy")
        return rows

    # -- Queue & workers -------------------------------------------------------------------------
    def queue_state(self) -> dict:
        def load(conn):
            return {"depth": q.queue_depth_by_status(conn), "control": q.queue_control(conn),
                    "workers": q.workers(conn, self.settings.WORKER_DOWN_SECONDS)}
        return self.read_platform(load)

    # -- Trends ----------------------------------------------------------------------------------
    def processing_trend(self, days: int = 7) -> list[dict]:
        return self.read_platform(lambda c: q.processing_time_by_hour(c, days))

    def queue_heatmap(self, days: int = 28) -> tuple[list[dict], str]:
        """Mean depth per weekday × hour, and where it came from (samples or job history)."""
        rows = self.read(lambda c: q.queue_depth_samples_by_hour(c, QUEUE_DEPTH_METRIC, days))
        if rows:
            return rows, "the scheduler's per-minute queue-depth samples"
        return (self.read_platform(lambda c: q.queue_depth_reconstructed_by_hour(c, min(days, 7))),
                "job history (no queue-depth samples stored yet)")

    def payout_execution_times(self, days: int = 30) -> list[dict]:
        return self.read_platform(lambda c: q.payout_execution_times(c, days))

    def rpc_health(self, days: int = 7) -> list[dict]:
        return self.read_platform(lambda c: q.rpc_by_hour(c, days))

    def commission_spot_check(self, sample: int = 10) -> list[dict]:
        rows = self.read_platform(lambda c: q.commission_spot_check(c, sample))
        for row in rows:
            if row["commission_id"] is None:
                row["matches"] = None
                continue
            row["matches"] = (row["actual_rate"] == row["contract_rate"]
                              and row["actual_amount"] == row["expected_amount"])
        return rows

    # -- SLOs ------------------------------------------------------------------------------------
    def slos(self, days: int) -> list[Slo]:
        if days < 1:
            raise UsageError("the SLO window must be at least one day")
        return self.read_both(lambda c, state: compute_slos(c, days, self.settings.PAYOUT_SLA_HOURS,
                                                            state_conn=state))

    # -- Runbook ---------------------------------------------------------------------------------
    def runbook_ticks(self, operator: str, today: date) -> dict[str, datetime]:
        """Item id -> when this operator ticked it, for the periods that contain ``today``."""
        days = period_days(today)
        rows = self.read(lambda c: q.ticks(c, sorted(set(days.values())), operator))
        return {r["item"]: r["ticked_at"] for r in rows
                if r["item"] in ITEMS and r["day"] == item_day(r["item"], today)}

    def runbook_ticks_by_others(self, operator: str, today: date) -> dict[str, list[str]]:
        days = period_days(today)
        rows = self.read(lambda c: q.ticks_by_anyone(c, sorted(set(days.values()))))
        out: dict[str, list[str]] = {}
        for r in rows:
            if r["item"] in ITEMS and r["day"] == item_day(r["item"], today) \
                    and r["operator"] != operator:
                out.setdefault(r["item"], []).append(r["operator"])
        return out

    def set_runbook_tick(self, operator: str, item_id: str, ticked: bool, today: date) -> None:
        from .actions import require_operator

        operator = require_operator(operator)
        if item_id not in ITEMS:
            raise UsageError(f"unknown runbook item {item_id!r}")
        try:
            with self.recon.db.transaction() as conn:
                q.set_tick(conn, item_day(item_id, today), operator, item_id, ticked)
        except DriverError as exc:
            raise DatabaseUnavailable(f"the tick could not be saved ({_first_line(exc)})") from None

    # -- Incidents -------------------------------------------------------------------------------
    def incidents(self, statuses: list[str] | None = None, limit: int = 200) -> list[dict]:
        statuses = list(statuses or INCIDENT_STATUSES)
        unknown = set(statuses) - set(INCIDENT_STATUSES)
        if unknown:
            raise UsageError(f"unknown incident status {', '.join(sorted(unknown))}; use open, "
                             "acknowledged or resolved")
        return self.read(lambda c: q.incidents(c, statuses, limit))

    def incident_check_results(self, incident: dict) -> list[dict]:
        if not incident.get("check_run_id"):
            return []
        return self.read(lambda c: q.check_results_of_run(c, incident["check_run_id"]))

    # -- Action log ------------------------------------------------------------------------------
    def recent_actions(self, limit: int = 100) -> list[dict]:
        return self.read(lambda c: q.recent_actions(c, limit))

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
