"""Actions on many items at once (Sidekiq's "retry selected", Svix's "recover"): each item is its
own admin API call and its own action-log row, so every one is audited and answered; the outcome
sums them up in words and names the items that were refused, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from ..db import Database
from ..db import webhooks as hooks
from ..errors import UsageError
from .outcome import ActionOutcome

# One item's action (ActionService.retry_intent … with the operator bound): the id -> its outcome.
ActOnOne = Callable[[str], ActionOutcome]

MAX_BULK = 100  # items one bulk action may send (each is its own API call)


def retry_intents(retry_one: ActOnOne, intent_ids: list[str]) -> ActionOutcome:
    ids = _chosen(intent_ids, "no intent chosen to retry; tick the failed jobs to retry first",
                  "intents chosen")
    return summarise("retry_intents", [retry_one(i) for i in ids],
                     "Re-enqueued", "intent(s)")


def retry_bullmq_jobs(retry_one: ActOnOne, queue: str, job_ids: list[str]) -> ActionOutcome:
    ids = _chosen(job_ids, f"no job of {queue} chosen to retry; tick the failed jobs first",
                  f"jobs of {queue} chosen")
    return summarise("retry_jobs", [retry_one(i) for i in ids],
                     "Moved back to waiting", "job(s)")


def _chosen(ids: list[str], none: str, what: str) -> list[str]:
    """The picked ids once each, in the order picked; refused when none or too many."""
    unique = list(dict.fromkeys(i for i in ids if i))
    if not unique:
        raise UsageError(none)
    _within_limit(len(unique), what)
    return unique


def recover_deliveries(retry_one: ActOnOne, db: Database, endpoint_id: str | None,
                       since: datetime, until: datetime) -> ActionOutcome:
    if since >= until:
        raise UsageError(f"the range is empty: from {since:%Y-%m-%d %H:%M} is not before "
                         f"{until:%Y-%m-%d %H:%M}; pick an earlier start or a later end")
    with db.transaction() as conn:
        found = hooks.recoverable(conn, endpoint_id=endpoint_id or None, since=since,
                                  until=until, limit=MAX_BULK)
    where = f"endpoint {endpoint_id}" if endpoint_id else "every endpoint"
    if not found:
        raise UsageError(f"no failed or retry-waiting delivery of {where} was created between "
                         f"{since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M} UTC; nothing to "
                         "recover")
    _within_limit(len(found), f"deliveries of {where} in that range (or more)")
    outcomes = [retry_one(r["delivery_id"]) for r in found]
    return summarise("recover_deliveries", outcomes, "Re-sent", "delivery(ies)")


def summarise(action: str, outcomes: list[ActionOutcome], done: str, noun: str) -> ActionOutcome:
    """The outcomes in words: how many were done; those whose answer was lost (they may have
    been done: check them before acting again) apart from those refused or never sent."""
    failed = [o for o in outcomes if not o.ok]
    unknown = [o for o in failed if o.maybe_done]
    refused = [o for o in failed if not o.maybe_done]
    message = f"{done} {len(outcomes) - len(failed)} of {len(outcomes)} {noun}."
    for title, some in (("Outcome unknown (may have been done; check the platform before "
                         "acting on them again)", unknown), ("Not done", refused)):
        if some:
            message += f" {title}: " + "; ".join(f"{o.target}: {o.message}" for o in some[:5])
            message += (f"; and {len(some) - 5} more (see the action log)." if len(some) > 5
                        else ".")
    last = outcomes[-1]
    return ActionOutcome(ok=not failed, action=action, target=f"{len(outcomes)} items",
                         status_code=None, message=message, maybe_done=bool(unknown),
                         data=[{"target": o.target, "ok": o.ok, "log_id": o.log_id}
                               for o in outcomes],
                         logged=all(o.logged for o in outcomes), log_id=last.log_id, at=last.at)


def _within_limit(count: int, what: str) -> None:
    if count > MAX_BULK:
        raise UsageError(f"{count} {what}; act on at most {MAX_BULK} at a time so that each "
                         "answer can be read (narrow the range or the selection)")
