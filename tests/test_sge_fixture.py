"""The SGE-shaped stand-in (refplatform/sql/sge/, refplatform/sge_platform.py) against real PostgreSQL.

Every assertion is plain SQL written here, independent of the generator's SQL: the shape of the
catalogue (Prisma names, enum labels, types, FKs), the ledger conventions of the SGE services, and
each planted fault found by an ordinary query exactly at the identities the load reports.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from refplatform.sge_platform import (
    FAULT_CHECKS,
    SGE_EXTRA_FAULTS,
    SGE_FAULTS,
    SGE_TABLES,
    create_sge_schema,
    describe_report,
    load_sge_platform,
    reset_sge_platform,
)
from sge_recon.db import Database

AS_OF = datetime(2026, 11, 20, 12, 0, 0)

# ../shared/SGE_PLATFORM.md, verbatim
ENUMS = {
    "ProgramStatus": ["ACTIVE", "PAUSED", "ARCHIVED"],
    "AffiliateStatus": ["PENDING", "ACTIVE", "SUSPENDED", "TERMINATED"],
    "IntentType": ["REGISTER", "CLAIM", "COMMERCE_PAYMENT", "PAYOUT"],
    "IntentStatus": ["PENDING", "PROCESSING", "CONFIRMED", "FAILED", "EXPIRED"],
    "SettlementStatus": ["PENDING", "CONFIRMED", "FAILED", "REVERSED"],
    "CommissionStatus": ["ACCRUED", "PAYABLE", "PAID", "CANCELLED"],
    "PayoutStatus": ["PENDING", "APPROVED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"],
}


# ---------------------------------------------------------------- independent checks (plain SQL)
# Each returns the identities a check of that kind must report, as the load reports them.

def q_unbalanced_journals(db: Database) -> set[str]:
    return {r["k"] for r in db.fetch_all(
        """SELECT "refType" || ':' || "refId" AS k FROM "LedgerEntry"
           GROUP BY "refType", "refId", "currency" HAVING sum("amount") <> 0""")}


def q_program_imbalance(db: Database) -> set[tuple]:
    return {(r["programId"], r["currency"], r["diff"]) for r in db.fetch_all(
        """SELECT "programId", "currency", sum("amount") AS diff FROM "LedgerEntry"
           GROUP BY "programId", "currency" HAVING abs(sum("amount")) >= 0.01""")}


def q_stuck_intents(db: Database, as_of: datetime) -> set[str]:
    return {r["id"] for r in db.fetch_all(
        """SELECT "id" FROM "Intent" WHERE "status" IN ('PENDING', 'PROCESSING')
             AND "updatedAt" < %s - interval '10 minutes'""", (as_of,))}


def q_payout_sla(db: Database, as_of: datetime) -> set[str]:
    return {r["id"] for r in db.fetch_all(
        """SELECT "id" FROM "PayoutBatch"
           WHERE ("status" = 'PENDING' AND "createdAt" < %(t)s - interval '24 hours')
              OR ("status" = 'APPROVED' AND "executedAt" IS NULL
                  AND "approvedAt" < %(t)s - interval '24 hours')""", {"t": as_of})}


def q_affiliate_cycles(db: Database) -> set[str]:
    return {r["id"] for r in db.fetch_all(
        """WITH RECURSIVE up(start, cur, steps) AS (
               SELECT "id", "parentId", 1 FROM "Affiliate" WHERE "parentId" IS NOT NULL
               UNION ALL
               SELECT up.start, a."parentId", up.steps + 1
               FROM up JOIN "Affiliate" a ON a."id" = up.cur
               WHERE up.cur <> up.start AND a."parentId" IS NOT NULL AND up.steps < 100)
           SELECT DISTINCT start AS id FROM up WHERE cur = start""")}


def q_cross_program(db: Database) -> set[str]:
    return {r["id"] for r in db.fetch_all(
        """SELECT c."id" FROM "Affiliate" c JOIN "Affiliate" p ON p."id" = c."parentId"
           WHERE p."programId" <> c."programId" """)}


def q_commission_rate(db: Database) -> set[str]:
    return {r["id"] for r in db.fetch_all(
        """SELECT c."id" FROM "Commission" c JOIN "Program" p ON p."id" = c."programId"
           WHERE c."rate" <> CASE c."commissionType" WHEN 'DIRECT' THEN p."directCommissionPct"
                                                     ELSE p."overrideCommissionPct" END""")}


def q_commission_amount(db: Database) -> set[str]:
    return {r["id"] for r in db.fetch_all(
        """SELECT "id" FROM "Commission" WHERE "amount" <> round("baseAmount" * "rate" / 100, 2)""")}


def q_commission_ledger(db: Database) -> set[str]:
    return {r["id"] for r in db.fetch_all(
        """WITH c AS (SELECT "affiliateId" AS id, sum("amount") AS total FROM "Commission"
                      GROUP BY 1),
                l AS (SELECT split_part("account", ':', 2) AS id, -sum("amount") AS credits
                      FROM "LedgerEntry"
                      WHERE "account" LIKE 'affiliate:%%:liability' AND "amount" < 0
                      GROUP BY 1)
           SELECT coalesce(c.id, l.id) AS id FROM c FULL JOIN l ON l.id = c.id
           WHERE coalesce(c.total, 0) <> coalesce(l.credits, 0)""")}


def q_mean_processing_seconds(db: Database) -> Decimal:
    return db.fetch_one(
        """SELECT round(avg(extract(epoch FROM "completedAt" - "createdAt")), 3) AS s
           FROM (SELECT "createdAt", "completedAt" FROM "Intent" WHERE "status" = 'CONFIRMED'
                 ORDER BY "completedAt" DESC LIMIT 100) x""")["s"]


def q_unverified_settlements(db: Database) -> set[str]:
    return {r["id"] for r in db.fetch_all(
        """SELECT "id" FROM "Settlement" WHERE "status" = 'CONFIRMED' AND NOT "verified" """)}


def findings(db: Database, as_of: datetime) -> dict[str, set]:
    """fault name -> what its independent check finds (the mean is reported only when slow)."""
    mean = q_mean_processing_seconds(db)
    return {
        "ledger_imbalance": q_program_imbalance(db),
        "unbalanced_transaction": q_unbalanced_journals(db),
        "stuck_intents": q_stuck_intents(db, as_of),
        "payout_sla": q_payout_sla(db, as_of),
        "affiliate_cycle": q_affiliate_cycles(db),
        "affiliate_cross_program": q_cross_program(db),
        "commission_rate": q_commission_rate(db),
        "commission_amount": q_commission_amount(db),
        "commission_ledger_drift": q_commission_ledger(db),
        "slow_processing": {mean} if mean > 15 else set(),
        "settlement_unverified": q_unverified_settlements(db),
    }


def fingerprint(db: Database) -> dict[str, str]:
    """One md5 per table over all its rows in id order."""
    out = {}
    for table in SGE_TABLES:
        out[table] = db.fetch_one(
            f'SELECT md5(coalesce(string_agg(t::text, \'|\' ORDER BY t."id"), \'\')) AS h '
            f'FROM "{table}" t')["h"]
    return out


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def clean(module_db_url) -> Database:
    db = Database(module_db_url)
    create_sge_schema(db)
    load_sge_platform(db, intents=3000, seed=7, as_of=AS_OF)
    return db


@pytest.fixture(scope="module")
def all_faults(new_database):
    db = Database(new_database())
    create_sge_schema(db)
    report = load_sge_platform(db, intents=3000, seed=11, as_of=AS_OF,
                               faults=[*SGE_FAULTS, *SGE_EXTRA_FAULTS])
    return db, report


# ---------------------------------------------------------------- the catalogue

def test_enum_types_have_exactly_the_facts_labels(clean):
    rows = clean.fetch_all(
        """SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
           FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
           JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'public' GROUP BY t.typname""")
    found = {r["typname"]: r["labels"] for r in rows}
    for name, labels in ENUMS.items():
        assert found[name] == labels


def test_columns_are_prisma_shaped(clean):
    cols = clean.fetch_all(
        """SELECT table_name, column_name, data_type, udt_name, datetime_precision,
                  numeric_precision, numeric_scale, column_default, is_nullable
           FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name = ANY(%s)""", (list(SGE_TABLES),))
    by = {(c["table_name"], c["column_name"]): c for c in cols}
    assert {t for t, _ in by} == set(SGE_TABLES)
    times = [c for c in cols if c["data_type"].startswith("timestamp")]
    assert times and all(c["data_type"] == "timestamp without time zone"
                         and c["datetime_precision"] == 3 for c in times)
    for table in SGE_TABLES:
        assert by[(table, "id")]["data_type"] == "text"
        assert "CURRENT_TIMESTAMP" in by[(table, "createdAt")]["column_default"]
        if (table, "updatedAt") in by:
            assert by[(table, "updatedAt")]["column_default"] is None
            assert by[(table, "updatedAt")]["is_nullable"] == "NO"
    for money in [("LedgerEntry", "amount"), ("Settlement", "amount"), ("Commission", "amount"),
                  ("Commission", "baseAmount"), ("PayoutBatch", "totalAmount"),
                  ("Payout", "amount"), ("Program", "feeUsd")]:
        assert (by[money]["numeric_precision"], by[money]["numeric_scale"]) == (18, 6), money
    for pct in [("Program", "directCommissionPct"), ("Program", "overrideCommissionPct"),
                ("Commission", "rate")]:
        assert (by[pct]["numeric_precision"], by[pct]["numeric_scale"]) == (5, 2), pct
    assert by[("LedgerEntry", "currency")]["column_default"].startswith("'USD'")
    assert by[("Settlement", "blockNumber")]["data_type"] == "bigint"
    assert by[("Intent", "status")]["udt_name"] == "IntentStatus"
    assert by[("Intent", "payload")]["data_type"] == "jsonb"
    for absent in [("Intent", "amount"), ("Intent", "currency"), ("Intent", "userId"),
                   ("LedgerEntry", "type"), ("LedgerEntry", "transactionId"),
                   ("Program", "currency")]:
        assert absent not in by, absent


def test_foreign_keys_and_unique_constraints(clean):
    fks = {(r["tbl"], r["col"], r["ref"]) for r in clean.fetch_all(
        """SELECT c.conrelid::regclass::text AS tbl, a.attname AS col,
                  c.confrelid::regclass::text AS ref
           FROM pg_constraint c JOIN pg_attribute a
             ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace""")}
    for fk in [('"Affiliate"', "parentId", '"Affiliate"'), ('"User"', "referredById", '"Affiliate"'),
               ('"Settlement"', "intentId", '"Intent"'), ('"Commission"', "settlementId", '"Settlement"'),
               ('"Commission"', "payoutId", '"Payout"'), ('"Payout"', "batchId", '"PayoutBatch"'),
               ('"LedgerEntry"', "settlementId", '"Settlement"'), ('"Intent"', "programId", '"Program"')]:
        assert fk in fks, fk
    uniques = {r["indexname"] for r in clean.fetch_all(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE 'CREATE UNIQUE%%'")}
    assert {"Intent_idempotencyKey_key", "Settlement_txHash_key", "Settlement_intentId_key",
            "User_programId_wallet_key"} <= uniques
    indexes = {r["indexname"] for r in clean.fetch_all(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert {"LedgerEntry_refType_refId_idx", "LedgerEntry_programId_account_idx",
            "Intent_status_nextRetryAt_idx", "Commission_settlementId_idx"} <= indexes
    # the FK makes an orphan parent impossible
    with pytest.raises(Exception, match="foreign key"):
        clean.execute("""UPDATE "Affiliate" SET "parentId" = 'no-such-affiliate'
                         WHERE "id" = (SELECT min("id") FROM "Affiliate")""")


def test_ddl_rerun_is_harmless(clean):
    before = clean.fetch_one('SELECT count(*) AS n FROM "LedgerEntry"')["n"]
    create_sge_schema(clean)
    create_sge_schema(clean)
    assert clean.fetch_one('SELECT count(*) AS n FROM "LedgerEntry"')["n"] == before


def catalogue(db: Database) -> dict[str, set]:
    """Every index and constraint of the SGE tables, with its definition."""
    tables = [f'"{t}"' for t in SGE_TABLES]
    return {
        "indexes": {(r["indexname"], r["indexdef"]) for r in db.fetch_all(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND quote_ident(tablename) = ANY(%s)", (tables,))},
        "constraints": {(r["conname"], r["def"], r["convalidated"]) for r in db.fetch_all(
            "SELECT conname, pg_get_constraintdef(oid) AS def, convalidated FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text = ANY(%s)",
            (tables,))},
    }


def test_the_bulk_load_leaves_every_index_and_foreign_key_as_the_ddl_made_them(clean, new_database):
    bare = Database(new_database())
    create_sge_schema(bare)
    want = catalogue(bare)
    assert len(want["indexes"]) >= 40 and len(want["constraints"]) >= 29
    assert catalogue(clean) == want


def test_a_second_load_is_refused_until_reset(clean):
    with pytest.raises(ValueError, match="reset_sge_platform"):
        load_sge_platform(clean, intents=300, seed=7, as_of=AS_OF)


def test_beside_the_contract_tables_the_relayer_jobs_is_left_alone(clean):
    # the template database holds the §4 contract tables, whose `jobs` has no `type` column
    cols = {r["column_name"] for r in clean.fetch_all(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 'jobs'")}
    assert "queue" in cols and "type" not in cols


def test_on_an_empty_database_the_relayer_jobs_table_is_created_and_filled(new_database):
    db = Database(new_database(empty=True))
    create_sge_schema(db)
    create_sge_schema(db)
    report = load_sge_platform(db, intents=300, seed=3, as_of=AS_OF)
    jobs = db.fetch_all("SELECT status, count(*) AS n FROM jobs GROUP BY status")
    assert {r["status"] for r in jobs} <= {"pending", "processing", "done", "failed"}
    assert sum(r["n"] for r in jobs) >= 10
    assert report.counts["Intent"] == 300
    reset_sge_platform(db)
    assert db.fetch_one("SELECT count(*) AS n FROM jobs")["n"] == 0
    assert db.fetch_one('SELECT count(*) AS n FROM "Program"')["n"] == 0


# ---------------------------------------------------------------- clean data as the services write it

def test_clean_data_has_no_findings(clean):
    assert all(not found for found in findings(clean, AS_OF).values()), findings(clean, AS_OF)


def test_every_journal_and_program_sums_to_zero_with_signed_pairs(clean):
    assert clean.fetch_one("""SELECT count(*) AS n FROM (SELECT 1 FROM "LedgerEntry"
        GROUP BY "refType", "refId", "currency" HAVING sum("amount") <> 0) x""")["n"] == 0
    assert clean.fetch_all("""SELECT "programId" FROM "LedgerEntry" GROUP BY "programId"
                              HAVING sum("amount") <> 0""") == []
    row = clean.fetch_one(
        """SELECT count(*) FILTER (WHERE "amount" > 0) AS debits,
                  count(*) FILTER (WHERE "amount" < 0) AS credits,
                  count(*) FILTER (WHERE "amount" = 0) AS zeros,
                  count(*) FILTER (WHERE "currency" <> 'USD') AS other_currency,
                  count(DISTINCT "refType") AS ref_types
           FROM "LedgerEntry" """)
    assert row["debits"] > 0 and row["credits"] > 0 and row["zeros"] == 0
    assert row["other_currency"] == 0 and row["ref_types"] == 3  # SETTLEMENT, COMMISSION, PAYOUT
    # accounts follow the services' naming, the program's own accounts carry its id
    bad = clean.fetch_all(
        """SELECT "account" FROM "LedgerEntry"
           WHERE NOT ("account" ~ '^program:[a-z0-9]{25}:(treasury|revenue|commission_expense)$'
                   OR "account" ~ '^affiliate:[a-z0-9]{25}:(liability|paid)$'
                   OR "account" ~ '^user:[a-z0-9]{25}:claims$'
                   OR "account" IN ('system:suspense', 'system:fees'))
              OR ("account" LIKE 'program:%%' AND split_part("account", ':', 2) <> "programId")
           LIMIT 5""")
    assert bad == []
    kinds = {r["account"] for r in clean.fetch_all(
        """SELECT DISTINCT regexp_replace("account", ':[a-z0-9]{25}:', ':<id>:') AS account
           FROM "LedgerEntry" """)}
    assert kinds == {"program:<id>:treasury", "program:<id>:revenue",
                     "program:<id>:commission_expense", "affiliate:<id>:liability",
                     "affiliate:<id>:paid", "user:<id>:claims", "system:suspense", "system:fees"}


def test_confirmed_intents_have_a_settlement_and_its_journal(clean):
    row = clean.fetch_one(
        """SELECT count(*) FILTER (WHERE i."status" = 'CONFIRMED') AS confirmed,
                  count(*) FILTER (WHERE i."status" = 'CONFIRMED' AND (s."id" IS NULL
                      OR s."status" <> 'CONFIRMED' OR i."completedAt" IS NULL)) AS missing,
                  count(*) FILTER (WHERE i."status" <> 'CONFIRMED' AND s."id" IS NOT NULL) AS extra,
                  count(*) FILTER (WHERE i."status" = 'CONFIRMED' AND NOT EXISTS (
                      SELECT 1 FROM "LedgerEntry" e WHERE e."refType" = 'SETTLEMENT'
                        AND e."refId" = s."id" AND e."settlementId" = s."id")) AS no_journal,
                  count(*) FILTER (WHERE s."programId" <> i."programId"
                                      OR s."wallet" <> i."wallet") AS mismatched
           FROM "Intent" i LEFT JOIN "Settlement" s ON s."intentId" = i."id" """)
    assert row["confirmed"] > 0.9 * 3000
    assert (row["missing"], row["extra"], row["no_journal"], row["mismatched"]) == (0, 0, 0, 0)
    # a settlement journal's debit is the settlement amount
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "Settlement" s
           WHERE s."amount" <> (SELECT sum(e."amount") FROM "LedgerEntry" e
                                WHERE e."refType" = 'SETTLEMENT' AND e."refId" = s."id"
                                  AND e."amount" > 0)""")["n"] == 0


def test_intents_cover_every_type_and_status_and_live_ones_are_recent(clean):
    seen = clean.fetch_all('SELECT DISTINCT "type"::text AS t, "status"::text AS s FROM "Intent"')
    assert {r["t"] for r in seen} == set(ENUMS["IntentType"])
    assert {r["s"] for r in seen} == set(ENUMS["IntentStatus"])
    live = clean.fetch_one(
        """SELECT count(*) AS n, min("updatedAt") AS oldest,
                  count(*) FILTER (WHERE "status" = 'PROCESSING' AND "lockedBy" IS NULL) AS unlocked
           FROM "Intent" WHERE "status" IN ('PENDING', 'PROCESSING')""")
    assert live["n"] >= 2 and live["oldest"] > AS_OF - timedelta(minutes=6)
    assert live["unlocked"] == 0
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "Intent" WHERE "status" IN ('FAILED', 'EXPIRED')
             AND ("errorMessage" IS NULL OR "completedAt" IS NOT NULL)""")["n"] == 0


def test_intents_look_as_intent_service_writes_them(clean):
    row = clean.fetch_one(
        """SELECT count(*) FILTER (WHERE "idempotencyKey" NOT LIKE
                      CASE "type" WHEN 'REGISTER' THEN 'register:' || "programId" || ':' || "wallet"
                                  WHEN 'CLAIM' THEN 'claim:' || "programId" || ':' || "wallet" || ':%%'
                                  WHEN 'COMMERCE_PAYMENT' THEN 'commerce:' || "programId" || ':' || "wallet" || ':%%'
                                  ELSE 'payout:' || "programId" || ':' || ("payload"->>'affiliateId') || ':%%' END)
                      AS bad_keys,
                  count(*) FILTER (WHERE "wallet" <> lower("wallet")) AS upper_wallets,
                  count(*) FILTER (WHERE "status" = 'PENDING' AND "attempts" > 0) AS retries,
                  count(*) FILTER (WHERE "status" = 'PENDING' AND "attempts" > 0 AND ("errorMessage" IS NULL
                      OR "nextRetryAt" <> "lastAttemptAt" + power(2, "attempts") * interval '1 second')) AS bad_retries,
                  count(*) FILTER (WHERE "status" = 'PROCESSING' AND
                      "lockedUntil" <> "lastAttemptAt" + interval '5 minutes') AS bad_locks,
                  count(*) FILTER (WHERE "status" = 'CONFIRMED' AND ("lockedBy" IS NOT NULL
                      OR "resultTxHash" IS NULL)) AS bad_confirmed
           FROM "Intent" """)
    assert row["retries"] > 0
    assert (row["bad_keys"], row["upper_wallets"], row["bad_retries"], row["bad_locks"],
            row["bad_confirmed"]) == (0, 0, 0, 0, 0)
    # a PAYOUT intent is an affiliate's: its wallet resolves to no user of the program
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "Intent" i JOIN "Affiliate" a ON a."id" = i."payload"->>'affiliateId'
           WHERE i."type" = 'PAYOUT' AND a."wallet" = i."wallet" """)["n"] == clean.fetch_one(
        """SELECT count(*) AS n FROM "Intent" WHERE "type" = 'PAYOUT'""")["n"]
    users = clean.fetch_one(
        """SELECT count(*) FILTER (WHERE "hasClaimed") AS claimed,
                  count(*) FILTER (WHERE "hasClaimed" AND "claimTxHash" NOT IN
                      (SELECT "txHash" FROM "Settlement" WHERE "type" = 'CLAIM')) AS bad_claims,
                  count("sgeidTokenId") AS minted
           FROM "User" """)
    assert users["claimed"] > 0 and users["minted"] > 0 and users["bad_claims"] == 0


def test_commissions_follow_the_referral_tree_and_percent_formula(clean):
    row = clean.fetch_one(
        """SELECT count(*) AS n,
                  count(*) FILTER (WHERE c."commissionType" = 'DIRECT') AS direct,
                  count(*) FILTER (WHERE c."commissionType" = 'OVERRIDE') AS override,
                  count(*) FILTER (WHERE c."amount" <> round(c."baseAmount" * c."rate" / 100, 2)) AS bad_amount,
                  count(*) FILTER (WHERE c."baseAmount" <> s."amount") AS bad_base,
                  count(*) FILTER (WHERE c."commissionType" = 'DIRECT' AND (c."affiliateId" <> u."referredById"
                       OR c."overrideAffiliateId" IS NOT NULL OR c."rate" <> p."directCommissionPct")) AS bad_direct,
                  count(*) FILTER (WHERE c."commissionType" = 'OVERRIDE' AND (c."affiliateId" <> ref."parentId"
                       OR c."overrideAffiliateId" IS DISTINCT FROM c."affiliateId"
                       OR c."rate" <> p."overrideCommissionPct")) AS bad_override
           FROM "Commission" c
           JOIN "Settlement" s ON s."id" = c."settlementId"
           JOIN "Program" p ON p."id" = c."programId"
           JOIN "User" u ON u."programId" = s."programId" AND u."wallet" = s."wallet"
           JOIN "Affiliate" ref ON ref."id" = u."referredById" """)
    assert row["n"] == clean.fetch_one('SELECT count(*) AS n FROM "Commission"')["n"]
    assert row["direct"] > 0 and row["override"] > 0
    assert (row["bad_amount"], row["bad_base"], row["bad_direct"], row["bad_override"]) == (0, 0, 0, 0)
    rates = clean.fetch_all('SELECT DISTINCT "directCommissionPct"::text AS d FROM "Program"')
    assert "10.00" in {r["d"] for r in rates}
    # every referred user's MINT/PAYMENT settlement has its DIRECT commission
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "Settlement" s
           JOIN "User" u ON u."programId" = s."programId" AND u."wallet" = s."wallet"
           WHERE u."referredById" IS NOT NULL AND s."type" IN ('MINT', 'PAYMENT')
             AND NOT EXISTS (SELECT 1 FROM "Commission" c WHERE c."settlementId" = s."id"
                               AND c."commissionType" = 'DIRECT')""")["n"] == 0
    # each commission has its accrual pair: expense debited, the affiliate's liability credited
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "Commission" c
           WHERE (SELECT count(*) FROM "LedgerEntry" e WHERE e."refType" = 'COMMISSION'
                    AND e."refId" = c."id"
                    AND ((e."account" = 'program:' || c."programId" || ':commission_expense'
                          AND e."amount" = c."amount")
                      OR (e."account" = 'affiliate:' || c."affiliateId" || ':liability'
                          AND e."amount" = -c."amount"))) <> 2""")["n"] == 0


def test_payouts_batches_and_their_journals(clean):
    statuses = {r["s"] for r in clean.fetch_all('SELECT DISTINCT "status"::text AS s FROM "PayoutBatch"')}
    assert statuses == set(ENUMS["PayoutStatus"])
    cstat = {r["s"] for r in clean.fetch_all('SELECT DISTINCT "status"::text AS s FROM "Commission"')}
    assert cstat == {"ACCRUED", "PAYABLE", "PAID"}
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "PayoutBatch" WHERE "approvedById" = "createdById"
              OR ("approvedAt" IS NULL) <> ("approvedById" IS NULL)
              OR ("status" IN ('APPROVED', 'PROCESSING', 'COMPLETED') AND "approvedAt" IS NULL)
              OR ("status" = 'COMPLETED' AND "executedAt" IS NULL)""")["n"] == 0
    # batch totals = its line items; PAID commissions point at a COMPLETED line item
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "PayoutBatch" b
           WHERE b."totalAmount" <> (SELECT coalesce(sum("amount"), 0) FROM "Payout" WHERE "batchId" = b."id")
              OR b."affiliateCount" <> (SELECT count(*) FROM "Payout" WHERE "batchId" = b."id")""")["n"] == 0
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "Commission" c LEFT JOIN "Payout" p ON p."id" = c."payoutId"
           WHERE (c."status" = 'PAID') <> (p."status" IS NOT DISTINCT FROM 'COMPLETED')
              OR (c."status" = 'PAID' AND (c."paidAt" IS NULL OR p."affiliateId" <> c."affiliateId"))""")["n"] == 0
    # a COMPLETED line item: amount = its commissions, and a PAYOUT pair liability/treasury
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "Payout" p
           WHERE p."status" = 'COMPLETED' AND (
                 p."amount" <> (SELECT sum("amount") FROM "Commission" WHERE "payoutId" = p."id")
              OR (SELECT count(*) FROM "LedgerEntry" e WHERE e."refType" = 'PAYOUT' AND e."refId" = p."id"
                    AND ((e."account" = 'affiliate:' || p."affiliateId" || ':liability' AND e."amount" = p."amount")
                      OR (e."account" = 'program:' || p."programId" || ':treasury' AND e."amount" = -p."amount"))) <> 2)
        """)["n"] == 0
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "LedgerEntry" e WHERE e."refType" = 'PAYOUT'
             AND NOT EXISTS (SELECT 1 FROM "Payout" p WHERE p."id" = e."refId" AND p."status" = 'COMPLETED')""")["n"] == 0


def test_affiliate_tree_users_and_audit(clean):
    row = clean.fetch_one(
        """SELECT max("depth") AS depth, count(*) FILTER (WHERE "parentId" IS NULL) AS roots,
                  count(*) FILTER (WHERE "parentId" IS NULL AND "depth" <> 1) AS bad_root_depth
           FROM "Affiliate" """)
    assert row["depth"] >= 2 and row["roots"] >= 3 and row["bad_root_depth"] == 0
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "Affiliate" c JOIN "Affiliate" p ON p."id" = c."parentId"
           WHERE c."depth" <> p."depth" + 1 OR c."createdAt" < p."createdAt" """)["n"] == 0
    users = clean.fetch_one(
        """SELECT count(*) AS n, count("referredById") AS referred,
                  count(*) FILTER (WHERE a."programId" <> u."programId") AS cross_program
           FROM "User" u LEFT JOIN "Affiliate" a ON a."id" = u."referredById" """)
    assert 0 < users["referred"] < users["n"] and users["cross_program"] == 0
    actions = {r["action"] for r in clean.fetch_all('SELECT DISTINCT "action" FROM "AuditLog"')}
    assert {"PROGRAM_CREATED", "AFFILIATE_CREATED", "PAYOUT_BATCH_CREATED", "PAYOUT_APPROVED"} <= actions


def test_ids_are_cuids_and_times_are_utc_within_the_window(clean):
    for table in SGE_TABLES:
        row = clean.fetch_one(
            f"""SELECT count(*) FILTER (WHERE "id" !~ '^c[a-z0-9]{{24}}$') AS bad_ids,
                       min("createdAt") AS first, max("createdAt") AS last FROM "{table}" """)
        assert row["bad_ids"] == 0, table
        assert row["last"] <= AS_OF, table
    span = clean.fetch_one('SELECT min("createdAt") AS a, max("createdAt") AS b FROM "Intent"')
    assert AS_OF - timedelta(days=61) < span["a"] < AS_OF - timedelta(days=59)
    assert span["b"] > AS_OF - timedelta(minutes=5)
    assert clean.fetch_one(
        """SELECT count(*) AS n FROM "Intent" WHERE "updatedAt" < "createdAt"
              OR "completedAt" < "createdAt" """)["n"] == 0


# ---------------------------------------------------------------- faults

def test_every_fault_is_found_exactly_when_combined(all_faults):
    db, report = all_faults
    found = findings(db, report.as_of)
    assert set(report.faults) == set(SGE_FAULTS) | set(SGE_EXTRA_FAULTS)
    assert set(FAULT_CHECKS) == set(SGE_FAULTS)
    for name in report.faults:
        expected = set(report.faults[name])
        for other in report.side_effects.get(name, {}):
            assert other in SGE_FAULTS
        implied = {x for f, se in report.side_effects.items() for o, xs in se.items() if o == name
                   for x in xs}
        assert found[name] == expected | implied, name
        assert expected, name


@pytest.mark.parametrize("fault", [*SGE_FAULTS, *SGE_EXTRA_FAULTS])
def test_each_fault_alone_is_found_by_its_check_and_nothing_else(new_database, fault):
    db = Database(new_database())
    create_sge_schema(db)
    report = load_sge_platform(db, intents=400, seed=5, as_of=AS_OF, faults=[fault])
    found = findings(db, AS_OF)
    assert set(report.faults) == {fault}
    for name, rows in found.items():
        want = set(report.faults.get(name, [])) | set(report.side_effects.get(fault, {}).get(name, []))
        assert rows == want, (fault, name)
    assert FAULT_CHECKS.get(fault) or fault in SGE_EXTRA_FAULTS


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_all_faults_at_the_smallest_size_are_planted_and_found(new_database, seed):
    db = Database(new_database())
    create_sge_schema(db)
    report = load_sge_platform(db, intents=200, seed=seed, as_of=AS_OF,
                               faults=[*SGE_FAULTS, *SGE_EXTRA_FAULTS])
    found = findings(db, AS_OF)
    for name, expected in report.faults.items():
        assert expected, name
        implied = {x for se in report.side_effects.values() for x in se.get(name, [])}
        assert found[name] == set(expected) | implied, name
    assert len(report.faults["commission_amount"]) == 2


def test_fault_report_shapes(all_faults):
    db, report = all_faults
    (program_id, currency, diff), = report.faults["ledger_imbalance"]
    assert currency == "USD" and diff == Decimal("-25.000000")
    assert db.fetch_one('SELECT count(*) AS n FROM "Program" WHERE "id" = %s', (program_id,))["n"] == 1
    assert all(k.split(":", 1)[0] in {"COMMISSION", "SETTLEMENT"}
               for k in report.faults["unbalanced_transaction"])
    assert len(report.faults["unbalanced_transaction"]) == 2
    stuck = {d["intentId"]: d for d in report.details["stuck_intents"]}
    assert sorted(d["status"] for d in stuck.values()) == ["PENDING", "PENDING", "PROCESSING", "PROCESSING"]
    assert {d["stuck_seconds"] for d in stuck.values() if d["status"] == "PROCESSING"} == {2400}
    assert {d["stuck_seconds"] for d in stuck.values() if d["status"] == "PENDING"} == {1200}
    # the platform's own reconciler: PROCESSING with updatedAt older than 30 min
    assert {r["id"] for r in db.fetch_all(
        """SELECT "id" FROM "Intent" WHERE "status" = 'PROCESSING'
             AND "updatedAt" < %s - interval '30 minutes'""", (AS_OF,))} == {
        i for i, d in stuck.items() if d["status"] == "PROCESSING"}
    assert len(report.faults["affiliate_cycle"]) == 3
    (mean,) = report.faults["slow_processing"]
    assert Decimal(20) <= mean <= Decimal(25)
    sla = db.fetch_all('SELECT "status"::text AS s FROM "PayoutBatch" WHERE "id" = ANY(%s)',
                       (report.faults["payout_sla"],))
    assert sorted(r["s"] for r in sla) == ["APPROVED", "PENDING"]
    # the faulted commission rows still balance in the ledger
    assert q_unbalanced_journals(db) == set(report.faults["unbalanced_transaction"]) | set(
        report.side_effects["ledger_imbalance"]["unbalanced_transaction"])


def test_unknown_fault_and_too_few_intents_are_refused(db):
    create_sge_schema(db)
    with pytest.raises(ValueError, match="unknown SGE fault"):
        load_sge_platform(db, intents=300, faults=["no_such_fault"])
    with pytest.raises(ValueError, match="at least"):
        load_sge_platform(db, intents=10)


# ---------------------------------------------------------------- determinism

def test_same_seed_same_rows_whatever_the_session_time_zone(new_database):
    a, b, c = (Database(new_database()) for _ in range(3))
    # b's sessions run in another time zone: the stored (UTC, naive) values must not move
    with b.connect(autocommit=True) as conn:
        dbname = conn.info.dbname
        conn.execute(f"ALTER DATABASE {dbname} SET timezone = 'America/New_York'")
    aware = AS_OF.replace(tzinfo=timezone.utc).astimezone(timezone(timedelta(hours=2)))
    for database, seed, as_of in ((a, 9, AS_OF), (b, 9, aware), (c, 10, AS_OF)):
        create_sge_schema(database)
        load_sge_platform(database, intents=500, seed=seed, as_of=as_of,
                          faults=["ledger_imbalance", "stuck_intents"])
    fa, fb, fc = fingerprint(a), fingerprint(b), fingerprint(c)
    assert fa == fb
    assert all(fa[t] != fc[t] for t in ("Intent", "LedgerEntry", "Commission"))


def test_as_of_defaults_to_now_in_utc(db):
    create_sge_schema(db)
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    report = load_sge_platform(db, intents=200, seed=4)
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    assert before - timedelta(seconds=1) <= report.as_of <= after
    newest = db.fetch_one('SELECT max("createdAt") AS t FROM "Intent"')["t"]
    assert report.as_of - timedelta(minutes=5) <= newest <= report.as_of


def test_reset_empties_the_tables(new_database):
    db = Database(new_database())
    create_sge_schema(db)
    load_sge_platform(db, intents=300, seed=2, as_of=AS_OF)
    reset_sge_platform(db)
    for table in SGE_TABLES:
        assert db.fetch_one(f'SELECT count(*) AS n FROM "{table}"')["n"] == 0
    report = load_sge_platform(db, intents=300, seed=2, as_of=AS_OF)
    assert report.counts["Intent"] == 300


# ---------------------------------------------------------------- scale
# The load's speed is a benchmark figure (`sge-recon profile-bench` loads the stand-in at the size
# it is asked for and prints the time), not a test's: this test asks what only a larger load can
# show, that every planted fault is still found exactly among ~100,000 ledger entries.

@pytest.mark.slow
def test_every_fault_is_found_exactly_in_a_load_of_20000_intents(new_database):
    db = Database(new_database())
    create_sge_schema(db)
    report = load_sge_platform(db, intents=20_000, seed=1, as_of=AS_OF, faults=list(SGE_FAULTS))
    assert report.counts["Intent"] == 20_000 + 4
    assert report.ledger_entries > 4 * 20_000, describe_report(report)
    found = findings(db, report.as_of)
    for name in SGE_FAULTS:
        implied = {x for se in report.side_effects.values() for o, xs in se.items() if o == name
                   for x in xs}
        assert report.faults[name], name
        assert found[name] == set(report.faults[name]) | implied, name
