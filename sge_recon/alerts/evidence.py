"""An incident's evidence as the console shows it (issue 19): what failed and how much per
currency when it opened (frozen), what fails now, how the set changed, and the check runs that
saw it. Pure functions over the incident's ``details``: how the alerting service writes them
(``carry_evidence``) and how the console reads them (``evidence_view``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..money import MONEY, money_abs, stakes_text


@dataclass
class EvidenceView:
    at_open: list[dict] = field(default_factory=list)      # one row per failing item
    at_open_money: dict[str, str] = field(default_factory=dict)
    at_open_apart: dict[str, dict] = field(default_factory=dict)   # NaN/infinite, counted apart
    opened_at: str | None = None
    latest: list[dict] = field(default_factory=list)
    latest_money: dict[str, str] = field(default_factory=dict)
    latest_apart: dict[str, dict] = field(default_factory=dict)
    latest_at: str | None = None
    changes: list[dict] = field(default_factory=list)      # when, failing items, money
    run_ids: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.at_open or self.at_open_money or self.latest or self.changes
                    or self.run_ids)


# An amount the platform stores as numeric 'NaN' is money at stake nobody can state: it ranks
# above every stated amount (and Decimal('NaN') cannot be compared: sorting by it raises).
UNSTATED = Decimal("Infinity")


def rank_amount(value: Any) -> Decimal:
    """The absolute size of one amount for ranking: NaN (unstated) ranks largest; text that is no
    number at all ranks as 0."""
    try:
        amount = money_abs(Decimal(str(value)))
    except InvalidOperation:
        return Decimal(0)
    return UNSTATED if amount.is_nan() else amount


def largest_amount(amounts: Any) -> Decimal:
    """The largest amount at stake in any one currency of ``{currency: amount}`` (amounts in
    different currencies are never added up); 0 for none, infinite when one is NaN."""
    return max((rank_amount(v) for v in (amounts or {}).values()), default=Decimal(0))


def money_order(incidents: list[dict]) -> list[dict]:
    """Unresolved before resolved, then priority (P0 first), then the largest amount at stake in
    any one currency (amounts in different currencies are never added up), newest first."""
    def largest(incident: dict) -> Decimal:
        money = (incident.get("details") or {}).get("money")
        if (incident.get("details") or {}).get("money_apart"):
            return UNSTATED  # a NaN or infinite amount beside the stated ones ranks largest
        if not money and incident.get("money_at_stake") is not None:
            return rank_amount(incident["money_at_stake"])
        return largest_amount(money)

    ranked = sorted(incidents, key=lambda i: i["opened_at"], reverse=True)
    return sorted(ranked, key=lambda i: (i["status"] == "resolved", i["priority"],
                                               MONEY.minus(largest(i))))


def evidence_view(incident: dict) -> EvidenceView:
    details = incident.get("details") or {}
    at_open = details.get("evidence_at_open") or {}
    latest = details.get("evidence_latest") or {**details, "at": None}
    return EvidenceView(
        at_open=_items(at_open), at_open_money=dict(at_open.get("money") or {}),
        at_open_apart=dict(at_open.get("money_apart") or {}),
        opened_at=at_open.get("at"),
        latest=_items(details), latest_money=dict(details.get("money") or {}),
        latest_apart=dict(details.get("money_apart") or {}),
        latest_at=latest.get("at"),
        changes=[{"at": c.get("at"), "failing": ", ".join(c.get("keys") or []) or "—",
                  "money": dict(c.get("money") or {}),
                  "money_apart": dict(c.get("money_apart") or {})}
                 for c in details.get("evidence_changes") or []],
        run_ids=[str(r) for r in details.get("run_ids") or []])


def _items(evidence: dict[str, Any]) -> list[dict]:
    """The failing rows: program, currency, the figures, the money at stake (decimal strings)."""
    rows = []
    for item in evidence.get("items") or []:
        money = item.get("money") or {}
        apart = item.get("money_apart") or {}
        rows.append({"failing": item.get("key") or item.get("program_id") or "",
                     "program_id": item.get("program_id") or "",
                     "currency": item.get("currency") or "",
                     **{k: item[k] for k in ("total_debits", "total_credits", "difference",
                                             "problem") if item.get(k) is not None},
                     # a NaN or infinite amount, in words (never its stated part, 0)
                     "at_stake": stakes_text(money, apart) if apart else
                     next(iter(money.values()), "") if len(money) == 1 else ""})
    if not rows and evidence.get("facts"):
        rows.append({k: v for k, v in evidence["facts"].items()
                     if isinstance(v, (str, int)) and k != "where"})
    return rows


# -- written by the alerting service ---------------------------------------------------------
EVIDENCE_KEYS = ("items", "items_total", "keys", "programs", "money", "money_apart")
EVIDENCE_CHANGES_LIMIT = 20
RUN_IDS_LIMIT = 50


def snapshot(details: dict, now: datetime, check_run_id: str | None) -> dict:
    """The failing rows and money per currency as they are now (frozen copies go in details)."""
    ev = {k: details[k] for k in EVIDENCE_KEYS if k in details}
    if "items" not in ev:
        ev["facts"] = {k: v for k, v in details.items()
                       if k not in ("first_steps", "evidence_at_open", "evidence_latest",
                                    "evidence_changes", "run_ids", "clear_since")}
    return {**ev, "at": now.isoformat(), "check_run_id": check_run_id}


def carry_evidence(old: dict, new: dict, now: datetime, check_run_id: str | None) -> dict:
    """New details that keep the evidence frozen at open, the run ids and the history of changes
    of the failing set or its money (bounded); the latest evidence replaces the previous one."""
    out = dict(new)
    at_open = old.get("evidence_at_open") or snapshot(old, now, None)
    out["evidence_at_open"] = at_open
    runs = list(old.get("run_ids") or [])
    if check_run_id and check_run_id not in runs:
        runs = (runs + [check_run_id])[-RUN_IDS_LIMIT:]
    out["run_ids"] = runs
    changes = list(old.get("evidence_changes") or [])
    before = old.get("evidence_latest") or at_open
    latest = snapshot(new, now, check_run_id)
    if _shape(before) != _shape(latest):
        changes = (changes + [{"at": now.isoformat(), "keys": new.get("keys"),
                               "money": new.get("money"), "money_apart": new.get("money_apart")}]
                   )[-EVIDENCE_CHANGES_LIMIT:]
        out["evidence_latest"] = latest
    else:
        out["evidence_latest"] = old.get("evidence_latest") or latest
    out["evidence_changes"] = changes
    if old.get("page_round"):  # the incident's paging round (alerts/spread.py) outlives refreshes
        out["page_round"] = old["page_round"]
    return out


def _shape(evidence: dict) -> tuple:
    return (tuple(evidence.get("keys") or ()), tuple(sorted((evidence.get("money") or {}).items())),
            json.dumps(evidence.get("money_apart") or {}, sort_keys=True))
