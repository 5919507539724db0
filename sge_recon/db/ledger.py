"""The ledger as the console's Ledger page reads it: balances per program and currency, the
transactions that do not balance, one transaction's entries, and the programs; and when the
ledger starts (the monthly export's first month).

The page's functions take an open connection (one transaction per page load or action)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .rows import all_rows

if TYPE_CHECKING:
    from .snapshot import Reader


def ledger_balances(conn) -> list[dict]:
    return all_rows(conn, """
        SELECT l.program_id, p.name AS program_name, l.currency,
               sum(l.amount) FILTER (WHERE l.type = 'debit') AS total_debits,
               sum(l.amount) FILTER (WHERE l.type = 'credit') AS total_credits,
               sum(CASE WHEN l.type = 'debit' THEN l.amount ELSE -l.amount END) AS difference,
               count(*) AS entries
        FROM platform.ledger_entries l LEFT JOIN platform.programs p ON p.id = l.program_id
        GROUP BY l.program_id, p.name, l.currency ORDER BY l.program_id, l.currency""")


def unbalanced_transactions(conn, program_id: str, currency: str, limit: int) -> list[dict]:
    """Journal transactions of one program/currency whose entries do not balance."""
    return all_rows(conn, """
        SELECT transaction_id, min(created_at) AS created_at, count(*) AS entries,
               sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference
        FROM platform.ledger_entries WHERE program_id = %s AND currency = %s
        GROUP BY transaction_id
        HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
        ORDER BY min(created_at) DESC LIMIT %s""", (program_id, currency, limit))


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
