"""Service-level objectives: target, current value and error budget left over a window.

An SLO with a target of 99.9 % allows 0.1 % of events to be bad; the budget left is the share of
that allowance not yet used. A 100 % target has no allowance: one bad event exhausts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..db import trends
from .. import check_names


AVAILABILITY = "Availability"


@dataclass(frozen=True)
class Slo:
    name: str
    target: Decimal          # a fraction, e.g. 0.999
    good: int
    total: int
    measured_by: str
    # the state now, where the objective has one: for Availability, the Overview's "Worker
    # status" light itself (worker_status computed now), shown beside the window's share
    now: Any = None

    @property
    def current(self) -> Decimal | None:
        return None if self.total == 0 else Decimal(self.good) / Decimal(self.total)

    @property
    def bad(self) -> int:
        return self.total - self.good

    @property
    def budget_left(self) -> Decimal | None:
        """Fraction of the error budget left (may go below 0 when overspent)."""
        if self.total == 0:
            return None
        allowed = (1 - self.target) * self.total
        if allowed == 0:
            return Decimal(1) if self.bad == 0 else Decimal(0)
        return 1 - Decimal(self.bad) / allowed

    @property
    def met(self) -> bool | None:
        current = self.current
        return None if current is None else current >= self.target


def compute_slos(conn, days: int, payout_sla_hours: int, state_conn=None) -> list[Slo]:
    """``conn`` reads the platform, ``state_conn`` (default ``conn``) the stored results.

    These are historical measures over a window, so they stay here rather than in the catalogue:
    Availability and Ledger balanced count the STORED results of the checks worker_status and
    ledger_balance (a minute counts as down exactly when worker_status said ``fail``, the
    verdict the Overview, the alerts and the Incidents use; no second rule for "down"). The
    current state is never recomputed here: ConsoleService.slos attaches the live worker_status
    light (``Slo.now``). The latency and payout objectives measure completed work (intents
    settled, batches executed) in the window, facts no check defines."""
    state_conn = state_conn or conn
    availability = trends.check_status_counts(state_conn, check_names.WORKER_STATUS, days)
    latency = trends.intent_latency_slo(conn, days, 5)
    balanced = trends.check_status_counts(state_conn, check_names.LEDGER_BALANCE, days)
    payouts = trends.payout_slo(conn, days, payout_sla_hours)
    return [
        Slo(AVAILABILITY, Decimal("0.999"), int(availability.get("not_failed") or 0),
            int(availability.get("total") or 0),
            "share of the stored worker_status checks (every minute) that were not down"),
        Slo("Intents settled within 5 s", Decimal("0.95"), int(latency.get("good") or 0),
            int(latency.get("total") or 0),
            "completed intents whose creation-to-completion took 5 s or less"),
        Slo("Ledger balanced", Decimal("1"), int(balanced.get("not_failed") or 0),
            int(balanced.get("total") or 0),
            "stored ledger_balance checks that found every program and currency balanced"),
        Slo(f"Payouts executed within {payout_sla_hours} h of approval", Decimal("0.95"),
            int(payouts.get("good") or 0), int(payouts.get("total") or 0),
            "batches approved in the window: executed in time (late or still waiting = bad)"),
    ]
