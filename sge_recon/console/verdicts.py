"""The verdicts the console's pages show, read from CHECK RESULTS (issue 12 item 3, issue 15
item 11: one definition per signal, pages decide nothing).

A page lists platform rows for display (an endpoint's URL, a worker's start time), but whether a
row is failing, stuck, down or past its SLA is the catalogue check's answer: the row is flagged
exactly when the check lists it among its failing rows. No threshold setting is compared here,
so the Overview, the alerts, /metrics and every page agree at any setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..check_names import STUCK_INTENTS
from ..money import split_amounts

SIGNAL_LIST_LIMIT = 500  # failing rows a page lists from a check (the count stays exact)
# a check's result that can give no verdict: the page says "unknown", never a guess
NO_VERDICT = ("error", "unavailable")


def usable(result: Any) -> bool:
    return result is not None and result.status not in NO_VERDICT


def why_unknown(name: str, result: Any) -> str:
    if result is None:
        return f"{name} has no result"
    if result.status == "unavailable":
        return f"{name} is not available here: {result.reason or 'the platform lacks its data'}"
    return f"{name} could not run: {result.error or 'it errored'}"


def failing_keys(result: Any, key: str) -> set:
    """The ``key`` column of the check's failing rows (its sample: ask the check for enough
    rows when a page must flag all of them)."""
    return {r.get(key) for r in result.rows} if usable(result) else set()


# -- Webhooks: endpoint health ----------------------------------------------------------------
def endpoint_health(endpoints: list[dict], failing: Any, streaks: Any, exhausted: Any,
                    retries: Any) -> list[dict]:
    """Each endpoint (``endpoints``: id, program, url, enabled, last success) with its health:
    ``failing`` exactly when webhook_endpoints_failing lists it, ``degraded`` when it has a
    streak of failed attempts, deliveries waiting for a retry (webhook_retries) or given up
    (webhook_exhausted) without failing, ``disabled``, ``healthy``, or ``unknown`` when
    webhook_endpoints_failing could not run. ``streaks`` is the same check read at a zero
    threshold (every endpoint with a streak: its consecutive failures and failing_since, the
    check's own measure, shown for the endpoints not failing yet too)."""
    flagged = failing_keys(failing, "endpoint_id")
    measured = {r["endpoint_id"]: r for r in streaks.rows} if usable(streaks) else {}
    measured.update({r["endpoint_id"]: r for r in failing.rows} if usable(failing) else {})
    gave_up = _count_by(exhausted, "endpoint_id")
    waiting = _count_by(retries, "endpoint_id")
    out = []
    for e in endpoints:
        row = dict(e)
        streak = measured.get(e["endpoint_id"])
        row["consecutive_failures"] = int(streak["consecutive_failures"]) if streak else 0
        row["failing_since"] = streak["failing_since"] if streak else None
        row["exhausted"] = gave_up.get(e["endpoint_id"], 0)
        row["retrying"] = waiting.get(e["endpoint_id"], 0)
        row["health"] = ("disabled" if not e["enabled"] else
                         "failing" if e["endpoint_id"] in flagged else
                         "unknown" if not usable(failing) else
                         "degraded" if streak or row["exhausted"] or row["retrying"] else
                         "healthy")
        out.append(row)
    return sorted(out, key=lambda r: (r["health"] != "failing", -r["consecutive_failures"],
                                      -r["exhausted"], -r["retrying"], r["endpoint_id"]))


def _count_by(result: Any, key: str) -> dict:
    counts: dict = {}
    for r in result.rows if usable(result) else []:
        counts[r.get(key)] = counts.get(r.get(key), 0) + 1
    return counts


# -- Intents: the stuck list ------------------------------------------------------------------
@dataclass(frozen=True)
class StuckList:
    """stuck_intents' failing rows (the oldest first, at most the sample asked for), its exact
    count, how many are past the fail threshold and the money per currency (its ``totals``)."""
    rows: list[dict]
    count: int
    past_fail: int
    money: dict[str, Decimal] = field(default_factory=dict)
    unknown: str | None = None   # why there is no verdict (the check errored / is unavailable)
    # per currency, the NaN / infinite amounts left out of ``money``, counted apart
    money_apart: dict[str, dict[str, int]] = field(default_factory=dict)


def stuck_list(result: Any) -> StuckList:
    if not usable(result):
        return StuckList([], 0, 0, {}, why_unknown(STUCK_INTENTS, result))
    rows = [dict(r) for r in result.rows]
    stuck = result.totals("stuck")
    past = result.totals("past_fail")
    money, apart = ({c: t.sum for c, t in stuck.items()},
                    {c: t.apart for c, t in stuck.items() if t.apart}) if stuck is not None \
        else _sum_by_currency(rows)
    past_fail = sum(t.count for t in past.values()) if past is not None else \
        (0 if result.status != "fail" else 1)
    return StuckList(rows, int(result.failing_rows or 0), past_fail, money, money_apart=apart)


def _sum_by_currency(rows: list[dict]) -> tuple[dict[str, Decimal], dict[str, dict[str, int]]]:
    """The sample's amounts per currency (exact), the NaN / infinite ones counted apart."""
    values: dict[str, list[Decimal]] = {}
    for r in rows:
        if r.get("amount") is not None:
            values.setdefault(r["currency"], []).append(Decimal(str(r["amount"])))
    split = {c: split_amounts(v) for c, v in values.items()}
    return {c: s[0] for c, s in split.items()}, {c: s[1] for c, s in split.items() if s[1]}


# -- Queue page: the workers ------------------------------------------------------------------
def worker_states(heartbeats: list[dict], status: Any) -> list[dict]:
    """Each worker's heartbeat row (display) with ``state`` from worker_status's row for it:
    ``alive`` (healthy or degraded by speed), ``silent`` (down), or ``unknown`` when the check
    could not run or does not list the worker (seen before the check's 24 h window)."""
    states = {r["worker_id"]: r["status"] for r in status.rows} if usable(status) else {}
    out = []
    for w in heartbeats:
        row = dict(w)
        s = states.get(w["worker_id"])
        row["state"] = "unknown" if s is None else "silent" if s == "down" else "alive"
        row["alive"] = s is not None and s != "down"
        out.append(row)
    return out
