-- DuckDB form of checks/journal_single_program.sql for the columnar engine (see
-- ledger_balance.sql beside it): a NULL program is one of its own, distinct from '' ('(null)'
-- and '(empty)' in the list), the entries without a transaction_id one transaction (joined by IS
-- NOT DISTINCT FROM, which DuckDB hashes: no index to keep, and no `transaction_id IS NULL`
-- filter, which DuckDB 2.0's Parquet reader got wrong on an export — rows of another transaction
-- read as NULL); string_agg names its ORDER BY (PostgreSQL's DISTINCT sorts).
-- It mirrors:
--   journal_single_program sha256:b5c8e78e795cd8040a3ed0373e536d0708a0887f7f2d467ffc225bf4266c9467
WITH mixed AS (
    SELECT transaction_id
    FROM ledger_entries
    GROUP BY transaction_id
    HAVING min(program_id) <> max(program_id)
        OR (bool_or(program_id IS NULL) AND max(program_id) IS NOT NULL)
)
SELECT e.transaction_id,
       count(DISTINCT e.program_id) + CAST(count(*) > count(e.program_id) AS INTEGER) AS programs,
       string_agg(DISTINCT CASE e.program_id WHEN '' THEN '(empty)'
                                ELSE coalesce(e.program_id, '(null)') END, ', '
                  ORDER BY CASE e.program_id WHEN '' THEN '(empty)'
                                ELSE coalesce(e.program_id, '(null)') END) AS program_ids,
       count(*) AS entries
FROM mixed m
JOIN ledger_entries e ON e.transaction_id IS NOT DISTINCT FROM m.transaction_id
GROUP BY e.transaction_id
ORDER BY e.transaction_id
