"""An acknowledged or accepted incident covers the fault as it was then, not what it becomes.

Acknowledging stops the reminders (somebody is on it) and accepting stops them for good (a known
fault, with a note); both are one person's decision about the failing set and the money they
saw. A grouped incident keeps absorbing findings of its kind, so without this a second
program's imbalance — of any size — joined an accepted 0.25 USD incident and never paged. When
the fault gets worse (a failing item it did not have, or more money at stake in a currency), the
incident is reopened (its reminders resume) and paged again, saying what is new. "Worse" is
measured against the fault as it was when it was acknowledged/accepted (``details.covered``,
alerts/service.py), not the last evaluation: a part that clears and returns is no news.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sge_recon.money import apart_counts, stake_text

COVERED = ("acknowledged", "accepted")


def worse(incident: dict, old: dict, new: dict) -> list[str]:
    """What is new since the incident was last seen, when it is acknowledged or accepted: the
    failing items it did not have, the currencies with more money at stake, and more amounts
    counted apart (NaN, ±Infinity: details.money_apart); [] otherwise."""
    if incident.get("status") not in COVERED:
        return []
    before = set(old.get("keys") or ())
    grown = [str(k) for k in (new.get("keys") or ()) if k not in before]
    was, now = old.get("money") or {}, new.get("money") or {}
    was_apart, now_apart = old.get("money_apart") or {}, new.get("money_apart") or {}
    for currency in sorted(set(now) | set(now_apart), key=str):
        amount, earlier = _amount(now.get(currency)), _amount(was.get(currency))
        counts, earlier_counts = apart_counts(now_apart.get(currency)), apart_counts(
            was_apart.get(currency))
        # a NaN or an infinity is never compared (Decimal refuses to order a NaN): it is
        # counted apart, and one more of them is worse like one more cent
        if amount > earlier or any(n > earlier_counts.get(w, 0) for w, n in counts.items()):
            grown.append(f"{stake_text(amount, currency, counts)} at stake (was "
                         f"{stake_text(earlier, currency, earlier_counts)})")
    return grown


def _amount(text) -> Decimal:
    """The finite amount of a stored decimal string, 0 for none, a special or a malformed one
    (those are counted apart: details.money_apart)."""
    try:
        amount = abs(Decimal(str(text if text is not None else 0)))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return amount if amount.is_finite() else Decimal(0)
