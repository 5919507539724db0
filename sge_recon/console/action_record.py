"""How ActionService writes recon.action_log: in one step (a refusal, a local action), or in two
for a request sent to another system (the admin API, BullMQ): the attempt is written and
committed as ``pending`` BEFORE the request is sent, and the same row is completed with the
answer afterwards. A console that dies in between (a restart, OOM) or loses its database after
sending leaves the row ``pending``, shown as "sent, outcome unknown — check the platform"
(``action_log.PENDING_SHOWN``): never a payout sent with no record of who sent it. When the
attempt cannot be written, nothing is sent."""

from __future__ import annotations

import re
from typing import Any, Callable

from ..db import DriverError, action_log
from ..errors import DatabaseUnavailable, first_line
from .outcome import ActionOutcome

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """PostgreSQL text and jsonb hold neither NUL nor lone UTF-16 surrogates (an id typed or
    read from Redis may have them): shown as U+FFFD in the action log instead of losing the row."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value


def record(db, operator, action, target, request, ok, status, response, error, message,
           data) -> ActionOutcome:
    """One complete row (result ok or failed) in its own transaction."""
    try:
        with db.transaction() as conn:
            row = action_log.record_action(
                conn, operator=storable(operator), action=action, target=storable(target),
                request=storable(request), result="ok" if ok else "failed",
                status_code=status, response=storable(response), error=storable(error))
    except (DatabaseUnavailable, DriverError) as exc:
        return ActionOutcome(ok, action, target, status,
                             message + f" (Not recorded in the action log: the database is "
                                       f"unavailable — {first_line(exc)}.)",
                             data=data, logged=False)
    return ActionOutcome(ok, action, target, status, message, data=data, logged=True,
                         log_id=row["id"], at=row["at"])


class Attempt:
    """The pending row of one request, written before it is sent."""

    def __init__(self, db, operator: str, action: str, target: str | None,
                 posted_alone: bool = False):
        self.db, self.operator, self.action, self.target = db, operator, action, target
        self.posted_alone = posted_alone
        self.row: dict | None = None

    def begin(self, request: dict | None,
              guard: Callable[[Any], None] | None = None) -> ActionOutcome | None:
        """Write and commit the attempt: None when written; when it could not be, the failed
        outcome that says why, and the caller must send nothing. ``guard(conn)`` runs first in
        the same transaction (a lock it takes is held until the attempt is committed); what it
        raises propagates, and nothing is written or sent."""
        try:
            with self.db.transaction() as conn:
                if guard is not None:
                    guard(conn)
                self.row = action_log.begin_attempt(
                    conn, operator=storable(self.operator), action=self.action,
                    target=storable(self.target), request=storable(request),
                    posted_alone=self.posted_alone)
        except (DatabaseUnavailable, DriverError) as exc:
            return ActionOutcome(
                False, self.action, self.target, None,
                "Failed: nothing was sent, because the attempt could not be recorded in the "
                f"action log (the database is unavailable — {first_line(exc)}).", logged=False)
        return None

    def complete(self, ok: bool, status: int | None, response: Any, error: str | None,
                 message: str, data: Any, maybe_done: bool = False) -> ActionOutcome:
        """Record the answer on the attempt's row: ``unknown`` when it does not say whether it
        was done (``maybe_done``). When that fails the row stays pending (the outcome says so:
        the request was sent and this is its answer)."""
        assert self.row is not None, "begin() first"
        row_id = self.row["id"]
        result = "ok" if ok else ("unknown" if maybe_done else "failed")
        try:
            with self.db.transaction() as conn:
                done = action_log.complete_attempt(
                    conn, row_id, result=result, status_code=status,
                    response=storable(response), error=storable(error))
        except (DatabaseUnavailable, DriverError) as exc:
            return ActionOutcome(
                ok, self.action, self.target, status,
                message + f" (The answer is not recorded in the action log: the database is "
                          f"unavailable — {first_line(exc)}; action #{row_id} stays "
                          f"'{action_log.PENDING_SHOWN}'.)",
                data=data, logged=False, log_id=row_id, at=self.row["at"])
        row = done or self.row
        return ActionOutcome(ok, self.action, self.target, status, message, data=data,
                             logged=True, log_id=row["id"], at=row["at"])


def change_and_record(db, operator: str, action: str, target: str | None,
                      request: dict | None, work: Callable[[Any], str]) -> ActionOutcome:
    """A change to recon's own state and its action-log row in ONE transaction: ``work(conn)``
    makes the change and returns the sentence saying what it did; both commit together or
    neither does (never a change without its audit row, nor a row for a change rolled back).
    A ReconError from ``work`` (e.g. "not waiting") rolls the change back and is recorded as
    failed, with its message."""
    from ..errors import ReconError

    try:
        with db.transaction() as conn:
            message = work(conn)
            row = action_log.record_action(
                conn, operator=storable(operator), action=action, target=storable(target),
                request=storable(request), result="ok", status_code=None, response=None,
                error=None)
    except ReconError as exc:
        failed = f"Failed: {exc.message}"
        return record(db, operator, action, target, request, False, None, None, exc.message,
                      failed, None)
    except DriverError as exc:
        return ActionOutcome(False, action, target, None,
                             f"Failed: nothing was changed, because the change and its "
                             f"action-log row could not be written ({first_line(exc)}).",
                             logged=False)
    return ActionOutcome(True, action, target, None, message, logged=True, log_id=row["id"],
                         at=row["at"])
