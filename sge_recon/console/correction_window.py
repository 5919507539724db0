"""The two-person rule's rolling window (CORRECTION_SECOND_PERSON_OVER): what one admin posts
alone within 24 hours counts together. A correction needs a second admin when its own amount in
a currency and side (its debits, or its credits, added up) plus what the same admin posted alone
in the previous 24 hours in that currency and side is over the threshold: six corrections of 900
are not six small ones but 5,400 by one person.

"Posted alone" is recon's own record (recon.action_log rows marked posted_alone): the direct
corrections that were sent and answered ok, or whose outcome is unknown or not yet recorded
(they may have been posted). A request a second admin confirmed counts against no one."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from ..money import money_add, money_exact
from .correction_form import CorrectionEntry

WINDOW_HOURS = 24


@dataclass(frozen=True)
class SecondPerson:
    """Whether a second admin must confirm the correction (truthy when so), and why."""
    needed: bool
    why: str = ""

    def __bool__(self) -> bool:
        return self.needed

    @property
    def message(self) -> str:
        """The sentence the form shows before anything is sent ("" when posted at once)."""
        return f"{self.why[:1].upper()}{self.why[1:]}; a second admin confirms it." \
            if self.needed else ""


class OverWindow(Exception):
    """Raised inside the attempt's transaction when, read under the admin's lock, the window
    makes the correction need a second admin: nothing is recorded as sent, nothing is sent."""

    def __init__(self, second: SecondPerson):
        super().__init__(second.why)
        self.second = second


def moved(entries: list[CorrectionEntry]) -> dict[tuple[str, str], Decimal]:
    """What the correction moves per (currency, side), added up exactly."""
    totals: dict[tuple[str, str], Decimal] = {}
    for e in entries:
        side = (e.currency, e.type)
        totals[side] = money_add(totals.get(side, Decimal(0)), e.amount)
    return totals


def second_person(entries: list[CorrectionEntry], threshold: Decimal,
                  alone: Iterable[dict] = ()) -> SecondPerson:
    """Decide for ``entries`` given ``alone`` (rows of currency, type, moved: what the same admin
    posted alone in the last WINDOW_HOURS, db.corrections.posted_alone)."""
    before = {(r["currency"], r["type"]): Decimal(r["moved"]) for r in alone}
    limit = f"{threshold:,}"
    # per currency, debits first (a balanced correction moves as much both ways)
    for (currency, side), amount in sorted(moved(entries).items(),
                                           key=lambda kv: (kv[0][0], kv[0][1] != "debit")):
        if amount > threshold:
            return SecondPerson(True, f"this correction moves {money_exact(amount)} {currency} "
                                      f"({side}s), over {limit}")
        prior = before.get((currency, side), Decimal(0))
        total = money_add(amount, prior)
        if total > threshold:
            return SecondPerson(True, (
                f"with the {money_exact(prior)} {currency} ({side}s) you posted alone in the "
                f"last {WINDOW_HOURS} hours, this is {money_exact(total)} {currency}, over "
                f"{limit}"))
    return SecondPerson(False)
