-- Commissions on every CONFIRMED MINT/PAYMENT settlement of a referred user, as
-- commission.service.ts computes them: DIRECT to the referrer at the program's
-- "directCommissionPct"; OVERRIDE to the referrer's parent (if any) at "overrideCommissionPct",
-- with "affiliateId" = "overrideAffiliateId" = the parent; amount = round(base * rate / 100, 2).
-- week = 1 + whole weeks between the commission and as_of (payout batches are weekly).
CREATE TEMP TABLE sge_comm ON COMMIT DROP AS
SELECT c.*,
       pg_temp.sge_cuid(c.created_at, c.comm_no, 7, c.seed) AS id,
       round(c.base_amount * c.rate / 100, 2)::numeric(18,6) AS amount,
       ceil(extract(epoch FROM c.as_of - c.created_at) / 604800)::integer AS week
FROM (
    SELECT i.n * 2 + k.level - 1 AS comm_no, i.program_no, i.program_id, i.settlement_id,
           i.amount AS base_amount, sp.seed, sp.as_of,
           (i.completed_at + k.level * interval '40 milliseconds')::timestamp(3) AS created_at,
           k.level,
           CASE k.level WHEN 1 THEN 'DIRECT' ELSE 'OVERRIDE' END AS commission_type,
           CASE k.level WHEN 1 THEN a.id ELSE a.parent_id END AS affiliate_id,
           CASE k.level WHEN 1 THEN pr.direct_pct ELSE pr.override_pct END AS rate
    FROM sge_intent i
    CROSS JOIN sge_params sp
    JOIN sge_prog pr ON pr.program_no = i.program_no
    JOIN sge_user u ON u.id = i.user_id
    JOIN sge_aff a ON a.program_no = u.program_no AND a.idx = u.referrer_idx
    CROSS JOIN LATERAL (VALUES (1), (2)) k(level)
    WHERE i.status = 'CONFIRMED' AND i.type IN ('REGISTER', 'COMMERCE_PAYMENT')
      AND (k.level = 1 OR a.parent_id IS NOT NULL)
) c;
ALTER TABLE sge_comm ADD COLUMN payout_no bigint, ADD COLUMN status "CommissionStatus" DEFAULT 'ACCRUED',
    ADD COLUMN paid_at timestamp(3), ADD COLUMN updated_at timestamp(3);
ANALYZE sge_comm;
