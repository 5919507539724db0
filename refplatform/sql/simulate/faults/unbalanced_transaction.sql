-- Two transactions in program 1 that are each off by 10.00 in opposite directions: the
-- program's ledger still balances, only the per-transaction check sees them.
INSERT INTO public.ledger_entries (program_id, transaction_id, intent_id, account, type, amount,
                                   currency, created_at)
SELECT pr.id, e.txn, NULL, e.account, e.type, e.amount, pr.currency, sp.live_at - e.age
FROM public.programs pr CROSS JOIN sim_params sp
CROSS JOIN (VALUES
    ('txn_fault_unbalanced_a', 'treasury', 'debit', 250.00, interval '3 hours'),
    ('txn_fault_unbalanced_a', 'user:' || pg_temp.sim_user_id(1), 'credit', 240.00, interval '3 hours'),
    ('txn_fault_unbalanced_b', 'treasury', 'debit', 90.00, interval '2 hours'),
    ('txn_fault_unbalanced_b', 'user:' || pg_temp.sim_user_id(1), 'credit', 100.00, interval '2 hours')
) e(txn, account, type, amount, age)
WHERE pr.id = pg_temp.sim_program_id(1)
ORDER BY e.txn, e.type DESC;  -- ids from the sequence: in a fixed order
