"""The payout circuit breaker (issue 19).

While a P0 ledger incident (``ledger_imbalance`` or ``ledger_tamper``) is open — or acknowledged,
or accepted: anything but resolved — for a program, executing that program's payout batches is
refused. The gate sits in :class:`~sge_recon.console.actions.ActionService`, which every console
page, the CLI and tests go through, so no page can bypass it; each refusal is recorded in
``recon.action_log`` with the incidents that hold the breaker.

An override needs two people: one admin account requests it for one batch with a reason, a
DIFFERENT admin account confirms it; the confirmed override lets exactly one execution of that
batch through — while it still holds: an override is for the incidents it was requested
against, as they were then (a new P0 ledger incident of the program, or a change of an
incident's failing set or money since the request, voids it; ``holds``). Requests,
confirmations, refusals and the execution are all recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..db import DriverError
from ..db import breaker as q
from ..errors import DatabaseUnavailable, UsageError


@dataclass(frozen=True)
class Gate:
    """What the breaker says about executing one batch now."""

    open: bool                       # True: the batch may be executed
    program_id: str | None = None
    incidents: list[dict] = field(default_factory=list)
    override: dict | None = None     # the confirmed override being used, if any

    @property
    def reason(self) -> str:
        held = ", ".join(f"#{i['id']} ({i['kind']}, {i['priority']})" for i in self.incidents)
        return (f"the payout circuit breaker is closed for program {self.program_id}: P0 ledger "
                f"incident {held} is open. Resolve the ledger first, or have one admin request an "
                f"override with a reason and a different admin confirm it")

    def request_note(self) -> dict:
        note: dict = {"programId": self.program_id,
                      "incidents": [int(i["id"]) for i in self.incidents]}
        if self.override:
            note.update(override=int(self.override["id"]),
                        requestedBy=self.override["requested_by"],
                        confirmedBy=self.override["confirmed_by"],
                        reason=self.override["reason"])
        return note


def gate_for_execution(conn, batch_id: str, operator: str) -> Gate:
    """Whether ``batch_id`` may be executed now; uses (once) a confirmed override if one is
    needed and there is one. An unknown batch passes through (the admin API answers 404)."""
    batch = q.batch_program(conn, batch_id)
    if batch is None:
        return Gate(True)
    program = str(batch["program_id"])
    incidents = q.blocking_incidents(conn, program)
    if not incidents:
        return Gate(True, program)
    used = q.use_confirmed_override(conn, batch_id, operator, [int(i["id"]) for i in incidents],
                                    evidence_changed_at(incidents))
    return Gate(used is not None, program, incidents, used)


def evidence_changed_at(incidents: list[dict]):
    """When the evidence of these incidents last changed (None: never since they opened)."""
    return max((i["evidence_changed_at"] for i in incidents if i.get("evidence_changed_at")),
               default=None)


def holds(override: dict, incidents: list[dict]) -> bool:
    """Whether a confirmed override still lets an execution through: it was requested against
    every incident holding the breaker now, after their evidence last changed. An override given
    for "1.00 USD off" does not pay a batch once the ledger is off by millions, nor once another
    P0 ledger incident has opened: the two admins decide again on what holds the breaker now."""
    changed = evidence_changed_at(incidents)
    return ({int(i["id"]) for i in incidents} <= {int(x) for x in override["incident_ids"] or []}
            and (changed is None or override["requested_at"] > changed))


@dataclass(frozen=True)
class BreakerState:
    """What the Payouts page shows: whether the breaker holds the batch, why, its overrides."""

    held: bool
    reason: str | None
    overrides: list[dict]
    ready_override: dict | None   # confirmed, unused: the next execution goes through


def state(conn, batch_id: str) -> BreakerState:
    """Read-only: never uses an override."""
    batch = q.batch_program(conn, batch_id)
    incidents = q.blocking_incidents(conn, str(batch["program_id"])) if batch else []
    rows = q.overrides(conn, batch_id)
    ready = next((o for o in reversed(rows) if o["confirmed_by"] and not o["used_at"]
                  and holds(o, incidents)), None)
    gate = Gate(not incidents, str(batch["program_id"]) if batch else None, incidents)
    return BreakerState(bool(incidents), gate.reason if incidents else None, rows, ready)


def require_admin(conn, operator: str, doing: str) -> None:
    account = q.account_role(conn, operator)
    if account is None or account["role"] != "admin" or account["disabled"]:
        raise BreakerRefused(f"{doing} needs an active admin account; {operator} is not one")


class BreakerRefused(UsageError):
    """An override request or confirmation that may not be done (recorded as failed)."""


def request_override(conn, operator: str, batch_id: str, reason: str) -> dict:
    reason = " ".join((reason or "").split())
    if not reason:
        raise BreakerRefused("type the reason for the override; it is recorded for auditors")
    require_admin(conn, operator, "requesting a breaker override")
    batch = q.batch_program(conn, batch_id)
    if batch is None:
        raise BreakerRefused(f"there is no payout batch {batch_id}")
    incidents = q.blocking_incidents(conn, str(batch["program_id"]))
    if not incidents:
        raise BreakerRefused(f"the breaker does not hold batch {batch_id} (no P0 ledger incident "
                             f"is open for program {batch['program_id']}); no override needed")
    return q.insert_override(conn, batch_id=batch_id, program_id=str(batch["program_id"]),
                             incident_ids=[int(i["id"]) for i in incidents], reason=reason,
                             requested_by=operator)


def confirm_override(conn, operator: str, override_id: int) -> dict:
    require_admin(conn, operator, "confirming a breaker override")
    row = q.override(conn, override_id, lock=True)
    if row is None:
        raise BreakerRefused(f"there is no breaker override #{override_id}")
    if row["requested_by"] == operator:
        raise BreakerRefused(f"override #{override_id} was requested by {operator}; a second, "
                             "different admin must confirm it")
    if row["used_at"] is not None or row["confirmed_by"] is not None:
        raise BreakerRefused(f"override #{override_id} is already confirmed"
                             + (" and used" if row["used_at"] else ""))
    incidents = q.blocking_incidents(conn, str(row["program_id"]))
    if incidents and not holds(row, incidents):
        raise BreakerRefused(f"override #{override_id} was requested against other evidence: "
                             "a P0 ledger incident of the program opened or changed (its "
                             "failing ledgers or money) since; request a new override for what "
                             "holds the breaker now")
    confirmed = q.confirm_override(conn, override_id, operator)
    if confirmed is None:  # cannot happen under the row lock taken above; refused if ever
        raise BreakerRefused(f"override #{override_id} could not be confirmed; reload and retry")
    return confirmed


def overrides(conn, batch_id: str | None = None) -> list[dict]:
    return q.overrides(conn, batch_id)


def give_back_override(db, override: dict, operator: str, outcome):
    """An execution that used an override but was not done (the API refused, or the call never
    left): the override is unused again, so the retry does not need two admins again. An
    execution that may have been done (no answer) keeps it used."""
    try:
        with db.transaction() as conn:
            q.release_override(conn, int(override["id"]), operator)
    except (DatabaseUnavailable, DriverError):
        return outcome  # still used: a new override is the safe way when we cannot tell
    return replace(outcome, message=f"{outcome.message} Override #{override['id']} was not used "
                                    "up: it lets the next execution through.")
