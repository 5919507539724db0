-- One accrued level-1 commission booked at twice its program's direct rate. Its amount is
-- consistent with that wrong rate, and its journal entries carry that amount, so the ledger and
-- the commission totals still agree: only the rate is wrong.
CREATE TEMP TABLE sim_fault_rate ON COMMIT DROP AS
SELECT id, round(base_amount * rate * 2, 2) AS amount
FROM public.commissions WHERE status = 'accrued' AND level = 1 ORDER BY id LIMIT 1;

UPDATE public.commissions c SET rate = c.rate * 2, amount = f.amount
FROM sim_fault_rate f WHERE c.id = f.id;

UPDATE public.ledger_entries e SET amount = f.amount
FROM sim_fault_rate f WHERE e.transaction_id = 'txn_com_' || f.id;
