-- payout_sla: two ad-hoc batches past the 24 h SLA. Program 0: PENDING, created 30 h ago, never
-- approved. Program 1: APPROVED 30 h ago (created 40 h ago), never executed. Each pays the current
-- week's ACCRUED commissions of up to three affiliates (now PAYABLE, linked to its line items).
CREATE TEMP TABLE sge_f_sla ON COMMIT DROP AS
SELECT pr.program_no, pr.id AS program_id,
       CASE pr.program_no WHEN 0 THEN 'PENDING' ELSE 'APPROVED' END::"PayoutStatus" AS status,
       (sp.as_of - CASE pr.program_no WHEN 0 THEN interval '30 hours' ELSE interval '40 hours' END)::timestamp(3)
           AS created_at,
       CASE pr.program_no WHEN 1 THEN (sp.as_of - interval '30 hours')::timestamp(3) END AS approved_at,
       pg_temp.sge_cuid(sp.as_of - interval '30 hours', 900 + pr.program_no, 50, sp.seed) AS id,
       'adhoc-' || to_char(sp.as_of, 'YYYY-MM-DD') || '-' || pr.program_no AS period,
       sp.seed
FROM sge_params sp JOIN sge_prog pr ON pr.program_no IN (0, 1);

CREATE TEMP TABLE sge_f_sla_line ON COMMIT DROP AS
SELECT b.id AS batch_id, b.program_id, b.period, b.created_at, b.seed, x.affiliate_id, x.amount,
       pg_temp.sge_cuid(b.created_at, 9000 + b.program_no * 10 + x.rn, 51, b.seed) AS id
FROM sge_f_sla b
CROSS JOIN LATERAL (
    SELECT c."affiliateId" AS affiliate_id, sum(c."amount") AS amount,
           row_number() OVER (ORDER BY c."affiliateId") AS rn
    FROM public."Commission" c
    WHERE c."programId" = b.program_id AND c."status" = 'ACCRUED' AND c."payoutId" IS NULL
    GROUP BY c."affiliateId"
    ORDER BY c."affiliateId"
    LIMIT 3
) x;

INSERT INTO public."PayoutBatch" ("id", "programId", "period", "totalAmount", "affiliateCount",
    "status", "createdById", "approvedById", "approvedAt", "createdAt", "updatedAt")
SELECT b.id, b.program_id, b.period,
       coalesce((SELECT sum(l.amount) FROM sge_f_sla_line l WHERE l.batch_id = b.id), 0),
       (SELECT count(*) FROM sge_f_sla_line l WHERE l.batch_id = b.id),
       b.status, 'ops:carlos', CASE WHEN b.approved_at IS NOT NULL THEN 'finance:erin' END,
       b.approved_at, b.created_at, coalesce(b.approved_at, b.created_at)
FROM sge_f_sla b;

INSERT INTO public."Payout" ("id", "programId", "affiliateId", "batchId", "idempotencyKey",
    "amount", "currency", "method", "destination", "status", "createdAt", "updatedAt")
SELECT l.id, l.program_id, l.affiliate_id, l.batch_id,
       'payout:' || l.program_id || ':' || l.affiliate_id || ':' || l.period, l.amount, 'USD',
       'ONCHAIN_USDC', a."wallet", 'PENDING', l.created_at, l.created_at
FROM sge_f_sla_line l JOIN public."Affiliate" a ON a."id" = l.affiliate_id;

UPDATE public."Commission" c SET "status" = 'PAYABLE', "payoutId" = l.id, "updatedAt" = l.created_at
FROM sge_f_sla_line l
WHERE c."programId" = l.program_id AND c."affiliateId" = l.affiliate_id
  AND c."status" = 'ACCRUED' AND c."payoutId" IS NULL;

INSERT INTO sge_expect (fault, ident) SELECT 'payout_sla', to_jsonb(id) FROM sge_f_sla;
INSERT INTO sge_expect (fault, kind, ident)
SELECT 'payout_sla', 'detail', jsonb_build_object('batchId', b.id, 'status', b.status,
       'age_hours', 30, 'since', coalesce(b.approved_at, b.created_at))
FROM sge_f_sla b;
