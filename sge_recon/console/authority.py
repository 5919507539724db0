"""Who may run a console action, checked by the library at the moment it runs (not only by the
page that offered the button): the operator must be an existing, enabled console account
(recon.console_users, read now in the database) whose role has the permission the action needs
(sge_recon.accounts.PERMISSIONS). A page left open, a confirm dialog kept across a sign-out, an
account disabled or demoted since the page was drawn, or a made-up name: all refused here, and
the refusal is recorded in recon.action_log like any other answer.

Every caller of ActionService is the console, acting for its signed-in account; no job or CLI
command calls it, so there is no non-account identity to allow.

A payout approval is also refused when the account already approved that batch: the two
approvals of a batch must come from two people, and the platform only knows approver keys, so an
account re-bound from one key to the other (``users add --replace``) would otherwise give both.
Which account gave an approval is recorded only in recon.action_log (the console's
``approve_payout_batch`` rows), so that is the record checked: an approval the API confirmed,
whatever key it used, and one whose answer was lost (it may have been done) made with a key other
than the one the account uses now (with the same key the platform itself refuses a repeat).
"""

from __future__ import annotations

from datetime import timezone

from ..accounts import PERMISSIONS, WHY_NOT
from ..db import DriverError
from ..db import accounts as account_rows
from ..db import action_log
from ..errors import DatabaseUnavailable, first_line

# the permission an admin-API action needs when it is not "act" (the routine actions)
API_NEEDS = {"approve_payout_batch": "approve", "execute_payout_batch": "execute",
             "ledger_correction": "correct"}


def why_refused(db, operator: str, need: str, slot: int | None = None,
                target: str | None = None) -> str | None:
    """Why ``operator`` may not do what needs ``need`` now, or None when it may. ``slot``: the
    approver key the action uses must be the one bound to the account. ``target``: for an
    approval, the batch, which the account must not have approved already."""
    try:
        with db.transaction(read_only=True) as conn:
            row = account_rows.account(conn, operator)
            prior = action_log.approval_attempts(conn, operator, target) \
                if need == "approve" and target and row is not None else []
    except (DatabaseUnavailable, DriverError) as exc:
        return f"the account {operator!r} could not be checked, so nothing was done " \
               f"({first_line(exc)})"
    if row is None:
        return f"{operator!r} is not a console account"
    if row["disabled"]:
        return f"the account {operator!r} is disabled"
    if row["role"] not in PERMISSIONS[need]:
        return f"{operator!r} has the {row['role']} role: {WHY_NOT[need]}"
    if slot is not None and row["approver_slot"] != slot:
        return f"approver key {slot} is not the one bound to {operator!r}"
    return already_approved(operator, prior, slot)


def already_approved(operator: str, attempts: list[dict], slot: int | None) -> str | None:
    """Why the account may not approve this batch again (its earlier ``attempts``), or None."""
    done = [a for a in attempts if a["done"]]
    # an unanswered attempt counts only when made with another key: with the key used now the
    # platform itself refuses a repeat
    unsure = [a for a in attempts if not a["done"] and slot is not None
              and a["approver_key"] != str(slot)]
    if not done and not unsure:
        return None
    first = (done or unsure)[0]
    key = f" with approver key {first['approver_key']}" if first["approver_key"] else ""
    when = f"{first['at'].astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
    said = (f"{operator!r} already approved batch {first['batch_id']}{key} ({when})" if done
            else f"{operator!r} may already have approved batch {first['batch_id']}{key} "
                 f"({when}; the admin API's answer was lost)")
    return (f"{said}: the two approvals of a batch must come from two different people, so "
            "the other approval must be another approver's")
