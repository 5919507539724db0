-- A payout batch's total_amount is the sum of the commissions gathered in it (rejected and
-- failed batches release their commissions and are not compared). A total above the sum pays
-- money no commission accounts for; below, affiliates are short-paid.
WITH gathered AS (
    SELECT c.payout_batch_id, sum(c.amount) AS total
    FROM platform.commissions c
    -- a cancelled commission is not owed: a total that still holds it pays money for nothing
    WHERE c.payout_batch_id IS NOT NULL AND (c.status IS NULL OR c.status <> 'cancelled')
    GROUP BY c.payout_batch_id
)
SELECT b.id AS batch_id,
       b.program_id,
       b.status,
       b.total_amount,
       -- exact (at least six decimals, none rounded away): rounded, a batch off by 0.0000001
       -- read "difference 0.000000" on a failing row
       coalesce(g.total, 0) + 0.000000 AS commissions_total,
       b.total_amount - coalesce(g.total, 0) + 0.000000 AS difference
FROM platform.payout_batches b
LEFT JOIN gathered g ON g.payout_batch_id = b.id
WHERE (b.status IS NULL OR b.status NOT IN ('rejected', 'failed'))
  AND b.total_amount IS DISTINCT FROM coalesce(g.total, 0)
ORDER BY b.id
