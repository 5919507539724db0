-- DuckDB form of checks/transaction_balance.sql for the columnar engine (see ledger_balance.sql
-- beside it): one signed sum per transaction_id, mixed-currency transactions re-checked per
-- currency, a NULL currency a currency of its own.
-- It mirrors:
--   transaction_balance sha256:03857f69985483400fdfd6d236f668e7c69024cfe3c9dd3e9a89b3f3016ea1e7
WITH per_transaction AS (
    SELECT transaction_id,
           min(program_id) AS program_id,
           min(coalesce(currency, '')) AS currency,
           max(coalesce(currency, '')) AS last_currency,
           sum(CASE WHEN "type" = 'debit' THEN amount ELSE -amount END) AS difference
    FROM ledger_entries
    GROUP BY transaction_id
    HAVING sum(CASE WHEN "type" = 'debit' THEN amount ELSE -amount END) <> 0
        OR min(coalesce(currency, '')) <> max(coalesce(currency, ''))
)
SELECT transaction_id, program_id, nullif(currency, '') AS currency,
       round(difference, 6) AS difference
FROM per_transaction
WHERE currency = last_currency
UNION ALL
SELECT e.transaction_id, min(e.program_id), e.currency,
       round(sum(CASE WHEN e."type" = 'debit' THEN e.amount ELSE -e.amount END), 6)
FROM ledger_entries e
WHERE e.transaction_id IN (SELECT transaction_id FROM per_transaction
                           WHERE currency <> last_currency)
GROUP BY e.transaction_id, e.currency
HAVING sum(CASE WHEN e."type" = 'debit' THEN e.amount ELSE -e.amount END) <> 0
ORDER BY transaction_id, currency
