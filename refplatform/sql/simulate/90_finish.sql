-- Rebuild the indexes set aside by 05_prepare.sql and refresh the planner's statistics, so that
-- the checks run on good plans right after the load.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT definition FROM sim_indexes ORDER BY name LOOP
        EXECUTE r.definition;
    END LOOP;
END
$$;

ANALYZE public.programs, public.affiliates, public.users, public.settlement_intents,
        public.settlements, public.chain_transactions, public.ledger_entries, public.commissions,
        public.payout_batches, public.payout_approvals, public.webhook_endpoints,
        public.webhook_deliveries, public.worker_heartbeats, public.jobs, public.rpc_calls;
