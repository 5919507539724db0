-- Per program and currency, total debits must equal total credits (double entry).
-- A difference of at least :ledger_tolerance (0.01) is an imbalance; 0.004 is rounding noise.
-- Exact: `+ 0.000000` shows at least six decimals and rounds none away (a plain numeric column
-- holds more). Never ::numeric(38,6): a sum of numeric(38,6) amounts can exceed 38 digits, and a
-- check that overflows would error for ever on an append-only ledger. A NULL program or currency
-- groups on its own (and platform_data_integrity flags the rows).
SELECT program_id,
       currency,
       coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0) + 0.000000  AS total_debits,
       coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0) + 0.000000 AS total_credits,
       coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0)
           - coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0) + 0.000000 AS difference
FROM platform.ledger_entries
GROUP BY program_id, currency
HAVING abs(coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0)
           - coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0)) >= :ledger_tolerance
ORDER BY abs(coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0)
             - coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0)) DESC, program_id, currency
