"""Data access for ``sge-recon bench``: the floors (what PostgreSQL itself needs for the work, with
nothing of ours around it) and a minute's worth of new ledger entries for the per-minute figure."""

from __future__ import annotations

import time

from sge_recon.db.connection import Database

# The floor of the ledger checks: one signed sum per program and currency over the whole ledger.
BALANCE_FLOOR = """
SELECT program_id, currency,
       sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference
FROM platform.ledger_entries GROUP BY program_id, currency
"""


def time_balance_floor(db: Database) -> tuple[float, int]:
    """Seconds and groups of the raw per-program balance over the whole ledger."""
    with db.connect(autocommit=True) as conn:
        started = time.perf_counter()
        rows = conn.execute(BALANCE_FLOOR).fetchall()
        return time.perf_counter() - started, len(rows)


def ledger_size(db: Database) -> int:
    return db.fetch_one("SELECT count(*) AS n FROM platform.ledger_entries")["n"]


def add_balanced_entries(db: Database, entries: int, tag: str) -> int:
    """``entries`` new ledger entries (debit/credit pairs) spread over the programs, as a minute of
    traffic would write them. Only for a benchmark's own database."""
    with db.transaction() as conn:
        return conn.execute(
            "INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount, "
            "currency) SELECT p.id, %(tag)s || g, CASE WHEN leg = 1 THEN 'treasury' "
            "ELSE 'user:bench' END, CASE WHEN leg = 1 THEN 'debit' ELSE 'credit' END, "
            "(1 + g %% 97)::numeric(38,6), p.currency "
            "FROM generate_series(1, %(pairs)s) g CROSS JOIN (VALUES (1), (2)) legs(leg) "
            "JOIN LATERAL (SELECT id, currency FROM public.programs ORDER BY id "
            "              OFFSET g %% (SELECT count(*) FROM public.programs) LIMIT 1) p ON true",
            {"tag": tag, "pairs": max(1, entries // 2)}).rowcount


def platform_size(db: Database) -> dict[str, int]:
    """Row counts that put benchmark figures in context."""
    return db.fetch_one("SELECT (SELECT count(*) FROM platform.settlement_intents) AS intents, "
                        "(SELECT count(*) FROM platform.ledger_entries) AS ledger_entries") or {}
