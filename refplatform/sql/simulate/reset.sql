-- --reset: empty the platform tables (and the reference platform's bookkeeping beside them) and
-- restart their id sequences, in the load's transaction: a failed load leaves the old data.
DO $$
DECLARE
    tables text;
BEGIN
    SELECT string_agg(format('public.%I', name), ', ') INTO tables
    FROM unnest(ARRAY['programs', 'affiliates', 'users', 'settlement_intents', 'settlements',
                      'chain_transactions', 'ledger_entries', 'commissions', 'payout_batches',
                      'payout_approvals', 'payout_approval_terms', 'webhook_endpoints',
                      'webhook_deliveries',
                      'worker_heartbeats', 'jobs', 'rpc_calls', 'admin_audit_log',
                      'ledger_corrections', 'admin_request_keys', 'webhook_endpoint_health', 'webhook_attempts',
                      'platform_faults', 'reconcile_runs']) AS name
    WHERE to_regclass(format('public.%I', name)) IS NOT NULL;
    EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY';
END
$$;
