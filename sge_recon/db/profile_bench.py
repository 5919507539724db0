"""Data access for ``sge-recon profile-bench``: the profile's views copied into plain tables of the
contract's shape (same rows), indexed like the contract platform, to time the same checks on both."""

from __future__ import annotations

from .connection import Database
from .relations import CONTRACT_TABLES, PROFILE_SCHEMA

COPY_SCHEMA = "bench_contract"

# The SGE platform's own indexes (its Prisma schema's @id/@unique/@@index), on the matching
# contract columns: the ratio then measures what the profile's expressions and joins cost, not
# which indexes one schema has and the other lacks.
_INDEXES = """
ALTER TABLE bench_contract.ledger_entries ADD PRIMARY KEY (id);
CREATE INDEX ON bench_contract.ledger_entries (program_id, account);
CREATE INDEX ON bench_contract.ledger_entries (transaction_id);
ALTER TABLE bench_contract.settlement_intents ADD PRIMARY KEY (id);
CREATE INDEX ON bench_contract.settlement_intents (program_id, status);
CREATE INDEX ON bench_contract.settlement_intents (status);
ALTER TABLE bench_contract.settlements ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX ON bench_contract.settlements (intent_id);
CREATE UNIQUE INDEX ON bench_contract.settlements (tx_hash);
ALTER TABLE bench_contract.commissions ADD PRIMARY KEY (id);
CREATE INDEX ON bench_contract.commissions (program_id, affiliate_id, status);
ALTER TABLE bench_contract.payout_batches ADD PRIMARY KEY (id);
CREATE INDEX ON bench_contract.payout_batches (program_id, status);
ALTER TABLE bench_contract.affiliates ADD PRIMARY KEY (id);
CREATE INDEX ON bench_contract.affiliates (parent_id);
ALTER TABLE bench_contract.programs ADD PRIMARY KEY (id);
ALTER TABLE bench_contract.users ADD PRIMARY KEY (id);
"""


def materialise_contract_copy(db: Database) -> None:
    """(Re)create schema bench_contract with one table per contract relation of the profile."""
    with db.transaction() as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {COPY_SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {COPY_SCHEMA}")
        for table in CONTRACT_TABLES:
            conn.execute(f'CREATE TABLE {COPY_SCHEMA}."{table}" AS '  # type: ignore[arg-type]
                         f'SELECT * FROM {PROFILE_SCHEMA}."{table}"')
        conn.execute(_INDEXES)  # type: ignore[arg-type]
    with db.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def ledger_rows(db: Database) -> int:
    return db.fetch_one("SELECT count(*) AS n FROM platform.ledger_entries")["n"]
