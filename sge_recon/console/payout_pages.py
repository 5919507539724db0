"""The Payouts page's data: the open batches with their SLA verdict (the check
payout_batch_sla's), one batch with its line items, the circuit breaker and approval. Part of
:class:`~sge_recon.console.ConsoleService`, kept apart to keep each module small."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from ..check_names import PAYOUT_BATCH_SLA
from ..db import payouts
from ..errors import UsageError
from ..money import MONEY, money_add, money_exact, money_sum, special_text
from . import verdicts
from .verdicts import SIGNAL_LIST_LIMIT


class PayoutPages:
    read: Callable[[Callable[[Any], Any]], Any]
    read_platform: Callable[[Callable[[Any], Any]], Any]
    _live: Callable[..., dict]
    settings: Any
    admin_api: Any
    actions: Any
    db: Any

    # -- Payouts ---------------------------------------------------------------------------------
    def open_payout_batches(self) -> list[dict]:
        """The open batches; ``sla_breached`` exactly when the check payout_batch_sla lists the
        batch (None when it cannot run), ``sla_left_hours`` the clock shown beside it."""
        sla = self.settings.PAYOUT_SLA_HOURS * 3600
        needed = 1 if self.admin_api == "sge" else 2  # SGE: one approver, not the creator
        rows = self.read_platform(payouts.open_payout_batches)
        check = self._live([PAYOUT_BATCH_SLA], sample_rows=SIGNAL_LIST_LIMIT).get(PAYOUT_BATCH_SLA)
        late = verdicts.failing_keys(check, "batch_id")
        for row in rows:
            row["approvals"] = f"{len(row['approvers'])} of {needed}"
            row["sla_left_hours"] = round((sla - int(row["clock_seconds"])) / 3600, 1)
            row["sla_breached"] = row["batch_id"] in late if verdicts.usable(check) else None
            row["approvers"] = ", ".join(row["approvers"])
        return rows

    def recent_payout_batches(self, limit: int = 50) -> list[dict]:
        return self.read_platform(lambda c: payouts.recent_payout_batches(c, limit))

    def payout_batch(self, batch_id: str) -> dict | None:
        """One batch (any status) with its line items: per affiliate the commissions it pays,
        and the batch's total and affiliate count checked against them."""
        batch_id = (batch_id or "").strip()
        if not batch_id:
            return None

        items = self.db.relations.has("payout_items")  # the platform keeps line items

        def load(conn):
            batch = payouts.payout_batch_detail(conn, batch_id)
            if batch is None:
                return None
            return {"batch": batch, "lines": payouts.payout_batch_lines(conn, batch_id),
                    "commissions": payouts.payout_batch_commissions(conn, batch_id),
                    "items": payouts.payout_batch_items(conn, batch_id) if items else None}
        found = self.read(load)
        if found is None:
            return None
        batch, lines = found["batch"], found["lines"]
        totals: dict[str, Decimal] = {}
        for line in lines:  # exact at any numeric(38,6) size: 28 digits would hide a difference
            totals[line["currency"]] = money_add(totals.get(line["currency"], Decimal(0)),
                                                 line["amount"])
        total = money_sum(totals.values()) if len(totals) == 1 else None
        affiliates = len({line["affiliate_id"] for line in lines})
        problems = []
        special = [f"{what} is {special_text(value)}" for what, value in (
            ("the batch total", batch["total_amount"]), ("the sum of its commissions", total))
            if isinstance(value, Decimal) and not value.is_finite()]
        if special:  # Infinity equals Infinity, and NaN equals nothing: never consistent
            problems.append(" and ".join(special) + "; platform_data_integrity names the rows")
        elif len(totals) > 1:
            problems.append("its commissions are in " + ", ".join(sorted(totals)) + ": one "
                            "batch total cannot pay several currencies")
        elif lines and total is not None and total != batch["total_amount"]:
            problems.append(f"the batch total {money_exact(batch['total_amount'])} differs from "
                            f"the sum of its commissions {money_exact(total)} by "
                            f"{money_exact(MONEY.subtract(batch['total_amount'], total))}")
        if affiliates != batch["affiliate_count"]:
            problems.append(f"the batch says {batch['affiliate_count']} affiliates but its "
                            f"commissions pay {affiliates}")
        if not lines:
            problems.append("no commission is attached to this batch")
        foreign = sum(line["other_program"] for line in lines)
        if foreign:
            problems.append(f"{foreign} of its commissions belong to another program than the "
                            f"batch's ({batch['program_id']}): a batch pays its own program's")
        if found["items"] is not None:
            problems += _line_items_unlike_commissions(lines, found["items"])
        batch["approvals"] = f"{len(batch['approvers'])} of 2"
        found.update(lines_total=total, totals=totals, problems=problems,
                     consistent=not problems)
        return found

    def unlike_shown(self, batch_id: str, total: Decimal, affiliates: int) -> str | None:
        """Why ``batch_id``, read now, is not the batch a confirm dialog showed (``total`` to
        ``affiliates``) or no longer adds up (its commissions pay exactly its total and affiliate
        count), or None. A commission joining the batch after the dialog opened would otherwise
        be approved or paid unseen."""
        found = self.payout_batch(batch_id)
        if found is None:
            return None  # unknown here: the admin API answers 404
        batch = found["batch"]
        if batch["total_amount"] != total or batch["affiliate_count"] != affiliates:
            return (f"batch {batch_id} changed since the dialog opened (it showed "
                    f"{money_exact(total)} to {affiliates} affiliates; it is now "
                    f"{money_exact(batch['total_amount'])} {batch['currency']} to "
                    f"{batch['affiliate_count']} affiliates); open it again and check it")
        if not found["consistent"]:
            return (f"batch {batch_id} does not add up now: " + "; ".join(found["problems"])
                    + " (it is not what was shown); find out why first")
        return None

    def execute_batch_as_shown(self, operator: str, batch_id: str, total: Decimal,
                               affiliates: int):
        """Execute the batch the confirm dialog showed: read again at the moment of sending
        (``unlike_shown``), otherwise refused and recorded, nothing sent."""
        return self.actions.execute_batch(
            operator, batch_id, changed=lambda: self.unlike_shown(batch_id, total, affiliates))

    def payout_breaker(self, batch_id: str):
        """The payout circuit breaker for this batch (read-only): held, why, its overrides."""
        from .breaker import state

        return self.read(lambda c: state(c, batch_id))

    def approve_batch_as(self, account, batch_id: str, total: Decimal | None = None,
                         affiliates: int | None = None):
        """Approve with the signed-in approver's own key (the one its account is bound to);
        the console holds the keys, the approver never types or sees one. ``total`` and
        ``affiliates``: what the confirm dialog showed; the batch is read again and the
        approval refused (recorded, nothing sent) when it is not that batch any more."""
        if account is None:
            raise UsageError("not approved: sign in to approve")
        # the account as it is now in the database, not the object passed in; a refusal is
        # recorded in the action log like any other (authority.py)
        slot = None if self.admin_api == "sge" else account.approver_slot
        denied = self.actions.refused(account.name, "approve", "approve_payout_batch", batch_id,
                                      {"batchId": batch_id} if slot is None else
                                      {"batchId": batch_id, "approverKey": slot}, slot)
        if denied:
            return denied
        if total is not None and affiliates is not None:
            problem = self.unlike_shown(batch_id, total, affiliates)
            if problem:
                return self.actions.refuse(account.name, "approve_payout_batch", batch_id,
                                           {"batchId": batch_id}, problem)
        if self.admin_api == "sge":
            # the SGE API knows no approver keys: it approves as the account's SGE admin id
            # (X-Admin-Id: its platform_id; refused without one, or as the creator)
            return self.actions.approve_batch(account.name, batch_id, "")
        key = getattr(self.settings, f"PAYOUT_APPROVER_{slot}", None)
        if not key:
            raise UsageError(f"PAYOUT_APPROVER_{slot} is not set for this console, so approver "
                             f"key {slot} (bound to {account.name}) cannot be used; set it (or "
                             f"PAYOUT_APPROVER_{slot}_FILE) and restart the console")
        return self.actions.approve_batch(account.name, batch_id, key, slot=slot)


def _line_items_unlike_commissions(lines: list[dict], items: list[dict]) -> list[str]:
    """Where the platform's own line items (what it pays each affiliate) differ from the
    commissions of that affiliate in the batch, or send money elsewhere than the affiliate's
    wallet; each line gets ``platform_pays``. Money moved from one affiliate's line item to
    another's, or a destination changed, leaves the batch total as it was."""
    pays = {item["affiliate_id"]: item["amount"] for item in items}
    unlike = [f"affiliate {_named(item['affiliate_id'])}'s line item sends its money to "
              f"{where!r}, not to the affiliate's wallet {item['wallet']!r}"
              for item in items for where in item.get("elsewhere") or ()]
    owed: dict[Any, Decimal] = {}
    for line in lines:
        owed[line["affiliate_id"]] = money_add(owed.get(line["affiliate_id"], Decimal(0)),
                                               line["amount"])
        line["platform_pays"] = pays.get(line["affiliate_id"])
    if lines:  # a batch that gathers no commission: said above, and payout_batch_total's
        unlike += [f"affiliate {_named(who)} is paid {money_exact(pays.get(who, Decimal(0)))} "
                   f"by the platform's line items but has "
                   f"{money_exact(owed.get(who, Decimal(0)))} of commissions in this batch"
                   for who in sorted(set(pays) | set(owed), key=lambda w: (w is None, str(w)))
                   if pays.get(who, Decimal(0)) != owed.get(who, Decimal(0))]
    if len(unlike) > 5:
        unlike = unlike[:5] + [f"and {len(unlike) - 5} more"]
    return unlike


def _named(affiliate_id: Any) -> str:
    """An affiliate id in a sentence: a missing or empty one said so, not 'None' or nothing."""
    if affiliate_id is None:
        return "(no id)"
    return str(affiliate_id) if str(affiliate_id).strip() else repr(affiliate_id)
