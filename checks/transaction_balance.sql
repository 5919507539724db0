-- Every journal transaction must balance on its own, per currency: this catches unbalanced
-- transactions that offset each other and leave the program's totals looking right.
-- One signed sum per transaction is the fastest form at 10 M entries (DESIGN §5).
SELECT transaction_id,
       min(program_id) AS program_id,
       currency,
       sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END)::numeric(38,6) AS difference
FROM public.ledger_entries
GROUP BY transaction_id, currency
HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
ORDER BY transaction_id, currency
