-- DuckDB form of checks/commission_ledger.sql for the columnar engine (see ledger_balance.sql
-- beside it): the commission totals per affiliate come from PostgreSQL (commission_totals, the
-- same snapshot as the live tail), the ledger's credits to 'affiliate:<id>' from ledger_entries.
-- Its amounts are DECIMAL(38,6) (a ledger with more decimals runs on PostgreSQL), so round(…, 6)
-- here is exact, as `+ 0.000000` is in the PostgreSQL file.
-- It mirrors:
--   commission_ledger sha256:ef8d2201449d397584f2008652a2b9a5289f6e5db273fb31cc32e2480dc0f559
WITH ledger_totals AS (
    SELECT substr(account, length('affiliate:') + 1) AS affiliate_id, sum(amount) AS total
    FROM ledger_entries
    WHERE "type" = 'credit' AND account LIKE 'affiliate:%' AND account NOT LIKE 'affiliate:%:%'
    GROUP BY account
)
SELECT coalesce(c.affiliate_id, l.affiliate_id) AS affiliate_id,
       round(coalesce(c.total, 0), 6) AS commissions_total,
       round(coalesce(l.total, 0), 6) AS ledger_total
FROM commission_totals c
FULL JOIN ledger_totals l ON l.affiliate_id = c.affiliate_id
WHERE coalesce(c.total, 0) <> coalesce(l.total, 0)
ORDER BY 1
