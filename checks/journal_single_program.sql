-- A journal transaction belongs to one program: entries of two programs under one
-- transaction_id balance each other across programs and hide an imbalance in both (a NULL
-- program counts as a program of its own). The grouping keeps only min/max per transaction; the
-- program list is built for the failing transactions alone.
--
-- Grouped from a sorted input in byte order, as transaction_balance (see there: the planner
-- otherwise hashes ~10x more transactions than it estimates and spills); the key goes back to
-- the column's collation ("default") for the join through the transaction_id index and the order.
WITH mixed AS (
    SELECT transaction_key COLLATE "default" AS transaction_id
    FROM (SELECT transaction_id COLLATE "C" AS transaction_key, program_id
          FROM platform.ledger_entries
          ORDER BY 1) AS sorted_entries
    GROUP BY transaction_key
    HAVING min(coalesce(program_id, '')) <> max(coalesce(program_id, ''))
)
SELECT m.transaction_id,
       count(DISTINCT coalesce(e.program_id, '')) AS programs,
       string_agg(DISTINCT coalesce(e.program_id, '(null)'), ', ') AS program_ids,
       count(*) AS entries
FROM mixed m
JOIN platform.ledger_entries e ON e.transaction_id = m.transaction_id
GROUP BY m.transaction_id
ORDER BY m.transaction_id
