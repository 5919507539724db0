-- Rows per platform table and the database's size, for the load's summary.
SELECT 'programs' AS table_name, count(*) AS rows FROM public.programs
UNION ALL SELECT 'affiliates', count(*) FROM public.affiliates
UNION ALL SELECT 'users', count(*) FROM public.users
UNION ALL SELECT 'settlement_intents', count(*) FROM public.settlement_intents
UNION ALL SELECT 'settlements', count(*) FROM public.settlements
UNION ALL SELECT 'chain_transactions', count(*) FROM public.chain_transactions
UNION ALL SELECT 'ledger_entries', count(*) FROM public.ledger_entries
UNION ALL SELECT 'commissions', count(*) FROM public.commissions
UNION ALL SELECT 'payout_batches', count(*) FROM public.payout_batches
UNION ALL SELECT 'payout_approvals', count(*) FROM public.payout_approvals
UNION ALL SELECT 'webhook_endpoints', count(*) FROM public.webhook_endpoints
UNION ALL SELECT 'webhook_deliveries', count(*) FROM public.webhook_deliveries
UNION ALL SELECT 'worker_heartbeats', count(*) FROM public.worker_heartbeats
UNION ALL SELECT 'jobs', count(*) FROM public.jobs
UNION ALL SELECT 'rpc_calls', count(*) FROM public.rpc_calls
