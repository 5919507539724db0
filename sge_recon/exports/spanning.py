"""The manifest's ``spanning_transactions``: the transactions a month's file cannot show balanced
because some of their entries lie in another month (a debit at 23:59:59 UTC, its credit at
00:00:01), found in the export's own snapshot.

A month's file holds only the month's entries: such a transaction is unbalanced in it although
the ledger balances (only transactions that balance over the whole ledger, per program and
currency, are listed). ``export verify`` judges every unbalanced transaction of the file (exit 1
when the transaction_balance check passed at export: "the file may have been altered"); the
manifest names each spanning one with this month's debits and credits, and verify accepts it
when the file gives exactly those figures (any other figure is still named). At most LIMIT are
listed: past that, the rest are judged as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..db import exports as store
from .period import Period

LIMIT = 10_000
NOTE = ("transactions with entries in other months too: unbalanced within this month's file, "
        "each listed with this month's debits and credits (export verify checks them)")


def spanning_transactions(snap: Any, ledger_file: Path,
                          period: Period) -> tuple[dict[str, Any], dict[str, Any]]:
    """The month's unbalanced transactions (from the written ledger file) that have entries
    outside the month and balance over the whole ledger (from ``snap``, the export's
    snapshot), with this month's figures. One that does not balance over all months is not
    listed: verify names it as before.

    Also the manifest's ``unbalanced_at_export``: how many unbalanced transactions the file
    holds besides the listed spanning ones, as written (the source ledger's own findings).
    verify counts them again: the same count is the books as they were (exit 2), another one
    an altered file, whatever a stored check said earlier (its result may predate them)."""
    count, rows = store.unbalanced_within_bound(ledger_file.parent, ledger_file.name, LIMIT)
    outside = snap.spanning_balanced(list({r["transaction_id"] for r in rows}),
                                     period.start, period.end) if rows else set()
    entries = [
        {"transaction_id": r["transaction_id"], "program_id": r["program_id"],
         "currency": r["currency"], "debits": format(r["debits"], "f"),
         "credits": format(r["credits"], "f")}
        for r in rows if r["transaction_id"] in outside]
    return {"note": NOTE, "entries": entries}, {
        "count": count - len(entries), "note": UNBALANCED_NOTE}


UNBALANCED_NOTE = ("unbalanced transactions of the ledger file besides spanning_transactions, "
                   "counted from the file as written: the source ledger's own (export verify "
                   "reports them as accounting findings, exit 2; another count means the file "
                   "was altered, exit 1)")
