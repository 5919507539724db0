-- DuckDB form of checks/transaction_balance.sql for the columnar engine (see ledger_balance.sql
-- beside it): one signed sum per transaction_id, mixed-currency transactions re-checked per
-- currency, a NULL currency a currency of its own (distinct from ''), the entries without a
-- transaction_id one transaction, re-checked per currency too (joined by IS NOT DISTINCT FROM,
-- which DuckDB hashes: no index to keep, and no `transaction_id IS NULL` filter, which DuckDB
-- 2.0's Parquet reader got wrong on an export — rows of another transaction read as NULL).
-- Its amounts are DECIMAL(38,6) (a ledger with more decimals runs on PostgreSQL), so round(…, 6)
-- here is exact, as `+ 0.000000` is in the PostgreSQL file.
-- It mirrors:
--   transaction_balance sha256:a43ca97a251349a85e2e4766150b330c84e80b40f72924f2e6489a9135412f59
WITH per_transaction AS (
    SELECT transaction_id,
           min(program_id) AS program_id,
           min(currency) AS currency,
           sum(CASE WHEN "type" = 'debit' THEN amount ELSE -amount END) AS difference,
           coalesce(min(currency) <> max(currency), false)
               OR (bool_or(currency IS NULL) AND max(currency) IS NOT NULL) AS mixed_currencies
    FROM ledger_entries
    GROUP BY transaction_id
    HAVING sum(CASE WHEN "type" = 'debit' THEN amount ELSE -amount END) <> 0
        OR min(currency) <> max(currency)
        OR (bool_or(currency IS NULL) AND max(currency) IS NOT NULL)
)
SELECT transaction_id, program_id, currency, round(difference, 6) AS difference
FROM per_transaction
WHERE NOT mixed_currencies
UNION ALL
SELECT e.transaction_id, min(e.program_id), e.currency,
       round(sum(CASE WHEN e."type" = 'debit' THEN e.amount ELSE -e.amount END), 6)
FROM ledger_entries e
JOIN (SELECT transaction_id FROM per_transaction WHERE mixed_currencies) AS m
    ON e.transaction_id IS NOT DISTINCT FROM m.transaction_id
GROUP BY e.transaction_id, e.currency
HAVING sum(CASE WHEN e."type" = 'debit' THEN e.amount ELSE -e.amount END) <> 0
ORDER BY transaction_id, currency
