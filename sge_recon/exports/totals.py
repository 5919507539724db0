"""Control totals of the ledger per program and currency, computed from the export's own stream.

Summing the batches as they pass costs one small group-by per batch instead of a second scan of the
month. The sums run in a decimal context wide enough for 38-digit values: exact, never float.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

WIDE = decimal.Context(prec=80)
KEY_COLUMNS = ("program_id", "currency", "type", "amount")


@dataclass
class Totals:
    debits: Decimal = Decimal("0")
    credits: Decimal = Decimal("0")
    entry_count: int = 0


class ControlTotals:
    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], Totals] = {}

    def clear(self) -> None:
        """Forget what was added (a table that is read again from its start)."""
        self._by_key.clear()

    def add_table(self, table: "pa.Table") -> None:
        """Add one row group of ledger entries (one small group-by per row group)."""
        if table.num_rows == 0:
            return
        grouped = table.select(list(KEY_COLUMNS)).group_by(["program_id", "currency", "type"]).aggregate(
            [("amount", "sum"), ("amount", "count")])
        for row in grouped.to_pylist():  # a handful of rows: programs x currencies x 2
            self.add(row["program_id"], row["currency"], row["type"], row["amount_sum"],
                     row["amount_count"])

    def add(self, program_id: str, currency: str, kind: str, amount: Decimal, count: int) -> None:
        totals = self._by_key.setdefault((program_id, currency), Totals())
        if kind == "debit":
            totals.debits = WIDE.add(totals.debits, amount)
        elif kind == "credit":
            totals.credits = WIDE.add(totals.credits, amount)
        totals.entry_count += count

    def as_list(self) -> list[dict[str, Any]]:
        """Sorted by program and currency; money as decimal strings with 6 places."""
        return [{"program_id": program, "currency": currency,
                 "debits": money(t.debits), "credits": money(t.credits),
                 "difference": money(WIDE.subtract(t.debits, t.credits)),
                 "entry_count": t.entry_count}
                for (program, currency), t in sorted(self._by_key.items())]


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.000001"), context=WIDE))
