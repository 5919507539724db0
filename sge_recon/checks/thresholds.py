"""Thresholds: when a check's measurements turn it ``warn`` or ``fail``.

A threshold reads ``<subject> <op> <bound>`` in checks.yml, for example ``failing_rows > 0`` or
``value >= queue_depth_warn``: the subject is ``failing_rows`` (the true count of returned rows)
or ``value`` (the check's value), the bound a number or the name of a parameter (a setting, see
:mod:`sge_recon.checks.params`). As in soda-core, ``fail`` is evaluated before ``warn``; a
measurement that is unknown (``None``) fires nothing.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable, Mapping

from ..errors import CheckDefinitionError

SUBJECTS = ("failing_rows", "value")
LEVELS = ("fail", "warn")  # evaluation order: the worst level first
_OPS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_EXPR = re.compile(r"^\s*(\w+)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?|[a-z_][a-z0-9_]*)\s*$")


@dataclass(frozen=True)
class Threshold:
    level: str          # "fail" | "warn"
    subject: str        # "failing_rows" | "value"
    op: str             # ">", ">=", "<", "<="
    bound: Decimal
    bound_name: str | None = None  # the parameter the bound came from, for the summary

    def fires(self, measure: Decimal | int | None) -> bool:
        if measure is None:
            return False
        return _OPS[self.op](Decimal(measure), self.bound)

    def summary(self) -> str:
        bound = _plain(self.bound)
        source = f" ({self.bound_name})" if self.bound_name else ""
        return f"{self.level} when {self.subject} {self.op} {bound}{source}"

    @property
    def upward(self) -> bool:
        return self.op in (">", ">=")

    def covers(self, other: "Threshold") -> bool:
        """Whether every measure that fires ``other`` also fires this one (same subject)."""
        if self.subject != other.subject or self.upward != other.upward:
            return False
        if self.upward:
            return other.bound > self.bound or (other.bound == self.bound and
                                                 (self.op == ">=" or other.op == ">"))
        return other.bound < self.bound or (other.bound == self.bound and
                                             (self.op == "<=" or other.op == "<"))


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of one check, ``fail`` ones evaluated before ``warn`` ones."""

    items: tuple[Threshold, ...]

    def status(self, failing_rows: int | None = None, value: Decimal | None = None) -> str:
        measures = {"failing_rows": failing_rows, "value": value}
        for level in LEVELS:
            if any(t.fires(measures[t.subject]) for t in self.items if t.level == level):
                return level
        return "pass"

    def summary(self) -> str:
        return "; ".join(t.summary() for t in self.items) or "never warns or fails"

    def of(self, level: str) -> list[Threshold]:
        return [t for t in self.items if t.level == level]


def parse_thresholds(spec: object, params: Mapping[str, Decimal | int], *, where: str,
                     has_value: bool, counts_rows: bool) -> Thresholds:
    """Build a check's thresholds from its checks.yml ``thresholds`` mapping.

    ``spec`` maps a level to one expression or a list of them. Rejects a threshold that can never
    fire: on a measurement the check does not have, below zero for a count, or shadowed by a
    ``fail`` threshold that already covers it.
    """
    if not isinstance(spec, dict) or not spec:
        raise CheckDefinitionError(f"{where}: thresholds must map fail/warn to expressions such "
                                   "as 'failing_rows > 0'")
    items: list[Threshold] = []
    for level, exprs in spec.items():
        if level not in LEVELS:
            raise CheckDefinitionError(f"{where}: unknown threshold level {level!r}; use fail "
                                       "or warn")
        if isinstance(exprs, list) and not exprs:
            # an empty list would leave the level without a threshold: the check could never
            # warn or fail, silently (a typo must never disable a money check)
            raise CheckDefinitionError(f"{where}: threshold {level}: [] names no threshold; "
                                       "write one such as 'failing_rows > 0' or remove the "
                                       f"{level} key")
        for expr in exprs if isinstance(exprs, list) else [exprs]:
            items.append(_parse_one(level, expr, params, where))
    for t in items:
        _reject_never_firing(t, items, where=where, has_value=has_value, counts_rows=counts_rows)
    return Thresholds(tuple(items))


def _parse_one(level: str, expr: object, params: Mapping[str, Decimal | int],
               where: str) -> Threshold:
    match = _EXPR.match(str(expr)) if isinstance(expr, (str, int)) else None
    if not match:
        raise CheckDefinitionError(
            f"{where}: threshold {level}: {expr!r} is not '<subject> <op> <bound>' "
            "(e.g. 'failing_rows > 0', 'value >= queue_depth_warn')")
    subject, op, bound_text = match.groups()
    if subject not in SUBJECTS:
        raise CheckDefinitionError(f"{where}: threshold {level}: unknown subject {subject!r}; "
                                   f"use one of {', '.join(SUBJECTS)}")
    bound_name = None
    if re.match(r"^-?\d", bound_text):
        try:
            bound = Decimal(bound_text)
        except InvalidOperation:  # pragma: no cover - the regex admits only numbers here
            raise CheckDefinitionError(f"{where}: bad number {bound_text!r}") from None
    else:
        if bound_text not in params:
            raise CheckDefinitionError(
                f"{where}: threshold {level}: unknown parameter {bound_text!r}; known: "
                f"{', '.join(sorted(params))}")
        bound, bound_name = Decimal(params[bound_text]), bound_text
    return Threshold(level, subject, op, bound, bound_name)


def _reject_never_firing(t: Threshold, items: list[Threshold], *, where: str, has_value: bool,
                         counts_rows: bool) -> None:
    why = None
    if t.subject == "value" and not has_value:
        why = "the check has no value (declare `value:` or compare failing_rows)"
    elif t.subject == "failing_rows" and not counts_rows:
        why = "a metric check has no failing_rows (compare its value)"
    elif t.subject == "failing_rows" and not t.upward and (
            t.bound < 0 or (t.bound == 0 and t.op == "<")):
        why = "a row count is never negative"
    elif t.level == "warn":
        shadow = next((f for f in items if f.level == "fail" and f.covers(t)), None)
        if shadow is not None:
            why = f"'{shadow.summary()}' already fails every such case (fail is evaluated first)"
    if why:
        raise CheckDefinitionError(f"{where}: threshold '{t.summary()}' can never fire: {why}")


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
