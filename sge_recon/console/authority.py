"""Who may run a console action, checked by the library at the moment it runs (not only by the
page that offered the button): the operator must be an existing, enabled console account
(recon.console_users, read now in the database) whose role has the permission the action needs
(sge_recon.accounts.PERMISSIONS). A page left open, a confirm dialog kept across a sign-out, an
account disabled or demoted since the page was drawn, or a made-up name: all refused here, and
the refusal is recorded in recon.action_log like any other answer.

Every caller of ActionService is the console, acting for its signed-in account; no job or CLI
command calls it, so there is no non-account identity to allow.
"""

from __future__ import annotations

from ..accounts import PERMISSIONS, WHY_NOT
from ..db import DriverError
from ..db import accounts as account_rows
from ..errors import DatabaseUnavailable, first_line

# the permission an admin-API action needs when it is not "act" (the routine actions)
API_NEEDS = {"approve_payout_batch": "approve", "execute_payout_batch": "execute",
             "ledger_correction": "correct"}


def why_refused(db, operator: str, need: str, slot: int | None = None) -> str | None:
    """Why ``operator`` may not do what needs ``need`` now, or None when it may. ``slot``: the
    approver key the action uses must be the one bound to the account."""
    try:
        with db.transaction(read_only=True) as conn:
            row = account_rows.account(conn, operator)
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
    return None
