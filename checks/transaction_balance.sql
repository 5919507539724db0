-- Every journal transaction must balance on its own, per currency: this catches unbalanced
-- transactions that offset each other and leave the program's totals looking right.
-- One signed sum per transaction_id is the fastest form (DESIGN §5; grouping by
-- (transaction_id, currency) measured ~6x slower at 4.8 M entries). Transactions that mix
-- currencies are rare: they are flagged by min/max(currency) and re-checked per currency.
-- A NULL currency is a currency of its own, distinct from '' and from every other value (as
-- GROUP BY takes it): min/max ignore NULLs, so a transaction also mixes currencies when some of
-- its entries have a currency and others none (bool_or(currency IS NULL), max not NULL). A
-- debit in USD and a credit without currency, or a debit in '' and a credit in NULL, are never
-- taken for a balanced pair. The entries without a transaction_id are one transaction (GROUP BY
-- groups them) and are re-checked per currency like any other: `IN` never matches a NULL, so
-- their re-read is a branch of its own, run only when that group mixes currencies.
-- Exact, never rounded: `+ 0.000000` keeps every decimal a plain numeric (or a profile's
-- DECIMAL(28,8)) holds and shows at least six (numeric addition keeps the larger scale).
-- round(…, 6) showed a transaction off by 0.0000001 as "difference 0.000000" on a failing check.
-- Never a cast to numeric(38,6) either: a sum can exceed 38 digits and the check must not
-- overflow.
--
-- The entries are grouped from a sorted input (sorted_entries) in byte order (COLLATE "C": the
-- same groups as the column's collation, which is deterministic, and a far cheaper sort): the
-- planner then streams one GroupAggregate over a sort instead of hashing. It estimates ~10x
-- fewer transactions than there are (n_distinct), so it otherwise picks a hash aggregate
-- (parallel partial aggregates that merge nothing: ~2 entries per transaction) that spills at
-- any work_mem: at 10 M entries 3x slower. The key goes back to the column's collation
-- ("default") for the output's order and the re-read through the transaction_id index.
WITH per_transaction AS (
    SELECT transaction_key,
           min(program_id) AS program_id,
           min(currency) AS currency,
           sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference,
           coalesce(min(currency) <> max(currency), false)
               OR (bool_or(currency IS NULL) AND max(currency) IS NOT NULL) AS mixed_currencies
    FROM (SELECT transaction_id COLLATE "C" AS transaction_key, program_id, currency, type,
                 amount
          FROM platform.ledger_entries
          ORDER BY 1) AS sorted_entries
    GROUP BY transaction_key
    HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
        OR min(currency) <> max(currency)
        OR (bool_or(currency IS NULL) AND max(currency) IS NOT NULL)
)
SELECT transaction_key COLLATE "default" AS transaction_id, program_id, currency,
       difference + 0.000000 AS difference
FROM per_transaction
WHERE NOT mixed_currencies
UNION ALL
SELECT e.transaction_id, min(e.program_id), e.currency,
       sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END) + 0.000000
FROM (SELECT transaction_id, program_id, currency, type, amount
      FROM platform.ledger_entries
      WHERE transaction_id IN (SELECT transaction_key COLLATE "default" FROM per_transaction
                               WHERE mixed_currencies)
      UNION ALL
      SELECT transaction_id, program_id, currency, type, amount
      FROM platform.ledger_entries
      WHERE transaction_id IS NULL
        AND EXISTS (SELECT 1 FROM per_transaction
                    WHERE transaction_key IS NULL AND mixed_currencies)) AS e
GROUP BY e.transaction_id, e.currency
HAVING sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END) <> 0
ORDER BY transaction_id, currency
