"""Who acts on the SGE platform's /api/v2 (admin_api: sge): the person's SGE admin id, carried by
their console account (``recon.console_users.platform_id``, migration 0038), never the account's
name. SGE identifies the operator by the free-text header ``X-Admin-Id`` and records it as the
batch's ``"approvedById"`` (its two-person rule compares it with ``"createdById"``), so a recon
account name ('alice') sent there is an id SGE does not know: the batch's creator ('ops:alice')
could approve their own batch through recon. So, for the SGE actions that identify the operator
(approve and execute a payout batch):

* an account without a platform id is refused, with the command that sets one;
* an approval by the batch's creator is refused by recon itself (the creator read through the
  profile's ``payout_batches.created_by``), before anything is sent; SGE refuses it too now that
  it is told who acts.

Both refusals are recorded in recon.action_log by the caller, like any other refusal.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..db import DriverError
from ..db import accounts as account_rows
from ..db import payouts
from ..errors import DatabaseUnavailable, first_line

# the SGE actions whose request carries X-Admin-Id (sge_admin_client: identify=True)
IDENTIFIED = ("approve_payout_batch", "execute_payout_batch")


@dataclass(frozen=True)
class SgeActor:
    platform_id: str | None  # what is sent as X-Admin-Id
    refusal: str | None      # why nothing may be sent (None: it may)


def sge_actor(db, operator: str, action: str, batch_id: str | None) -> SgeActor:
    """The SGE admin id ``operator`` acts as for ``action`` on ``batch_id``, or why it may not."""
    try:
        with db.transaction(read_only=True) as conn:
            row = account_rows.account(conn, operator)
            platform_id = (row or {}).get("platform_id")
            if not platform_id:
                return SgeActor(None, no_platform_id(operator))
            batch = payouts.batch_creator(conn, batch_id) \
                if action == "approve_payout_batch" and batch_id else None
    except (DatabaseUnavailable, DriverError) as exc:
        return SgeActor(None, f"the account {operator!r} and the batch's creator could not be "
                              f"read, so recon cannot tell SGE who acts ({first_line(exc)})")
    if batch is not None and same_person(batch.get("created_by"), platform_id):
        return SgeActor(platform_id, f"{operator!r} acts on SGE as {platform_id!r}, who created "
                                     f"payout batch {batch_id}: the approver must be a different "
                                     "person than the batch's creator (two-person rule)")
    return SgeActor(platform_id, None)


# what payout_approval_quorum strips (checks/payout_approval_quorum.sql): the invisible format
# characters anywhere in an id (after NFKC), then white space around it
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
                        "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f"
                        "\ufeff\uffa0]")
_AROUND = re.compile(r"^[\s\u00a0]+|[\s\u00a0]+$")


def person(admin_id: str) -> str:
    """An SGE admin id as payout_approval_quorum counts it: NFKC, without invisible format
    characters or surrounding white space, in lower case ('' is nobody)."""
    return _AROUND.sub("", _INVISIBLE.sub("", unicodedata.normalize("NFKC", admin_id))).lower()


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two SGE admin ids name one person as payout_approval_quorum counts them: without
    surrounding white space or invisible characters, in NFKC and lower case (SGE compares
    X-Admin-Id exactly, so its creator 'OPS:Alice ' approving as 'ops:alice' or as 'ops:alice'
    + U+200F passes its own rule). An empty id is nobody."""
    if a is None or b is None:
        return False
    left, right = person(a), person(b)
    return bool(left) and left == right


def no_platform_id(operator: str) -> str:
    return (f"the account {operator!r} has no SGE admin id, and SGE records who approves or "
            "executes by that id (X-Admin-Id), not by the console account's name; an admin sets "
            f"it with `sge-recon users set-platform-id {operator} <SGE admin id>` (e.g. "
            "ops:alice)")
