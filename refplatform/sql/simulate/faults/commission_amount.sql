-- One accrued level-2 commission whose amount is 0.01 more than round(base_amount × rate, 2);
-- its journal entries carry the same amount, so only the amount check sees it.
CREATE TEMP TABLE sim_fault_amount ON COMMIT DROP AS
SELECT id, amount + 0.01 AS amount
FROM public.commissions WHERE status = 'accrued' AND level = 2 ORDER BY id LIMIT 1;

UPDATE public.commissions c SET amount = f.amount FROM sim_fault_amount f WHERE c.id = f.id;

UPDATE public.ledger_entries e SET amount = f.amount
FROM sim_fault_amount f WHERE e.transaction_id = 'txn_com_' || f.id;
