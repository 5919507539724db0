"""The runbook: the morning checklist, the weekly deep dive, the monthly audit, and the P0–P3
incident guide. Each item links to the console page that answers it.

A tick belongs to an operator and to the period it covers: a morning item to the day, a weekly
item to the Monday of its week, a monthly item to the first of its month, so that a weekly item
ticked on Tuesday stays ticked until the next Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class RunbookItem:
    id: str
    text: str
    page: str        # the console page that answers it (a key of app/main.py's PAGES)


@dataclass(frozen=True)
class Checklist:
    kind: str        # daily | weekly | monthly
    title: str
    items: tuple[RunbookItem, ...]

    def period_start(self, today: date) -> date:
        if self.kind == "weekly":
            return today - timedelta(days=today.weekday())
        if self.kind == "monthly":
            return today.replace(day=1)
        return today


CHECKLISTS: tuple[Checklist, ...] = (
    Checklist("daily", "Morning checklist", (
        RunbookItem("daily.health", "The four health metrics are green (ledger, workers, queue "
                    "depth, processing time)", "overview"),
        RunbookItem("daily.ledger", "No ledger imbalance; any imbalance is a P0 incident with a "
                    "correction or an explanation", "ledger"),
        RunbookItem("daily.stuck", "No intent stuck longer than 15 minutes; stuck ones retried "
                    "or explained", "intents"),
        RunbookItem("daily.payouts", "Payout batches approved by two people and executed within "
                    "24 h", "payouts"),
        RunbookItem("daily.webhooks", "No exhausted webhook deliveries; failing endpoints "
                    "contacted", "webhooks"),
        RunbookItem("daily.workers", "Every worker has a fresh heartbeat; queue not paused by "
                    "mistake", "queue"),
        RunbookItem("daily.incidents", "Every open incident is acknowledged and has an owner",
                    "incidents"),
    )),
    Checklist("weekly", "Weekly deep dive", (
        RunbookItem("weekly.processing", "Processing-time trend: no creeping slowdown", "trends"),
        RunbookItem("weekly.queue", "Queue depth by hour and weekday: capacity fits the peaks",
                    "trends"),
        RunbookItem("weekly.payout_times", "Payout approval-to-execution times inside the 24 h "
                    "SLA", "trends"),
        RunbookItem("weekly.rpc", "RPC provider latency and uptime acceptable", "trends"),
        RunbookItem("weekly.commissions", "Commission spot-check: 10 random settlements match "
                    "the contract rates", "trends"),
        RunbookItem("weekly.slos", "SLOs met; error budgets not exhausted", "slos"),
    )),
    Checklist("monthly", "Monthly audit", (
        RunbookItem("monthly.export", "Audit export of the previous month exists", "exports"),
        RunbookItem("monthly.verify", "The export verifies (hashes and control totals)",
                    "exports"),
        RunbookItem("monthly.trial_balance", "Trial balance per program reviewed: every program "
                    "and currency balances", "ledger"),
        RunbookItem("monthly.incidents", "Last month's incidents resolved with notes",
                    "incidents"),
        RunbookItem("monthly.actions", "Console action log reviewed (corrections, approvals, "
                    "retries)", "exports"),
    )),
)

ITEMS = {item.id: (checklist, item) for checklist in CHECKLISTS for item in checklist.items}


@dataclass(frozen=True)
class IncidentLevel:
    priority: str
    what: str
    respond: str
    first_steps: str


INCIDENT_GUIDE: tuple[IncidentLevel, ...] = (
    IncidentLevel("P0", "Ledger imbalance (debits ≠ credits)", "Immediately, any hour",
                  "Pause payouts; find the offending transactions on Ledger; post a correcting "
                  "entry only with a second person's review; record the reason."),
    IncidentLevel("P1", "Workers down (no heartbeat > 5 min)", "Within 15 minutes",
                  "Check Queue & workers; restart the worker service; watch the queue drain; "
                  "retry intents that got stuck meanwhile."),
    IncidentLevel("P2", "Queue depth above 500", "Within 1 hour",
                  "Check worker health and processing time; add workers or pause intake; look "
                  "for one failing job type."),
    IncidentLevel("P3", "Webhook failures (endpoint failing, deliveries exhausted)",
                  "Next business day", "Contact the program's integrator; retry the deliveries "
                  "once their endpoint is back."),
)


def period_days(today: date) -> dict[str, date]:
    return {c.kind: c.period_start(today) for c in CHECKLISTS}


def item_day(item_id: str, today: date) -> date:
    checklist, _ = ITEMS[item_id]
    return checklist.period_start(today)
