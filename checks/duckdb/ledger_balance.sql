-- DuckDB form of checks/ledger_balance.sql for the columnar engine (`check --engine duckdb`),
-- over the view ledger_entries (proven exported months + the live tail). Same columns, order,
-- rounding and NULL handling; a sum beyond DECIMAL(38) raises and the check runs on PostgreSQL.
-- Its amounts are DECIMAL(38,6) (a ledger with more decimals runs on PostgreSQL), so round(…, 6)
-- here is exact, as `+ 0.000000` is in the PostgreSQL file.
-- It mirrors (when the PostgreSQL file changes, this one stands aside until brought in line):
--   ledger_balance sha256:076f985918c13fcca21299b71774835cb9bbacf95e25e151c7536450f4cdc95e
SELECT program_id,
       currency,
       round(coalesce(sum(amount) FILTER (WHERE "type" = 'debit'), 0), 6)  AS total_debits,
       round(coalesce(sum(amount) FILTER (WHERE "type" = 'credit'), 0), 6) AS total_credits,
       round(coalesce(sum(amount) FILTER (WHERE "type" = 'debit'), 0)
             - coalesce(sum(amount) FILTER (WHERE "type" = 'credit'), 0), 6) AS difference
FROM ledger_entries
GROUP BY program_id, currency
HAVING abs(coalesce(sum(amount) FILTER (WHERE "type" = 'debit'), 0)
           - coalesce(sum(amount) FILTER (WHERE "type" = 'credit'), 0)) >= $ledger_tolerance
ORDER BY abs(coalesce(sum(amount) FILTER (WHERE "type" = 'debit'), 0)
             - coalesce(sum(amount) FILTER (WHERE "type" = 'credit'), 0)) DESC, program_id, currency
