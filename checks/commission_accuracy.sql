-- A commission's rate must be its program's rate for its level (1 = direct, 2 = parent), and its
-- amount must be round(base_amount × rate, 2) with the commission's own rate. A cancelled
-- commission is not owed (cancelling is how a wrong one is withdrawn): it is not judged here; if
-- it was paid all the same, platform_data_integrity says so (cancelled_but_paid).
SELECT c.id AS commission_id,
       'rate' AS problem,
       CASE c.level WHEN 1 THEN p.direct_commission_rate
                    WHEN 2 THEN p.parent_commission_rate END AS expected,
       c.rate AS actual,
       c.program_id,
       c.affiliate_id
FROM platform.commissions c
LEFT JOIN platform.programs p ON p.id = c.program_id
WHERE c.rate IS DISTINCT FROM (CASE c.level WHEN 1 THEN p.direct_commission_rate
                                            WHEN 2 THEN p.parent_commission_rate END)
  AND (c.status IS NULL OR c.status <> 'cancelled')
UNION ALL
SELECT c.id, 'amount', round(round(c.base_amount * c.rate, 2), 6), c.amount, c.program_id,
       c.affiliate_id
FROM platform.commissions c
WHERE c.amount IS DISTINCT FROM round(c.base_amount * c.rate, 2)
  AND (c.status IS NULL OR c.status <> 'cancelled')
ORDER BY 1, 2
