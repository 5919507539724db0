"""What a console action answers: the outcome in words, and whether the action log has it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import UsageError


@dataclass(frozen=True)
class ActionOutcome:
    ok: bool
    action: str
    target: str | None
    status_code: int | None
    message: str              # the answer in words, shown to the operator
    data: Any = None          # the API's JSON answer on success
    logged: bool = True       # False when the action_log row could not be written
    log_id: int | None = None
    at: datetime | None = None
    maybe_done: bool = False  # no answer, but the API may have done it (e.g. a read timeout)


def describe_result(result: Any) -> str:
    """The API's answer in words: what it did, or its error sentence with the status code; an
    answer that does not say whether it was done (a timeout, a dropped connection, a 5xx) is
    "Outcome unknown", never "Failed" (the action may have been done)."""
    if result.ok:
        details = "; ".join(f"{k}: {v}" for k, v in (result.data or {}).items()
                            if k != "message" and isinstance(v, (str, int, float, bool)))
        text = f"Done (HTTP {result.status_code}). {result.message}"
        if (result.data or {}).get("message") or not details:
            return text  # the API said it in words; the full answer is in the action log
        return text + (f" ({details})" if len(details) < 300 else "")
    if result.maybe_done:  # sent, and no answer says it was not done: never "Failed"
        if result.status_code is None:
            return f"Outcome unknown, the admin API did not answer: {result.error}"
        return f"Outcome unknown (HTTP {result.status_code}): {result.error}"
    if result.status_code is None:
        return f"Failed, the admin API did not answer: {result.error}"
    return f"Failed (HTTP {result.status_code}): {result.error}"


def require_operator(operator: str | None) -> str:
    """The signed-in account's name, spaces folded; every action is recorded with it."""
    name = " ".join((operator or "").split())
    if not name:
        raise UsageError("sign in first: every action is recorded with the signed-in account")
    return name
