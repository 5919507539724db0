-- A balanced transaction that credits 5.00 to an affiliate with no commission behind it: every
-- transaction and every program still balances, but the affiliate's ledger credits exceed its
-- commissions.
INSERT INTO public.ledger_entries (program_id, transaction_id, intent_id, account, type, amount,
                                   currency, created_at)
SELECT c.program_id, 'txn_fault_ledger_drift', NULL, e.account, e.type, 5.00, c.currency,
       sp.live_at - interval '90 minutes'
FROM (SELECT cm.program_id, cm.affiliate_id, i.currency
      FROM public.commissions cm JOIN public.settlement_intents i ON i.id = cm.intent_id
      ORDER BY cm.id LIMIT 1) c
CROSS JOIN sim_params sp
CROSS JOIN LATERAL (VALUES ('treasury', 'debit'), ('affiliate:' || c.affiliate_id, 'credit')) e(account, type)
ORDER BY e.type DESC;  -- ids from the sequence: in a fixed order
