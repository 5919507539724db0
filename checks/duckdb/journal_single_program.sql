-- DuckDB form of checks/journal_single_program.sql for the columnar engine (see
-- ledger_balance.sql beside it); string_agg names its ORDER BY (PostgreSQL's DISTINCT sorts).
-- It mirrors:
--   journal_single_program sha256:6170269efe2099c61267dc363cdbc0859c48a4b789efca41a782c081468b378b
WITH mixed AS (
    SELECT transaction_id
    FROM ledger_entries
    GROUP BY transaction_id
    HAVING min(coalesce(program_id, '')) <> max(coalesce(program_id, ''))
)
SELECT m.transaction_id,
       count(DISTINCT coalesce(e.program_id, '')) AS programs,
       string_agg(DISTINCT coalesce(e.program_id, '(null)'), ', '
                  ORDER BY coalesce(e.program_id, '(null)')) AS program_ids,
       count(*) AS entries
FROM mixed m
JOIN ledger_entries e ON e.transaction_id = m.transaction_id
GROUP BY m.transaction_id
ORDER BY m.transaction_id
