"""Journal arithmetic shared by the correction form and its proposal: debits − credits per
currency, exact (Decimal)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def signed_totals(rows: list[dict[str, Any]],
                  start: dict[str, Decimal] | None = None) -> dict[str, Decimal]:
    """Debits − credits per currency of journal entries ({type, amount, currency}; a missing
    currency counts as ''), added to ``start``."""
    out = dict(start or {})
    for e in rows:
        currency = e["currency"] or ""
        out[currency] = out.get(currency, Decimal(0)) + \
            (e["amount"] if e["type"] == "debit" else -e["amount"])
    return out
