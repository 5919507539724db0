-- Weekly payout batches per program, created after the week closed, one "Payout" line item per
-- affiliate (its commissions of that week). The current week (1) is not batched yet: ACCRUED.
--   week 2: program 0 PENDING (created 3 h ago), 1 APPROVED (approved 2 h ago), 2 PROCESSING
--           (half of its line items already COMPLETED, as the payouts worker leaves it);
--   week 3: program 0 COMPLETED, 1 FAILED, 2 CANCELLED;  older weeks: COMPLETED.
-- A COMPLETED line item has its journal (refType PAYOUT, refId = the payout id: debit
-- affiliate:<aid>:liability, credit program treasury) and its commissions PAID ("payoutId",
-- "paidAt"); the commissions of other line items are PAYABLE with "payoutId" (a CANCELLED
-- batch released them: PAYABLE, no "payoutId"). Creator and approver always differ.
CREATE TEMP TABLE sge_batch ON COMMIT DROP AS
WITH weeks AS (
    SELECT DISTINCT c.program_no, c.program_id, c.week FROM sge_comm c WHERE c.week >= 2
)
SELECT w.program_no, w.program_id, w.week,
       pg_temp.sge_cuid(t.created_at, w.program_no * 100 + w.week, 8, sp.seed) AS id,
       to_char(sp.as_of - w.week * interval '7 days', 'IYYY-"W"IW') AS period,
       st.status, t.created_at,
       CASE WHEN st.status IN ('APPROVED', 'PROCESSING', 'COMPLETED', 'FAILED')
            THEN CASE WHEN w.week = 2 AND st.status = 'APPROVED' THEN sp.as_of - interval '2 hours'
                      WHEN w.week = 2 THEN sp.as_of - interval '14 hours'
                      ELSE t.created_at + interval '5 hours' END END::timestamp(3) AS approved_at,
       (ARRAY['ops:alice', 'ops:carlos', 'ops:dana'])[1 + (w.week + w.program_no) % 3] AS created_by,
       (ARRAY['finance:bob', 'finance:erin'])[1 + w.week % 2] AS approved_by,
       sp.seed
FROM weeks w
CROSS JOIN sge_params sp
CROSS JOIN LATERAL (SELECT CASE
        WHEN w.week = 2 THEN (ARRAY['PENDING', 'APPROVED', 'PROCESSING'])[1 + w.program_no % 3]
        WHEN w.week = 3 THEN (ARRAY['COMPLETED', 'FAILED', 'CANCELLED'])[1 + w.program_no % 3]
        ELSE 'COMPLETED' END::"PayoutStatus" AS status) st
CROSS JOIN LATERAL (SELECT CASE
        WHEN w.week = 2 THEN sp.as_of - (ARRAY[3, 10, 20])[1 + w.program_no % 3] * interval '1 hour'
        ELSE sp.as_of - (w.week - 1) * interval '7 days' + interval '26 hours'
        END::timestamp(3) AS created_at) t;

-- line items: one per (batch, affiliate)
CREATE TEMP TABLE sge_payout ON COMMIT DROP AS
SELECT s.*,
       pg_temp.sge_cuid(s.created_at, s.payout_no, 9, s.seed) AS id,
       CASE WHEN s.line_status = 'COMPLETED'
            THEN '0x' || pg_temp.sge_hex(s.seed, 'payout-tx:' || s.payout_no, 32)
                      || pg_temp.sge_hex(s.seed, 'payout-tx2:' || s.payout_no, 32) END AS tx_hash,
       CASE WHEN s.line_status = 'COMPLETED'
            THEN coalesce(s.batch_approved_at, s.created_at) + interval '1 hour'
                 + (s.rn % 600) * interval '1 second' END::timestamp(3) AS executed_at
FROM (
    SELECT g.*,
           row_number() OVER (ORDER BY g.program_no, g.week, g.affiliate_id) AS payout_no,
           CASE WHEN g.batch_status IN ('PENDING', 'APPROVED') THEN 'PENDING'
                WHEN g.batch_status = 'PROCESSING' THEN CASE WHEN g.rn % 2 = 0 THEN 'COMPLETED'
                                                             ELSE 'PENDING' END
                ELSE g.batch_status::text END::"PayoutStatus" AS line_status
    FROM (
        SELECT b.program_no, b.program_id, b.week, b.id AS batch_id, b.period,
               b.status AS batch_status, b.created_at, b.approved_at AS batch_approved_at, b.seed,
               c.affiliate_id, sum(c.amount)::numeric(18,6) AS amount,
               row_number() OVER (PARTITION BY b.id ORDER BY c.affiliate_id) AS rn
        FROM sge_batch b JOIN sge_comm c ON c.program_no = b.program_no AND c.week = b.week
        GROUP BY b.program_no, b.program_id, b.week, b.id, b.period, b.status, b.created_at,
                 b.approved_at, b.seed, c.affiliate_id
    ) g
) s;
ANALYZE sge_payout;

-- batch execution time: the last line item's (COMPLETED batches only)
ALTER TABLE sge_batch ADD COLUMN executed_at timestamp(3), ADD COLUMN total_amount numeric(18,6),
    ADD COLUMN affiliate_count integer;
UPDATE sge_batch b SET total_amount = p.total, affiliate_count = p.cnt,
       executed_at = CASE WHEN b.status = 'COMPLETED' THEN p.last_exec END
FROM (SELECT batch_id, sum(amount) AS total, count(*) AS cnt, max(executed_at) AS last_exec
      FROM sge_payout GROUP BY batch_id) p
WHERE p.batch_id = b.id;

UPDATE sge_comm c SET
    payout_no = CASE WHEN p.batch_status <> 'CANCELLED' THEN p.payout_no END,
    status = CASE WHEN p.line_status = 'COMPLETED' THEN 'PAID' ELSE 'PAYABLE' END::"CommissionStatus",
    paid_at = CASE WHEN p.line_status = 'COMPLETED' THEN p.executed_at END,
    updated_at = CASE WHEN p.line_status = 'COMPLETED' THEN p.executed_at ELSE p.created_at END
FROM sge_payout p
WHERE p.program_no = c.program_no AND p.week = c.week AND p.affiliate_id = c.affiliate_id;

INSERT INTO public."PayoutBatch" ("id", "programId", "period", "totalAmount", "affiliateCount",
    "status", "createdById", "approvedById", "approvedAt", "executedAt", "executionTxHash",
    "createdAt", "updatedAt")
SELECT b.id, b.program_id, b.period, b.total_amount, b.affiliate_count, b.status, b.created_by,
       CASE WHEN b.approved_at IS NOT NULL THEN b.approved_by END, b.approved_at, b.executed_at,
       CASE WHEN b.status = 'COMPLETED'
            THEN '0x' || pg_temp.sge_hex(b.seed, 'batch-tx:' || b.id, 64) END,
       b.created_at,
       greatest(b.created_at, b.approved_at, b.executed_at,
                CASE WHEN b.status IN ('FAILED', 'CANCELLED') THEN b.created_at + interval '8 hours'
                     WHEN b.status = 'PROCESSING' THEN b.approved_at + interval '1 hour' END)
FROM sge_batch b;

INSERT INTO public."Payout" ("id", "programId", "affiliateId", "batchId", "idempotencyKey",
    "amount", "currency", "method", "destination", "status", "txHash", "executedAt",
    "errorMessage", "createdAt", "updatedAt")
SELECT p.id, p.program_id, p.affiliate_id, p.batch_id,
       'payout:' || p.program_id || ':' || p.affiliate_id || ':' || p.period, p.amount, 'USD',
       'ONCHAIN_USDC', a.wallet, p.line_status, p.tx_hash, p.executed_at,
       CASE WHEN p.line_status = 'FAILED' THEN 'On-chain payout reverted: transfer amount exceeds allowance' END,
       p.created_at,
       coalesce(p.executed_at, CASE WHEN p.line_status IN ('FAILED', 'CANCELLED')
                                    THEN p.created_at + interval '8 hours' END, p.created_at)
FROM sge_payout p JOIN sge_aff a ON a.id = p.affiliate_id;
