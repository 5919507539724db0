-- Indexes the §5 checks and the console need. Partial indexes cover the few rows in live states
-- (stuck intents, waiting jobs, failing deliveries) so that hot queries never scan whole tables.
CREATE INDEX IF NOT EXISTS ledger_entries_transaction_idx ON public.ledger_entries (transaction_id);
CREATE INDEX IF NOT EXISTS ledger_entries_created_at_idx ON public.ledger_entries (created_at);
CREATE INDEX IF NOT EXISTS ledger_entries_account_idx ON public.ledger_entries (account);
CREATE INDEX IF NOT EXISTS ledger_entries_intent_idx ON public.ledger_entries (intent_id);
CREATE INDEX IF NOT EXISTS settlement_intents_live_idx ON public.settlement_intents (status_changed_at)
    WHERE status IN ('payment_pending', 'verifying', 'processing');
CREATE INDEX IF NOT EXISTS settlement_intents_completed_idx ON public.settlement_intents (completed_at DESC)
    WHERE status = 'completed';
CREATE INDEX IF NOT EXISTS settlement_intents_created_at_idx ON public.settlement_intents (created_at);
CREATE INDEX IF NOT EXISTS settlements_tx_hash_idx ON public.settlements (tx_hash);
CREATE INDEX IF NOT EXISTS settlements_confirmed_at_idx ON public.settlements (confirmed_at);
CREATE INDEX IF NOT EXISTS chain_transactions_to_idx ON public.chain_transactions (to_address);
CREATE INDEX IF NOT EXISTS chain_transactions_observed_at_idx ON public.chain_transactions (observed_at);
CREATE INDEX IF NOT EXISTS commissions_affiliate_idx ON public.commissions (affiliate_id);
CREATE INDEX IF NOT EXISTS commissions_intent_idx ON public.commissions (intent_id);
CREATE INDEX IF NOT EXISTS commissions_batch_idx ON public.commissions (payout_batch_id);
CREATE INDEX IF NOT EXISTS commissions_created_at_idx ON public.commissions (created_at);
CREATE INDEX IF NOT EXISTS payout_batches_open_idx ON public.payout_batches (created_at)
    WHERE status IN ('pending_approval', 'approved');
CREATE INDEX IF NOT EXISTS affiliates_parent_idx ON public.affiliates (parent_id);
CREATE INDEX IF NOT EXISTS users_referred_by_idx ON public.users (referred_by);
CREATE INDEX IF NOT EXISTS webhook_deliveries_open_idx ON public.webhook_deliveries (next_retry_at)
    WHERE status IN ('pending', 'retry_scheduled', 'failed');
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint_idx
    ON public.webhook_deliveries (endpoint_id, last_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_created_at_idx ON public.webhook_deliveries (created_at);
CREATE INDEX IF NOT EXISTS jobs_waiting_idx ON public.jobs (queue, run_at)
    WHERE status IN ('waiting', 'delayed');
CREATE INDEX IF NOT EXISTS jobs_intent_idx ON public.jobs (intent_id);
CREATE INDEX IF NOT EXISTS jobs_finished_at_idx ON public.jobs (finished_at) WHERE status = 'completed';
CREATE INDEX IF NOT EXISTS rpc_calls_called_at_idx ON public.rpc_calls (called_at);
