"""What a console action answers: the outcome in words, and whether the action log has it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


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
