-- Reference (tests/test_checks_rewrites.py): transaction_balance stated plainly, one group per
-- transaction and currency (the definition; ~6x slower than checks/transaction_balance.sql at
-- 4.8 M entries). GROUP BY takes a NULL transaction_id as one transaction and a NULL currency as a
-- currency of its own, distinct from '' — the semantics the check must give. (The check's earlier
-- text, kept here before, took NULL and '' as one currency and never re-checked the NULL
-- transaction per currency: it no longer defines the rows.) A transaction of one currency gives
-- the same row either way: its min(program_id) and its sum.
SELECT transaction_id, min(program_id) AS program_id, currency,
       round(sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END), 6) AS difference
FROM platform.ledger_entries
GROUP BY transaction_id, currency
HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
ORDER BY transaction_id, currency
