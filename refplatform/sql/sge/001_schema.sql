-- An SGE-shaped stand-in database, written from ../shared/SGE_PLATFORM.md (the real platform:
-- public repository unykornai/sge, packages/api/prisma/schema.prisma, Prisma 7 on PostgreSQL).
--
-- What makes it SGE-shaped, on purpose:
--   * Prisma naming: quoted PascalCase tables, quoted camelCase columns, Prisma's constraint and
--     index names ("<Table>_pkey", "<Table>_<cols>_key", "<Table>_<cols>_idx", "<Table>_<col>_fkey");
--   * enum types with UPPER-case labels;
--   * TEXT (cuid) ids everywhere, the ledger included;
--   * TIMESTAMP(3) WITHOUT TIME ZONE holding UTC; "createdAt" DEFAULT CURRENT_TIMESTAMP (as Prisma
--     declares it; Prisma itself always sends the value), "updatedAt" NOT NULL with no default;
--   * money DECIMAL(18,6), commission rates in percent DECIMAL(5,2);
--   * foreign keys as Prisma makes them: required relations ON DELETE RESTRICT, optional ones
--     ON DELETE SET NULL, all ON UPDATE CASCADE. "Affiliate"."parentId" is a real FK, so orphans
--     are impossible but cycles and cross-program parents are not.
-- Plus the relayer's own `jobs` table (unrelated to intents), created only where no `jobs` table
-- exists yet (a database that also holds the contract tables of DESIGN §4 has one already).
--
-- Idempotent: every statement is IF NOT EXISTS or guarded, so running the file twice is harmless.
-- Everything lives in schema public.

-- ---------------------------------------------------------------- enum types
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT * FROM (VALUES
            ('ProgramStatus',    ARRAY['ACTIVE', 'PAUSED', 'ARCHIVED']),
            ('AffiliateStatus',  ARRAY['PENDING', 'ACTIVE', 'SUSPENDED', 'TERMINATED']),
            ('IntentType',       ARRAY['REGISTER', 'CLAIM', 'COMMERCE_PAYMENT', 'PAYOUT']),
            ('IntentStatus',     ARRAY['PENDING', 'PROCESSING', 'CONFIRMED', 'FAILED', 'EXPIRED']),
            ('SettlementStatus', ARRAY['PENDING', 'CONFIRMED', 'FAILED', 'REVERSED']),
            ('CommissionStatus', ARRAY['ACCRUED', 'PAYABLE', 'PAID', 'CANCELLED']),
            ('PayoutStatus',     ARRAY['PENDING', 'APPROVED', 'PROCESSING', 'COMPLETED', 'FAILED',
                                       'CANCELLED']),
            ('PayoutMethod',     ARRAY['ONCHAIN_USDC', 'ONCHAIN_USDT', 'ACH', 'WIRE', 'MANUAL'])
        ) AS e(name, labels)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_type ty JOIN pg_namespace n ON n.oid = ty.typnamespace
                       WHERE n.nspname = 'public' AND ty.typname = t.name) THEN
            EXECUTE format('CREATE TYPE public.%I AS ENUM (%s)', t.name,
                           (SELECT string_agg(quote_literal(l), ', ') FROM unnest(t.labels) l));
        END IF;
    END LOOP;
END $$;

-- ---------------------------------------------------------------- tables
CREATE TABLE IF NOT EXISTS public."Program" (
    "id"                    TEXT NOT NULL,
    "name"                  TEXT NOT NULL,
    "slug"                  TEXT NOT NULL,
    "status"                "ProgramStatus" NOT NULL DEFAULT 'ACTIVE',
    "treasuryAddress"       TEXT NOT NULL,
    "sgeTokenAddress"       TEXT,
    "sgeClaimAddress"       TEXT,
    "sgeidAddress"          TEXT,
    "feeUsd"                DECIMAL(18,6) NOT NULL DEFAULT 100,
    "claimAmount"           DECIMAL(18,6) NOT NULL DEFAULT 1000,
    "directCommissionPct"   DECIMAL(5,2) NOT NULL DEFAULT 10,
    "overrideCommissionPct" DECIMAL(5,2) NOT NULL DEFAULT 5,
    "maxAffiliateDepth"     INTEGER NOT NULL DEFAULT 2,
    "kycRequired"           BOOLEAN NOT NULL DEFAULT false,
    "commerceRequired"      BOOLEAN NOT NULL DEFAULT false,
    "mockMode"              BOOLEAN NOT NULL DEFAULT false,
    "createdAt"             TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"             TIMESTAMP(3) NOT NULL,
    CONSTRAINT "Program_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS public."Affiliate" (
    "id"              TEXT NOT NULL,
    "programId"       TEXT NOT NULL,
    "parentId"        TEXT,
    "depth"           INTEGER NOT NULL DEFAULT 1,
    "wallet"          TEXT NOT NULL,
    "referralCode"    TEXT NOT NULL,
    "email"           TEXT,
    "displayName"     TEXT,
    "status"          "AffiliateStatus" NOT NULL DEFAULT 'PENDING',
    "totalReferrals"  INTEGER NOT NULL DEFAULT 0,
    "totalEarnings"   DECIMAL(18,6) NOT NULL DEFAULT 0,
    "pendingEarnings" DECIMAL(18,6) NOT NULL DEFAULT 0,
    "createdAt"       TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"       TIMESTAMP(3) NOT NULL,
    CONSTRAINT "Affiliate_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS public."User" (
    "id"               TEXT NOT NULL,
    "programId"        TEXT NOT NULL,
    "wallet"           TEXT NOT NULL,
    "referredById"     TEXT,
    "referredAt"       TIMESTAMP(3),
    "attributionProof" JSONB,
    "sgeidTokenId"     BIGINT,
    "sgeidMintedAt"    TIMESTAMP(3),
    "hasClaimed"       BOOLEAN NOT NULL DEFAULT false,
    "claimedAt"        TIMESTAMP(3),
    "claimTxHash"      TEXT,
    "createdAt"        TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"        TIMESTAMP(3) NOT NULL,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS public."Intent" (
    "id"             TEXT NOT NULL,
    "programId"      TEXT NOT NULL,
    "type"           "IntentType" NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "wallet"         TEXT NOT NULL,
    "payload"        JSONB NOT NULL,
    "status"         "IntentStatus" NOT NULL DEFAULT 'PENDING',
    "attempts"       INTEGER NOT NULL DEFAULT 0,
    "lastAttemptAt"  TIMESTAMP(3),
    "nextRetryAt"    TIMESTAMP(3),
    "resultTxHash"   TEXT,
    "resultData"     JSONB,
    "errorMessage"   TEXT,
    "lockedBy"       TEXT,
    "lockedUntil"    TIMESTAMP(3),
    "createdAt"      TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"      TIMESTAMP(3) NOT NULL,
    "completedAt"    TIMESTAMP(3),
    CONSTRAINT "Intent_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS public."Settlement" (
    "id"             TEXT NOT NULL,
    "programId"      TEXT NOT NULL,
    "intentId"       TEXT NOT NULL,
    "wallet"         TEXT NOT NULL,
    "type"           TEXT NOT NULL,
    "token"          TEXT,
    "amount"         DECIMAL(18,6) NOT NULL,
    "txHash"         TEXT NOT NULL,
    "blockNumber"    BIGINT NOT NULL,
    "blockTimestamp" TIMESTAMP(3) NOT NULL,
    "status"         "SettlementStatus" NOT NULL DEFAULT 'PENDING',
    "verified"       BOOLEAN NOT NULL DEFAULT false,
    "verifiedAt"     TIMESTAMP(3),
    "createdAt"      TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"      TIMESTAMP(3) NOT NULL,
    CONSTRAINT "Settlement_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS public."LedgerEntry" (
    "id"           TEXT NOT NULL,
    "programId"    TEXT NOT NULL,
    "account"      TEXT NOT NULL,
    "counterparty" TEXT NOT NULL,
    "amount"       DECIMAL(18,6) NOT NULL,
    "currency"     TEXT NOT NULL DEFAULT 'USD',
    "refType"      TEXT NOT NULL,
    "refId"        TEXT NOT NULL,
    "settlementId" TEXT,
    "description"  TEXT,
    "createdAt"    TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "LedgerEntry_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS public."Commission" (
    "id"                  TEXT NOT NULL,
    "programId"           TEXT NOT NULL,
    "settlementId"        TEXT NOT NULL,
    "affiliateId"         TEXT NOT NULL,
    "overrideAffiliateId" TEXT,
    "commissionType"      TEXT NOT NULL,
    "rate"                DECIMAL(5,2) NOT NULL,
    "baseAmount"          DECIMAL(18,6) NOT NULL,
    "amount"              DECIMAL(18,6) NOT NULL,
    "currency"            TEXT NOT NULL DEFAULT 'USD',
    "status"              "CommissionStatus" NOT NULL DEFAULT 'ACCRUED',
    "payoutId"            TEXT,
    "createdAt"           TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"           TIMESTAMP(3) NOT NULL,
    "paidAt"              TIMESTAMP(3),
    CONSTRAINT "Commission_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS public."PayoutBatch" (
    "id"              TEXT NOT NULL,
    "programId"       TEXT NOT NULL,
    "period"          TEXT NOT NULL,
    "totalAmount"     DECIMAL(18,6) NOT NULL,
    "affiliateCount"  INTEGER NOT NULL,
    "status"          "PayoutStatus" NOT NULL DEFAULT 'PENDING',
    "createdById"     TEXT,
    "approvedById"    TEXT,
    "approvedAt"      TIMESTAMP(3),
    "executedAt"      TIMESTAMP(3),
    "executionTxHash" TEXT,
    "createdAt"       TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"       TIMESTAMP(3) NOT NULL,
    CONSTRAINT "PayoutBatch_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS public."Payout" (
    "id"             TEXT NOT NULL,
    "programId"      TEXT NOT NULL,
    "affiliateId"    TEXT NOT NULL,
    "batchId"        TEXT,
    "idempotencyKey" TEXT NOT NULL,
    "amount"         DECIMAL(18,6) NOT NULL,
    "currency"       TEXT NOT NULL DEFAULT 'USD',
    "method"         "PayoutMethod" NOT NULL,
    "destination"    TEXT NOT NULL,
    "status"         "PayoutStatus" NOT NULL DEFAULT 'PENDING',
    "txHash"         TEXT,
    "executedAt"     TIMESTAMP(3),
    "errorMessage"   TEXT,
    "createdAt"      TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"      TIMESTAMP(3) NOT NULL,
    CONSTRAINT "Payout_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS public."AuditLog" (
    "id"         TEXT NOT NULL,
    "programId"  TEXT,
    "action"     TEXT NOT NULL,
    "actorId"    TEXT,
    "actorType"  TEXT,
    "targetType" TEXT,
    "targetId"   TEXT,
    "before"     JSONB,
    "after"      JSONB,
    "metadata"   JSONB,
    "ipAddress"  TEXT,
    "userAgent"  TEXT,
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
);

-- ---------------------------------------------------------------- unique constraints and indexes
-- (Prisma declares @unique / @@unique as unique indexes named "<Table>_<cols>_key".)
CREATE UNIQUE INDEX IF NOT EXISTS "Program_slug_key" ON public."Program"("slug");
CREATE INDEX IF NOT EXISTS "Program_status_idx" ON public."Program"("status");
CREATE INDEX IF NOT EXISTS "Program_slug_idx" ON public."Program"("slug");

CREATE UNIQUE INDEX IF NOT EXISTS "Affiliate_programId_wallet_key" ON public."Affiliate"("programId", "wallet");
CREATE UNIQUE INDEX IF NOT EXISTS "Affiliate_programId_referralCode_key" ON public."Affiliate"("programId", "referralCode");
CREATE INDEX IF NOT EXISTS "Affiliate_programId_status_idx" ON public."Affiliate"("programId", "status");
CREATE INDEX IF NOT EXISTS "Affiliate_parentId_idx" ON public."Affiliate"("parentId");

CREATE UNIQUE INDEX IF NOT EXISTS "User_programId_wallet_key" ON public."User"("programId", "wallet");
CREATE INDEX IF NOT EXISTS "User_programId_idx" ON public."User"("programId");
CREATE INDEX IF NOT EXISTS "User_referredById_idx" ON public."User"("referredById");

CREATE UNIQUE INDEX IF NOT EXISTS "Intent_idempotencyKey_key" ON public."Intent"("idempotencyKey");
CREATE INDEX IF NOT EXISTS "Intent_programId_type_status_idx" ON public."Intent"("programId", "type", "status");
CREATE INDEX IF NOT EXISTS "Intent_status_nextRetryAt_idx" ON public."Intent"("status", "nextRetryAt");
CREATE INDEX IF NOT EXISTS "Intent_wallet_idx" ON public."Intent"("wallet");

CREATE UNIQUE INDEX IF NOT EXISTS "Settlement_intentId_key" ON public."Settlement"("intentId");
CREATE UNIQUE INDEX IF NOT EXISTS "Settlement_txHash_key" ON public."Settlement"("txHash");
CREATE INDEX IF NOT EXISTS "Settlement_programId_type_idx" ON public."Settlement"("programId", "type");
CREATE INDEX IF NOT EXISTS "Settlement_wallet_idx" ON public."Settlement"("wallet");
CREATE INDEX IF NOT EXISTS "Settlement_status_idx" ON public."Settlement"("status");

CREATE INDEX IF NOT EXISTS "LedgerEntry_programId_account_idx" ON public."LedgerEntry"("programId", "account");
CREATE INDEX IF NOT EXISTS "LedgerEntry_refType_refId_idx" ON public."LedgerEntry"("refType", "refId");

CREATE INDEX IF NOT EXISTS "Commission_programId_affiliateId_status_idx" ON public."Commission"("programId", "affiliateId", "status");
CREATE INDEX IF NOT EXISTS "Commission_settlementId_idx" ON public."Commission"("settlementId");
CREATE INDEX IF NOT EXISTS "Commission_payoutId_idx" ON public."Commission"("payoutId");

CREATE UNIQUE INDEX IF NOT EXISTS "PayoutBatch_programId_period_key" ON public."PayoutBatch"("programId", "period");
CREATE INDEX IF NOT EXISTS "PayoutBatch_programId_status_idx" ON public."PayoutBatch"("programId", "status");

CREATE UNIQUE INDEX IF NOT EXISTS "Payout_idempotencyKey_key" ON public."Payout"("idempotencyKey");
CREATE UNIQUE INDEX IF NOT EXISTS "Payout_txHash_key" ON public."Payout"("txHash");
CREATE INDEX IF NOT EXISTS "Payout_programId_affiliateId_idx" ON public."Payout"("programId", "affiliateId");
CREATE INDEX IF NOT EXISTS "Payout_batchId_idx" ON public."Payout"("batchId");
CREATE INDEX IF NOT EXISTS "Payout_status_idx" ON public."Payout"("status");

CREATE INDEX IF NOT EXISTS "AuditLog_programId_action_idx" ON public."AuditLog"("programId", "action");
CREATE INDEX IF NOT EXISTS "AuditLog_targetType_targetId_idx" ON public."AuditLog"("targetType", "targetId");
CREATE INDEX IF NOT EXISTS "AuditLog_actorId_idx" ON public."AuditLog"("actorId");
CREATE INDEX IF NOT EXISTS "AuditLog_createdAt_idx" ON public."AuditLog"("createdAt");

-- ---------------------------------------------------------------- foreign keys
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT * FROM (VALUES
            -- (table, column, referenced table, on delete)
            ('Affiliate',   'programId',           'Program',     'RESTRICT'),
            ('Affiliate',   'parentId',            'Affiliate',   'SET NULL'),
            ('User',        'programId',           'Program',     'RESTRICT'),
            ('User',        'referredById',        'Affiliate',   'SET NULL'),
            ('Intent',      'programId',           'Program',     'RESTRICT'),
            ('Settlement',  'programId',           'Program',     'RESTRICT'),
            ('Settlement',  'intentId',            'Intent',      'RESTRICT'),
            ('LedgerEntry', 'programId',           'Program',     'RESTRICT'),
            ('LedgerEntry', 'settlementId',        'Settlement',  'SET NULL'),
            ('Commission',  'programId',           'Program',     'RESTRICT'),
            ('Commission',  'settlementId',        'Settlement',  'RESTRICT'),
            ('Commission',  'affiliateId',         'Affiliate',   'RESTRICT'),
            ('Commission',  'overrideAffiliateId', 'Affiliate',   'SET NULL'),
            ('Commission',  'payoutId',            'Payout',      'SET NULL'),
            ('PayoutBatch', 'programId',           'Program',     'RESTRICT'),
            ('Payout',      'programId',           'Program',     'RESTRICT'),
            ('Payout',      'affiliateId',         'Affiliate',   'RESTRICT'),
            ('Payout',      'batchId',             'PayoutBatch', 'SET NULL'),
            ('AuditLog',    'programId',           'Program',     'SET NULL')
        ) AS f(tbl, col, ref, on_delete)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                       WHERE n.nspname = 'public' AND c.conname = fk.tbl || '_' || fk.col || '_fkey') THEN
            EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I FOREIGN KEY (%I) '
                           'REFERENCES public.%I ("id") ON DELETE %s ON UPDATE CASCADE',
                           fk.tbl, fk.tbl || '_' || fk.col || '_fkey', fk.col, fk.ref, fk.on_delete);
        END IF;
    END LOOP;
END $$;

-- ---------------------------------------------------------------- the relayer's jobs table
-- packages/relayer: its own queue of on-chain jobs, unrelated to "Intent" (intents are queued in
-- BullMQ on Redis). Created only where no `jobs` relation exists: beside the contract tables of
-- DESIGN §4 (which has its own `jobs`) it is left out rather than clashing.
DO $$
BEGIN
    IF to_regclass('public.jobs') IS NULL THEN
        CREATE TABLE public.jobs (
            id              TEXT PRIMARY KEY,
            type            TEXT NOT NULL,
            payload         JSONB NOT NULL,
            status          TEXT NOT NULL DEFAULT 'pending',  -- pending, processing, done, failed
            attempts        INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TIMESTAMPTZ NULL,
            created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS idx_jobs_status_created ON public.jobs (status, created_at);
    END IF;
END $$;
