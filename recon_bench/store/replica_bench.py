"""Data access for ``sge-recon replica-bench``: what a server did, from its own statistics."""

from __future__ import annotations

from sge_recon.db.connection import Database

_ACTIVITY = """
SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database
        WHERE datname = current_database()) AS transactions,
       (SELECT tup_returned + tup_fetched FROM pg_stat_database
        WHERE datname = current_database()) AS tuples_read,
       (SELECT blks_hit + blks_read FROM pg_stat_database
        WHERE datname = current_database()) AS blocks,
       (SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0)
        FROM pg_stat_user_tables WHERE schemaname = 'public') AS platform_scans
"""


def activity(db: Database) -> dict[str, int]:
    """Cumulative counters of the server's work in this database (pg_stat_database and the
    platform tables' scans). Forces this session's own pending statistics out first."""
    with db.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(_ACTIVITY).fetchone()
    return {k: int(v or 0) for k, v in row.items()}


def remove_entries_tagged(db: Database, prefix: str) -> int:
    """Delete the ledger entries a write-load phase added (their transaction ids start with
    ``prefix``), so that the next run reuses the same ledger. Only for a benchmark's database."""
    with db.transaction() as conn:
        return conn.execute("DELETE FROM platform.ledger_entries WHERE transaction_id LIKE %s",
                            (prefix.replace("%", r"\%").replace("_", r"\_") + "%",)).rowcount
