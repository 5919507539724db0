"""The ledger as the console's Ledger page reads it: balances per program and currency, the
transactions that do not balance, one transaction's entries, and the programs; and when the
ledger starts (the monthly export's first month).

The page's functions take an open connection (one transaction per page load or action)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from ..money import money_add, money_subtract
from .ledger_order import keyed_sql
from .relations import CONTRACT_RELATIONS, PlatformRelations
from .rows import all_rows

if TYPE_CHECKING:
    from .snapshot import Reader


# The checkpoint's per program/currency totals (recon.ledger_checkpoint_totals, kept by the
# incremental checks up to the watermark), when the checkpoint counts in this platform's ledger
# order: one statement, so the watermark and the totals are of the same instant.
_CHECKPOINT_TOTALS = """
    SELECT c.watermark, t.program_id, t.currency, t.total_debits, t.total_credits, t.entries
    FROM recon.ledger_checkpoint c
    LEFT JOIN recon.ledger_checkpoint_totals t ON true
    WHERE c.ordered_by = %(order)s"""

# The entries above the watermark (an index range of the ledger's order key; the whole ledger
# when there is no checkpoint yet).
_ENTRIES_ABOVE = """
    SELECT program_id, currency,
           coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0) AS total_debits,
           coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0) AS total_credits,
           count(*) AS entries
    FROM platform.ledger_entries
    WHERE id > %(watermark)s
    GROUP BY program_id, currency"""


def ledger_balances(conn, relations: PlatformRelations = CONTRACT_RELATIONS) -> list[dict]:
    """Debits, credits, their difference and the number of entries per program and currency:
    the checkpoint's totals plus the entries added since, the sums that the per-minute
    ``ledger_balance`` (its incremental form) judges, so the page's figures and its verdict agree.
    Exact at any watermark: an entry is either in the totals (id <= watermark, read in the same
    statement as the watermark) or above it. A past row changed after it was checkpointed is
    tampering, which ``ledger_tamper`` (the daily run) reports; summing the whole ledger on every
    page load took 3–5 s at 10 M entries, this takes milliseconds."""
    totals = all_rows(conn, _CHECKPOINT_TOTALS, {"order": relations.ledger_order})
    watermark = totals[0]["watermark"] if totals else 0
    parts = [r for r in totals if r["entries"] is not None]  # not the LEFT JOIN's empty row
    parts += all_rows(conn, keyed_sql(_ENTRIES_ABOVE, relations), {"watermark": watermark})
    names = {p["id"]: p["name"] for p in all_rows(conn, "SELECT id, name FROM platform.programs")}
    merged: dict[tuple, dict] = {}
    for r in parts:
        key = (r["program_id"], r["currency"])
        m = merged.setdefault(key, {"program_id": r["program_id"],
                                    "program_name": names.get(r["program_id"]),
                                    "currency": r["currency"], "total_debits": Decimal(0),
                                    "total_credits": Decimal(0), "difference": Decimal(0),
                                    "entries": 0})
        # exact at any size, Inf - Inf NaN as in SQL (Python's default context keeps 28 digits
        # and raises there)
        m["total_debits"] = money_add(m["total_debits"], r["total_debits"])
        m["total_credits"] = money_add(m["total_credits"], r["total_credits"])
        m["difference"] = money_subtract(m["total_debits"], m["total_credits"])
        m["entries"] += r["entries"]
    return sorted((m for m in merged.values() if m["entries"]),
                  key=lambda r: (r["program_id"] is None, r["program_id"] or "",
                                 r["currency"] is None, r["currency"] or ""))


# The transactions that can be out of balance in one currency: those the checkpoint holds as
# unbalanced at its watermark (recon.ledger_checkpoint_unbalanced, transaction_balance's rows
# kept by the incremental checks; any program: a transaction is filed under its first program)
# and those with an entry of the program and currency above the watermark (an index range).
_CANDIDATES = """
    SELECT u.transaction_id FROM recon.ledger_checkpoint_unbalanced u
    WHERE u.currency = %(currency)s
      AND EXISTS (SELECT 1 FROM recon.ledger_checkpoint c WHERE c.ordered_by = %(order)s)
    UNION
    SELECT transaction_id FROM platform.ledger_entries
    WHERE id > %(watermark)s AND program_id = %(program)s AND currency = %(currency)s"""

_UNBALANCED = """
    SELECT transaction_id, min(created_at) AS created_at, count(*) AS entries,
           sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference
    FROM platform.ledger_entries
    WHERE transaction_id = ANY(%(candidates)s) AND program_id = %(program)s
      AND currency = %(currency)s
    GROUP BY transaction_id
    HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
    ORDER BY min(created_at) DESC LIMIT %(limit)s"""


def unbalanced_transactions(conn, program_id: str, currency: str, limit: int,
                            relations: PlatformRelations = CONTRACT_RELATIONS) -> list[dict]:
    """Journal transactions of one program/currency whose entries do not balance, recomputed
    exactly from their entries (the transaction_id index), among the candidates the checkpoint
    gives: at 10 M entries the scan of a program's entries took 1.5–2 s for each flagged pair,
    this reads the checkpoint and the entries since. Without a checkpoint every entry of the
    pair is a candidate (the scan, as before). Not listed: a transaction that balances as a
    whole but whose legs are filed under different programs (transaction_balance does not flag
    it either); the pair's sums above still count it."""
    # The watermark first: should it move before the candidates are read, the unbalanced set is
    # of the newer watermark and the entries above the older one are a superset: none is missed.
    found = all_rows(conn, "SELECT watermark FROM recon.ledger_checkpoint WHERE ordered_by = %s",
                     (relations.ledger_order,))
    params = {"program": program_id, "currency": currency, "limit": limit,
              "order": relations.ledger_order,
              "watermark": found[0]["watermark"] if found else 0}
    params["candidates"] = [r["transaction_id"] for r in all_rows(
        conn, keyed_sql(_CANDIDATES, relations), params)]
    if not params["candidates"]:
        return []
    return all_rows(conn, _UNBALANCED, params)


def transaction_entries(conn, transaction_id: str) -> list[dict]:
    return all_rows(conn, """
        SELECT id, program_id, transaction_id, intent_id, account, type, amount, currency,
               created_at
        FROM platform.ledger_entries WHERE transaction_id = %s ORDER BY id""", (transaction_id,))


def programs(conn) -> list[dict]:
    return all_rows(conn, "SELECT id, name, currency FROM platform.programs ORDER BY id")


def first_ledger_entry_at(db: Reader) -> datetime | None:
    row = db.fetch_one("SELECT min(created_at) AS at FROM platform.ledger_entries")
    return row["at"] if row else None
