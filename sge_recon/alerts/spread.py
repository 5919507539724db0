"""An acknowledged or accepted incident covers the fault as it was then, not what it becomes.

Acknowledging stops the reminders (somebody is on it) and accepting stops them for good (a known
fault, with a note); both are one person's decision about the failing set and the money they
saw. A grouped incident keeps absorbing findings of its kind, so without this a second
program's imbalance — of any size — joined an accepted 0.25 USD incident and never paged. When
the fault gets worse (a failing item it did not have, or more money at stake in a currency), the
incident is reopened (its reminders resume) and paged again, saying what is new.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

COVERED = ("acknowledged", "accepted")


def worse(incident: dict, old: dict, new: dict) -> list[str]:
    """What is new since the incident was last seen, when it is acknowledged or accepted: the
    failing items it did not have, and the currencies with more money at stake; [] otherwise."""
    if incident.get("status") not in COVERED:
        return []
    before = set(old.get("keys") or ())
    grown = [str(k) for k in (new.get("keys") or ()) if k not in before]
    was, now = old.get("money") or {}, new.get("money") or {}
    for currency in sorted(now):
        if _amount(now[currency]) > _amount(was.get(currency, "0")):
            grown.append(f"{_amount(now[currency])} {currency} at stake (was "
                         f"{_amount(was.get(currency, '0'))})")
    return grown


def _amount(text) -> Decimal:
    try:
        return abs(Decimal(str(text)))
    except (InvalidOperation, ValueError):
        return Decimal(0)
