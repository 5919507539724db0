-- Empties the SGE stand-in's tables (tests only). The relayer's `jobs` is emptied only where it is
-- the relayer's table, never the contract's `jobs`.
TRUNCATE public."AuditLog", public."LedgerEntry", public."Commission", public."Payout",
         public."PayoutBatch", public."Settlement", public."Intent", public."User",
         public."Affiliate", public."Program";
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name = 'jobs' AND column_name = 'type')
       AND EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'public' AND table_name = 'jobs' AND column_name = 'payload')
    THEN
        TRUNCATE public.jobs;
    END IF;
END $$;
