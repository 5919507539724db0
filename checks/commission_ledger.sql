-- Per affiliate, the commissions accrued must equal the ledger's credits to 'affiliate:<id>'
-- (an affiliate commission debits treasury and credits the affiliate's account).
WITH commission_totals AS (
    SELECT affiliate_id, sum(amount) AS total
    FROM platform.commissions
    GROUP BY affiliate_id
), ledger_totals AS (
    -- grouped in byte order: only "is it the same account?" is asked, the same under any
    -- deterministic collation, and a sort (where the planner sorts: a profile's computed account
    -- has no statistics) compares bytes instead of the database's collation
    SELECT substr(account_key, length('affiliate:') + 1) COLLATE "default" AS affiliate_id,
           sum(amount) AS total
    FROM (SELECT account COLLATE "C" AS account_key, amount
          FROM platform.ledger_entries e
          -- 'affiliate:<id>' exactly: sub-accounts such as 'affiliate:<id>:paid' are not the
          -- commission account (ids never hold a colon). e.type qualified: under a profile that
          -- maps type from the platform's own column, the test is made on that column
          -- (db/status_predicates.py)
          WHERE e.type = 'credit' AND account LIKE 'affiliate:%'
            AND account NOT LIKE 'affiliate:%:%') AS credits
    GROUP BY account_key
)
SELECT coalesce(c.affiliate_id, l.affiliate_id) AS affiliate_id,
       -- exact (at least six decimals, none rounded away): rounded, 10.0000001 and 10 both
       -- read 10.000000 on a failing row
       coalesce(c.total, 0) + 0.000000 AS commissions_total,
       coalesce(l.total, 0) + 0.000000 AS ledger_total
FROM commission_totals c
FULL JOIN ledger_totals l ON l.affiliate_id = c.affiliate_id
WHERE coalesce(c.total, 0) <> coalesce(l.total, 0)
ORDER BY 1
