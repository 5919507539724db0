-- Bulk-load settings for this transaction, and the secondary indexes of the big tables set
-- aside: building an index once after the load is several times faster than maintaining it row
-- by row. 90_finish.sql recreates each from its own definition (whatever indexes the database
-- has), inside the same transaction.
SET LOCAL synchronous_commit = off;
SET LOCAL work_mem = '64MB';
SET LOCAL maintenance_work_mem = '256MB';

CREATE TEMP TABLE sim_indexes ON COMMIT DROP AS
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace ns ON ns.oid = t.relnamespace
WHERE ns.nspname = 'public'
  AND t.relname IN ('affiliates', 'users', 'settlement_intents', 'settlements',
                    'chain_transactions', 'ledger_entries', 'commissions', 'webhook_deliveries',
                    'jobs', 'rpc_calls')
  AND NOT i.indisprimary AND NOT i.indisunique
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT name FROM sim_indexes ORDER BY name LOOP
        EXECUTE 'DROP INDEX ' || r.name;
    END LOOP;
END
$$;
