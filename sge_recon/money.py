"""Exact money arithmetic for the alerts and the metrics, at any ``numeric(38,6)`` size.

Python's default decimal context keeps 28 significant digits: adding, negating or taking the
absolute value of an amount of 23 or more integer digits silently rounds it, and ``quantize`` of
one past 28 digits raises ``InvalidOperation`` (DESIGN §4 allows 32 integer digits, and a sum of
such amounts has more). Every money operation of the alerts and the metrics goes through
``MONEY``, a context with room for any sum of ``numeric(38,6)`` values.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Iterable

# 100 significant digits: a numeric(38,6) value has at most 38, a sum of 10^60 of them fewer
# than 100. Rounding and traps are the default context's (half even; invalid ops raise).
MONEY = decimal.Context(prec=100)
CENT = Decimal("0.01")
# the largest absolute value recon's own numeric(38,6) columns hold (money_at_stake)
NUMERIC_38_6_MAX = Decimal("99999999999999999999999999999999.999999")


def money_add(a: Decimal, b: Decimal) -> Decimal:
    return MONEY.add(a, b)


def money_sum(amounts: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for amount in amounts:
        total = MONEY.add(total, amount)
    return total


def money_abs(amount: Decimal) -> Decimal:
    return MONEY.abs(amount)


def fits_numeric_38_6(amount: Decimal) -> bool:
    return amount.is_finite() and MONEY.compare(MONEY.abs(amount), NUMERIC_38_6_MAX) <= 0


def money_text(amount: Decimal, currency: str) -> str:
    """``1,234.50 USD``: two decimals, thousands grouped, exact at any size. It never raises (a
    value it cannot round, a NaN, is shown as it is)."""
    try:
        value = f"{MONEY.quantize(Decimal(amount), CENT):,}"
    except (ArithmeticError, TypeError, ValueError):
        value = str(amount)
    return f"{value} {currency}".strip()


def money_exact(amount: Decimal) -> str:
    """``1,234.50`` or ``0.000001``: grouped, at least cents, every stored decimal kept (never
    scientific notation, never rounded); a NaN is shown as ``NaN``."""
    amount = Decimal(amount)
    if not amount.is_finite():
        return str(amount)
    cents = MONEY.quantize(amount, CENT)
    if cents == amount:
        return f"{cents:,}"
    return f"{MONEY.normalize(amount):,f}"
