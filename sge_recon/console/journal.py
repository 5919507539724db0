"""Journal arithmetic shared by the correction form and its proposal: debits − credits per
currency, exact (Decimal)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..money import MONEY, money_add


def signed_totals(rows: list[dict[str, Any]],
                  start: dict[str, Decimal] | None = None) -> dict[str, Decimal]:
    """Debits − credits per currency of journal entries ({type, amount, currency}; a missing
    currency counts as ''), added to ``start``. Exact at any numeric(38,6) size (MONEY): the
    default context's 28 digits would round 10^31 − 0.000001 to 10^31."""
    out = dict(start or {})
    for e in rows:
        currency = e["currency"] or ""
        amount = Decimal(str(e["amount"]))
        out[currency] = money_add(out.get(currency, Decimal(0)),  # Inf - Inf: NaN, as SQL
                                  amount if e["type"] == "debit" else MONEY.minus(amount))
    return out
