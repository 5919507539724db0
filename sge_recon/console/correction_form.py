"""The ledger correction form: its rows checked (balanced per currency, amounts exact) into
the entries a correction posts; each problem names the row and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import UsageError
from ..money import MONEY
from .journal import signed_totals


@dataclass(frozen=True)
class CorrectionEntry:
    account: str
    type: str
    amount: Decimal
    currency: str

    def to_json(self) -> dict[str, str]:
        return {"account": self.account, "type": self.type, "amount": str(self.amount),
                "currency": self.currency}


def parse_correction(reason: str, rows: list[dict[str, Any]]) -> tuple[str, list[CorrectionEntry]]:
    """The correction form: a reason (kept with the entry) and balanced entries."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise UsageError("type the reason for the correction; it is kept with the entry")
    return reason, parse_correction_entries(rows)


def parse_correction_entries(rows: list[dict[str, Any]],
                             completing: dict[str, Decimal] | None = None) -> list[CorrectionEntry]:
    """Validate the correction form's rows; each problem names the row and how to fix it.
    ``completing``: the debits − credits per currency of the unbalanced transaction the entries
    complete (they must balance together with it, and may be one-sided)."""
    entries = []
    for number, row in enumerate(rows, start=1):
        account = str(row.get("account") or "").strip()
        kind = str(row.get("type") or "").strip().lower()
        currency = str(row.get("currency") or "").strip().upper()
        raw = str(row.get("amount") if row.get("amount") is not None else "").strip()
        if not account and not raw:
            continue  # an empty row of the editor
        if not account:
            raise UsageError(f"entry {number}: the account is empty; use e.g. treasury or "
                             "affiliate:<id>")
        if kind not in ("debit", "credit"):
            raise UsageError(f"entry {number}: type must be debit or credit, got {kind or 'nothing'}")
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise UsageError(f"entry {number}: amount {raw!r} is not a number; type it like "
                             "12.50") from None
        if not amount.is_finite() or amount <= 0:
            raise UsageError(f"entry {number}: amount must be greater than zero, got {raw}")
        if amount.adjusted() >= 32:  # past numeric(38,6); and no 100-digit quantize of 1e200
            raise UsageError(f"entry {number}: amount {raw} has more than 32 digits before the "
                             "decimal point, more than the ledger's numeric(38,6) holds")
        if amount != MONEY.quantize(amount, Decimal("0.000001")):
            raise UsageError(f"entry {number}: amount {raw} has more than 6 decimals")
        if not currency:
            raise UsageError(f"entry {number}: the currency is empty; use e.g. USD")
        entries.append(CorrectionEntry(account, kind, amount, currency))
    if not entries or (completing is None and len(entries) < 2):
        raise UsageError("a correction needs at least one debit and one credit entry"
                         if completing is None else "a correction needs at least one entry")
    totals = signed_totals([vars(e) for e in entries], start=completing)
    unbalanced = {c: d for c, d in totals.items() if d != 0}
    if unbalanced:
        raise UsageError("the correction does not balance: " + ", ".join(
            f"{c} debits exceed credits by {d}" if d > 0 else f"{c} credits exceed debits by {-d}"
            for c, d in sorted(unbalanced.items())) + "; make debits equal credits per currency"
            + (" (together with the transaction it completes)" if completing else ""))
    return entries
