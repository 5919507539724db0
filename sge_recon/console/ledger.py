"""The Ledger page's verdicts: which program/currency ledgers and which transactions are off.

The page shows sums; whether a ledger is off is ``ledger_balance``'s verdict (its failing rows:
off by LEDGER_TOLERANCE or more, checks/ledger_balance.sql), whether a transaction is off is
``transaction_balance``'s rule. The page decides nothing: it shows what these return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..check_names import LEDGER_BALANCE


@dataclass
class LedgerFlags:
    """ledger_balance's verdict, computed now by the check: the flagged (program, currency)
    pairs (its sample of failing rows, largest first), their true count, the check's status and
    why there is no verdict (error / unavailable), if so."""

    status: str
    count: int
    pairs: list[tuple[Any, Any]] = field(default_factory=list)
    problem: str | None = None

    @property
    def known(self) -> bool:
        return self.problem is None

    def flags(self, program_id: Any, currency: Any) -> bool:
        return (program_id, currency) in set(self.pairs)


def ledger_flags(result: Any) -> LedgerFlags:
    """The verdict of a ledger_balance result (None: the catalogue has no such check)."""
    if result is None:
        return LedgerFlags("error", 0, [], f"the catalogue has no {LEDGER_BALANCE} check")
    if result.status in ("error", "unavailable"):
        return LedgerFlags(result.status, 0, [], result.error or result.reason or result.status)
    pairs = [(r.get("program_id"), r.get("currency")) for r in result.rows]
    return LedgerFlags(result.status, int(result.failing_rows or 0), pairs)


def mark_balances(rows: list[dict], flags: LedgerFlags) -> list[dict]:
    """The balance rows, each with ``off``: True where ledger_balance flags the pair (None while
    the check has no verdict): the table's marks are the check's, tolerance included."""
    return [{**r, "off": flags.flags(r.get("program_id"), r.get("currency"))
             if flags.known else None} for r in rows]


def transaction_offsets(entries: list[dict]) -> dict[str, Decimal]:
    """Per currency, debits − credits of one transaction's entries, where not zero (the rule of
    checks/transaction_balance.sql: a transaction balances exactly, in every currency); exact
    at any size, NaN kept (it is not zero)."""
    from .journal import signed_totals

    return {c: d for c, d in signed_totals(entries).items() if d != 0}
