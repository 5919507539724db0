"""Data access for ``sge-recon profile-bench``: the profile's views copied into plain tables of the
contract's shape (same rows), indexed like the contract platform, to time the same checks on both."""

from __future__ import annotations

from sge_recon.db.connection import Database
from sge_recon.db.profile_views import is_helper_column
from sge_recon.db.relations import PROFILE_SCHEMA, PROFILE_TABLES

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
        for table in PROFILE_TABLES:
            # the contract's columns (and the profile's extra ones), not the views' helper
            # columns: a contract table would not carry them, and they widen every row
            columns = ", ".join(f'"{r["column_name"]}"' for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s ORDER BY ordinal_position", (PROFILE_SCHEMA, table))
                if not is_helper_column(r["column_name"]))
            conn.execute(f'CREATE TABLE {COPY_SCHEMA}."{table}" AS '  # type: ignore[arg-type]
                         f'SELECT {columns} FROM {PROFILE_SCHEMA}."{table}"')
        conn.execute(_INDEXES)  # type: ignore[arg-type]
        # readable like the platform: the checks run as sge_recon_readonly where it exists
        conn.execute("DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                     "'sge_recon_readonly') THEN GRANT USAGE ON SCHEMA bench_contract TO "
                     "sge_recon_readonly; GRANT SELECT ON ALL TABLES IN SCHEMA bench_contract TO "
                     "sge_recon_readonly; END IF; END $$")
    with db.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def ledger_rows(db: Database) -> int:
    return db.fetch_one("SELECT count(*) AS n FROM platform.ledger_entries")["n"]


# What docs/profiles.md recommends to an SGE DBA (a platform change sge-recon never makes itself):
# an index on the journal key the profile groups by, and one on the entries' time the checkpoint
# ranges over. The benchmark times everything without them and, with --recommended-indexes, with.
_RECOMMENDED_INDEXES = {
    "sge_recon_bench_journal_key": """("refType" || ':' || "refId")""",
    "sge_recon_bench_created_utc": """("createdAt" AT TIME ZONE INTERVAL '00:00')""",
}


def set_recommended_indexes(db: Database, present: bool) -> None:
    with db.connect(autocommit=True) as conn:
        for name, expression in _RECOMMENDED_INDEXES.items():
            if present:
                conn.execute(f'CREATE INDEX IF NOT EXISTS {name} ON "LedgerEntry" '  # type: ignore[arg-type]
                             f"(({expression}))")
            else:
                conn.execute(f"DROP INDEX IF EXISTS {name}")  # type: ignore[arg-type]
        conn.execute('ANALYZE "LedgerEntry"')


_MINUTE_OF_ENTRIES = """
INSERT INTO "LedgerEntry" (id, "programId", account, counterparty, amount, currency, "refType",
                           "refId", "createdAt")
SELECT (%(ids)s::text[])[(g - 1) * 2 + leg], p.id,
       CASE leg WHEN 1 THEN 'program:' || p.id || ':treasury' ELSE 'program:' || p.id || ':revenue' END,
       'system:bench', CASE leg WHEN 1 THEN 1 ELSE -1 END * (1 + g %% 97), 'USD', 'ADJUSTMENT',
       %(tag)s || g, (now() AT TIME ZONE 'UTC')::timestamp(3)
FROM generate_series(1, %(pairs)s) g CROSS JOIN (VALUES (1), (2)) legs(leg)
JOIN LATERAL (SELECT id FROM "Program" ORDER BY id
              OFFSET g %% (SELECT count(*) FROM "Program") LIMIT 1) p ON true
"""


def add_minute_of_entries(db: Database, entries: int, tag: str) -> int:
    """A minute of new SGE ledger entries (balanced ADJUSTMENT pairs, stamped now, cuid ids), as
    the platform's services would write them. Only for the benchmark's own database."""
    from refplatform.sge_store import cuid

    pairs = max(1, entries // 2)
    with db.transaction() as conn:
        return conn.execute(_MINUTE_OF_ENTRIES, {"tag": tag, "pairs": pairs,
                                                 "ids": [cuid() for _ in range(pairs * 2)]}
                            ).rowcount
