"""Exact money arithmetic for the alerts, the metrics and the console, at any ``numeric`` size.

Python's default decimal context keeps 28 significant digits: adding, negating or taking the
absolute value of an amount of 23 or more integer digits silently rounds it, and ``quantize`` of
one past 28 digits raises ``InvalidOperation`` (DESIGN §4 allows 32 integer digits, and a sum of
such amounts has more). Every money operation of the alerts and the metrics goes through
``MONEY``, a context with room for any sum of PostgreSQL ``numeric`` values.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Callable, Iterable, Mapping

# Room for any value PostgreSQL's numeric holds (131072 digits before the point, 16383 after:
# a platform's plain `numeric` column is not bounded to numeric(38,6)'s 38) and for sums of
# them. A precision is a cap, not an allocation: 10^120 - 1 costs its 120 digits. No money
# operation divides. Rounding and traps are the default context's (half even; invalid ops raise).
MONEY = decimal.Context(prec=200_000)
# Sums as PostgreSQL's numeric makes them: Infinity - Infinity (or + -Infinity) is NaN, never a
# balance and never an exception (Python's decimal raises InvalidOperation there)
NUMERIC = MONEY.copy()
NUMERIC.traps[decimal.InvalidOperation] = False
CENT = Decimal("0.01")
# the largest absolute value recon's own numeric(38,6) columns hold (money_at_stake)
NUMERIC_38_6_MAX = Decimal("99999999999999999999999999999999.999999")


def money_add(a: Decimal, b: Decimal) -> Decimal:
    return NUMERIC.add(a, b)


def money_subtract(a: Decimal, b: Decimal) -> Decimal:
    return NUMERIC.subtract(a, b)


def money_sum(amounts: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for amount in amounts:
        total = NUMERIC.add(total, amount)
    return total


def money_abs(amount: Decimal) -> Decimal:
    return MONEY.abs(amount)


def fits_numeric_38_6(amount: Decimal) -> bool:
    """Whether numeric(38,6) holds ``amount`` exactly: in range, and no more than six decimals
    (PostgreSQL would round 0.0100004 to 0.010000 without a word)."""
    return amount.is_finite() and MONEY.compare(MONEY.abs(amount), NUMERIC_38_6_MAX) <= 0 \
        and MONEY.quantize(amount, Decimal("0.000001")) == amount


# PostgreSQL's numeric special values (a NaN passes `amount > 0`; a plain numeric column holds
# the infinities since PostgreSQL 14), said in words an ops lead reads: a sum that met one of
# them is no amount at all, and platform_data_integrity names the row
SPECIAL_WORDS = {"NaN": ("an unknown amount", "NaN: an amount is not a number"),
                 "Infinity": ("an infinite amount", "Infinity"),
                 "-Infinity": ("a negative infinite amount", "-Infinity")}


def special_text(amount: Decimal, currency: str | None = None) -> str | None:
    """``an unknown amount of USD (NaN: an amount is not a number)`` for a NaN (likewise the
    infinities); None for a finite amount."""
    if not isinstance(amount, Decimal) or amount.is_finite():
        return None
    what, why = SPECIAL_WORDS[special_word(amount) or "NaN"]  # not finite: always a word
    return f"{what} of {currency} ({why})" if currency else f"{what} ({why})"


def money_text(amount: Decimal, currency: str) -> str:
    """``1,234.50 USD``: at least two decimals, every further stored decimal kept (``0.004 USD``:
    rounded to cents, a ledger row changed by 0.004 paged "0.00 USD changed"), thousands
    grouped, exact at any size (money_exact). It never raises: a NaN or an infinity is said in
    words (special_text), any other value it cannot read as it is."""
    special = special_text(amount, currency) if isinstance(amount, Decimal) else None
    if special is not None:
        return special
    try:
        value = money_exact(Decimal(amount))
    except (ArithmeticError, TypeError, ValueError):
        value = str(amount)
    return f"{value} {currency}".strip()


def money_exact(amount: Decimal) -> str:
    """``1,234.50`` or ``0.000001``: grouped, at least cents, every stored decimal kept (never
    scientific notation, never rounded); a NaN or an infinity in words (special_text)."""
    amount = Decimal(amount)
    if not amount.is_finite():
        return special_text(amount) or str(amount)
    cents = MONEY.quantize(amount, CENT)
    if cents == amount:
        return f"{cents:,}"
    return f"{MONEY.normalize(amount):,f}"


# -- amounts that are no amount, counted apart -----------------------------------------------------
# A per-currency total (money at stake) that met one NaN or infinite amount was NaN or infinite as
# a whole: "an unknown amount of USD" hid the 250,000 USD of stated amounts beside it. A total is
# kept as its finite sum plus, per special word, how many amounts were left out of it.
SPECIALS = tuple(SPECIAL_WORDS)  # NaN, Infinity, -Infinity
_APART = {"NaN": ("amount that is not a number", "amounts that are not a number"),
          "Infinity": ("infinite amount", "infinite amounts"),
          "-Infinity": ("negative infinite amount", "negative infinite amounts")}


def special_word(amount: Decimal) -> str | None:
    """``NaN``, ``Infinity`` or ``-Infinity`` (PostgreSQL's words) for a special amount; None for
    a finite one."""
    if amount.is_finite():
        return None
    return "NaN" if amount.is_nan() else "-Infinity" if amount.is_signed() else "Infinity"


def apart_counts(value: object) -> dict[str, int]:
    """``{word: count}`` of the amounts counted apart, from stored JSON (unknown keys and zero or
    malformed counts dropped): an old stored total has none."""
    if not isinstance(value, dict):
        return {}
    out = {}
    for word in SPECIALS:
        try:
            n = int(value.get(word) or 0)
        except (TypeError, ValueError):
            continue
        if n > 0:
            out[word] = n
    return out


def split_amounts(amounts: Iterable[Decimal | None]) -> tuple[Decimal, dict[str, int]]:
    """The finite amounts' exact sum, and how many special amounts were left out, per word."""
    total, apart = Decimal(0), dict[str, int]()
    for amount in amounts:
        if amount is None:  # a NULL is no amount (platform_data_integrity names the row)
            continue
        word = special_word(amount)
        if word is None:
            total = money_add(total, amount)
        else:
            apart[word] = apart.get(word, 0) + 1
    return total, apart


def merge_apart(into: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    for word, n in apart_counts(more).items():
        into[word] = into.get(word, 0) + n
    return into


def stake_text(amount: Decimal, currency: str, apart: object = None,
               shown: Callable[[Decimal, str], str] | None = None) -> str:
    """A currency's money at stake: the finite sum (``shown``, default money_text), then the
    amounts counted apart: ``250,000.00 USD plus 1 amount that is not a number (NaN)``. With no
    stated amount (a zero sum) it is the sum PostgreSQL would give, in words (special_text)."""
    shown = shown or money_text
    counts = apart_counts(apart)
    if not counts or not isinstance(amount, Decimal) or not amount.is_finite():
        return shown(amount, currency)
    if amount == 0:
        word = "NaN" if "NaN" in counts or len(counts) > 1 else next(iter(counts))
        return special_text(Decimal(word), currency) or shown(amount, currency)
    parts = [f"{n} {_APART[w][0] if n == 1 else _APART[w][1]} ({w})" for w, n in counts.items()]
    return f"{shown(amount, currency)} plus {' and '.join(parts)}"


def stakes_text(money: Mapping[str, object] | None, apart: Mapping[str, object] | None = None,
                shown: Callable[[Decimal, str], str] | None = None, sep: str = ", ") -> str:
    """Money at stake per currency, sorted, never added across currencies: ``22.50 EUR, 50.00
    USD plus 1 amount that is not a number (NaN)``. ``money`` holds decimal strings or Decimals
    (details.money), ``apart`` the counts left out per currency (details.money_apart)."""
    money, apart = dict(money or {}), dict(apart or {})
    return sep.join(stake_text(Decimal(str(money.get(c, 0))), c, apart.get(c), shown)
                    for c in sorted(set(money) | set(apart), key=str))
