"""Silences from the console (issue 19), and how far one person may mute the pages.

An operator may silence alone, so a silence is bounded by time, measured from the moment it is
created (not from its own start, which would let silences starting next week, the week after,
... mute the pages for a year in one sitting): a one-off silence ends at most MAX_SILENCE (7
days) from now. Weekly maintenance windows recur up to MAX_WINDOWS (366 days), so the windows
that could mute the same incident (the same kind or every kind, the same program or every
program, in force at the same time) add up to at most MAX_WEEKLY_MINUTES (24 hours) a week:
seven windows of 24 hours, one per weekday, would otherwise mute every alert — the P0 ledger
imbalance page included — for a year. A refusal is recorded in recon.action_log like any other.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from ..db import Database, action_log
from ..db.job_runs import database_now
from ..db import silences as silence_rows
from ..errors import UsageError
from .outcome import ActionOutcome, require_operator


class Acting(Protocol):
    """What a silence needs of the ActionService (actions.py calls in here, so this module
    does not import it: no import cycle)."""

    _db: Database

    def refused(self, operator: str, need: str, action: str, target: str | None,
                request: dict | None, slot: int | None = None) -> ActionOutcome | None: ...

    def refuse(self, operator: str, action: str, target: str | None, request: dict | None,
               why: str) -> ActionOutcome: ...

    def _record(self, operator, action, target, request, ok, status, response, error, message,
                data) -> ActionOutcome: ...

MAX_SILENCE = timedelta(days=7)
MAX_WINDOWS = timedelta(days=366)
MAX_WEEKLY_MINUTES = 24 * 60


def add_silence(service: Acting, operator: str, *, kind: str | None,
                program_id: str | None, reason: str, owner: str, starts_at: datetime,
                ends_at: datetime, weekly: tuple[int, Any, int] | None = None,
                now: datetime | None = None) -> ActionOutcome:
    from ..alerts.rules import RULES
    operator = require_operator(operator)
    # "7 days from now" by the clock the monitor judges silences by (the database's, as the
    # console's starts_at): the host's, hours behind it, refused the page's longest silence
    now = now or database_now(service._db)
    reason, owner = " ".join((reason or "").split()), " ".join((owner or "").split())
    kind = (kind or "").strip() or None
    program_id = (program_id or "").strip() or None
    if not reason:
        raise UsageError("a silence needs a reason (e.g. the platform's maintenance window)")
    if not owner:
        raise UsageError("a silence needs an owner: who answers for it")
    if kind is not None and kind not in RULES:
        raise UsageError(f"unknown incident kind {kind}; use one of {', '.join(RULES)}")
    if ends_at is None or ends_at <= starts_at:
        raise UsageError("a silence needs an expiry after its start")
    if weekly is None and ends_at - starts_at > MAX_SILENCE:
        raise UsageError("a silence lasts at most 7 days; create a new one when it expires")
    if weekly is not None:
        day, _, minutes = weekly
        if not (1 <= int(day) <= 7 and 1 <= int(minutes) <= 1440):
            raise UsageError("a weekly window needs a weekday 1 (Monday) to 7 (Sunday) and "
                             "1 to 1440 minutes")
        if ends_at - starts_at > MAX_WINDOWS:
            raise UsageError("a recurring window expires within 366 days; renew it then")
    target = f"silence:{kind or 'all'}" + (f":{program_id}" if program_id else "")
    request = {"kind": kind, "programId": program_id, "reason": reason, "owner": owner,
               "startsAt": starts_at.isoformat(), "endsAt": ends_at.isoformat(),
               "weekly": [int(weekly[0]), str(weekly[1]), int(weekly[2])] if weekly else None}
    denied = service.refused(operator, "act", "add_silence", target, request)
    if denied:
        return denied
    if weekly is None and ends_at > now + MAX_SILENCE:
        return service.refuse(operator, "add_silence", target, request, (
            f"a silence ends at most 7 days from now (this one ends "
            f"{ends_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC); silences queued one after "
            "another would mute the pages for longer: create the next one when this expires"))
    with service._db.transaction() as conn:
        row, new = silence_rows.insert_silence(
            conn, kind=kind, program_id=program_id, reason=reason, owner=owner,
            created_by=operator, starts_at=starts_at, ends_at=ends_at, weekly=weekly,
            weekly_cap=MAX_WEEKLY_MINUTES)
        logged = action_log.record_action(conn, operator=operator, action="add_silence",
                                          target=target, request=request, result="ok",
                                          status_code=None, response={"silence": int(row["id"])},
                                          error=None) if new else None
    if logged is None and row.get("over_cap") is not None:
        return service.refuse(operator, "add_silence", target, request, (
            f"weekly windows that mute the same alerts add up to at most "
            f"{MAX_WEEKLY_MINUTES // 60} hours a week, and {row['over_cap']} minutes are "
            "already silenced weekly for this kind and program (or all of them); end one first"))
    if logged is None:  # one of this scope is in force (another lead's, a moment ago)
        until = row["ends_at"].astimezone(timezone.utc)
        message = (f"Failed: silence #{row['id']} by {row['created_by']} already covers "
                   f"this until {until:%Y-%m-%d %H:%M} UTC; end it first to set another.")
        return service._record(operator, "add_silence", target, request, False, None, None,
                               message, message, None)
    return ActionOutcome(True, "add_silence", target, None,
                         f"Silence #{row['id']} until {ends_at:%Y-%m-%d %H:%M} UTC: matching "
                         "incidents are recorded but not messaged.", data=row,
                         log_id=logged["id"], at=logged["at"])
