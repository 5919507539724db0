-- A journal transaction belongs to one program: entries of two programs under one
-- transaction_id balance each other across programs and hide an imbalance in both. A NULL
-- program is a program of its own, distinct from '' and from every other value: min/max ignore
-- NULLs, so a transaction also mixes programs when some of its entries have a program and others
-- none (bool_or(program_id IS NULL), max not NULL). The grouping keeps only min/max and a flag
-- per transaction; the program list is built for the failing transactions alone, '(null)' for
-- the NULL program and '(empty)' for ''. The entries without a transaction_id are one
-- transaction (GROUP BY groups them): a join never matches a NULL, so they are re-read by a
-- branch of their own, run only when that group mixes programs.
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
    HAVING min(program_id) <> max(program_id)
        OR (bool_or(program_id IS NULL) AND max(program_id) IS NOT NULL)
)
SELECT e.transaction_id,
       count(DISTINCT e.program_id) + (count(*) > count(e.program_id))::int AS programs,
       string_agg(DISTINCT CASE e.program_id WHEN '' THEN '(empty)'
                                ELSE coalesce(e.program_id, '(null)') END, ', ') AS program_ids,
       count(*) AS entries
FROM (SELECT e.transaction_id, e.program_id
      FROM mixed m
      JOIN platform.ledger_entries e ON e.transaction_id = m.transaction_id
      UNION ALL
      SELECT transaction_id, program_id
      FROM platform.ledger_entries
      WHERE transaction_id IS NULL
        AND EXISTS (SELECT 1 FROM mixed WHERE transaction_id IS NULL)) AS e
GROUP BY e.transaction_id
ORDER BY e.transaction_id
