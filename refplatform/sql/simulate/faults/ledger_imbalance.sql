-- A lone debit of 12.34 to program 0's treasury: its (program, currency) ledger no longer
-- balances (and, necessarily, neither does that one transaction).
INSERT INTO public.ledger_entries (program_id, transaction_id, intent_id, account, type, amount,
                                   currency, created_at)
SELECT pr.id, 'txn_fault_ledger_imbalance', NULL, 'treasury', 'debit', 12.34, pr.currency,
       sp.live_at - interval '1 hour'
FROM public.programs pr, sim_params sp WHERE pr.id = pg_temp.sim_program_id(0);
