-- Rows per platform table, for the load's summary (in the order of DESIGN §4).
SELECT table_name, rows FROM (
    SELECT 1 AS ord, 'programs' AS table_name, count(*) AS rows FROM public.programs
    UNION ALL SELECT 2, 'affiliates', count(*) FROM public.affiliates
    UNION ALL SELECT 3, 'users', count(*) FROM public.users
    UNION ALL SELECT 4, 'settlement_intents', count(*) FROM public.settlement_intents
    UNION ALL SELECT 5, 'settlements', count(*) FROM public.settlements
    UNION ALL SELECT 6, 'chain_transactions', count(*) FROM public.chain_transactions
    UNION ALL SELECT 7, 'ledger_entries', count(*) FROM public.ledger_entries
    UNION ALL SELECT 8, 'commissions', count(*) FROM public.commissions
    UNION ALL SELECT 9, 'payout_batches', count(*) FROM public.payout_batches
    UNION ALL SELECT 10, 'payout_approvals', count(*) FROM public.payout_approvals
    UNION ALL SELECT 11, 'webhook_endpoints', count(*) FROM public.webhook_endpoints
    UNION ALL SELECT 12, 'webhook_deliveries', count(*) FROM public.webhook_deliveries
    UNION ALL SELECT 13, 'worker_heartbeats', count(*) FROM public.worker_heartbeats
    UNION ALL SELECT 14, 'jobs', count(*) FROM public.jobs
    UNION ALL SELECT 15, 'rpc_calls', count(*) FROM public.rpc_calls
) counts ORDER BY ord
