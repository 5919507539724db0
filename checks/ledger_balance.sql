-- Per program and currency, total debits must equal total credits (double entry).
-- A difference of at least :ledger_tolerance (0.01) is an imbalance; 0.004 is rounding noise.
SELECT program_id,
       currency,
       coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0)::numeric(38,6)  AS total_debits,
       coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0)::numeric(38,6) AS total_credits,
       (coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0)
        - coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0))::numeric(38,6) AS difference
FROM platform.ledger_entries
GROUP BY program_id, currency
HAVING abs(coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0)
           - coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0)) >= :ledger_tolerance
ORDER BY abs(coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0)
             - coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0)) DESC, program_id, currency
