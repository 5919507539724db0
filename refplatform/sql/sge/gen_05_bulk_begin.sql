-- Bulk load: with the SGE tables still empty, drop the secondary indexes and foreign keys that
-- 001_schema.sql creates (Prisma names: "<Table>_..._idx|key|fkey"); primary keys stay. The load
-- then writes without per-row index maintenance and per-row FK triggers, and re-running
-- 001_schema.sql afterwards (same transaction) rebuilds every index in one pass and re-adds every
-- FK, validating all rows at once. Nothing is dropped if any SGE table holds rows.
DO $$
DECLARE
    r record;
    tables text[] := ARRAY['Program', 'Affiliate', 'User', 'Intent', 'Settlement', 'LedgerEntry',
                           'Commission', 'PayoutBatch', 'Payout', 'AuditLog'];
    pattern text := '^(Program|Affiliate|User|Intent|Settlement|LedgerEntry|Commission|PayoutBatch|Payout|AuditLog)_.+_(idx|key|fkey)$';
BEGIN
    IF EXISTS (SELECT 1 FROM public."Program") OR EXISTS (SELECT 1 FROM public."Affiliate")
       OR EXISTS (SELECT 1 FROM public."Intent") OR EXISTS (SELECT 1 FROM public."LedgerEntry") THEN
        RETURN;
    END IF;
    FOR r IN
        SELECT c.conrelid::regclass AS tbl, c.conname
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
          AND c.conrelid::regclass::text IN (SELECT quote_ident(t) FROM unnest(tables) t)
          AND c.conname ~ pattern
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.conname);
    END LOOP;
    FOR r IN
        SELECT i.indexrelid::regclass AS idx
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE NOT i.indisprimary AND ic.relnamespace = 'public'::regnamespace
          AND i.indrelid::regclass::text IN (SELECT quote_ident(t) FROM unnest(tables) t)
          AND ic.relname ~ pattern
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
    LOOP
        EXECUTE format('DROP INDEX %s', r.idx);
    END LOOP;
END $$;
