-- A journal transaction belongs to one program: entries of two programs under one
-- transaction_id balance each other across programs and hide an imbalance in both (a NULL
-- program counts as a program of its own). The grouping keeps only min/max per transaction; the
-- program list is built for the failing transactions alone.
WITH mixed AS (
    SELECT transaction_id
    FROM platform.ledger_entries
    GROUP BY transaction_id
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
