-- "AuditLog": what the admin API and the services record: programs and affiliates created,
-- payout batches created, approved, executed, failed or cancelled.
INSERT INTO public."AuditLog" ("id", "programId", "action", "actorId", "actorType", "targetType",
    "targetId", "before", "after", "metadata", "createdAt")
SELECT pg_temp.sge_cuid(e.at, e.k, 10, sp.seed), e.program_id, e.action, e.actor_id, e.actor_type,
       e.target_type, e.target_id, e.before, e.after, e.metadata, e.at
FROM sge_params sp
CROSS JOIN LATERAL (
    SELECT row_number() OVER (ORDER BY x.at, x.target_id, x.action) AS k, x.*
    FROM (
        SELECT pr.id AS program_id, 'PROGRAM_CREATED' AS action, 'admin:root' AS actor_id,
               'ADMIN' AS actor_type, 'Program' AS target_type, pr.id AS target_id,
               NULL::jsonb AS before, jsonb_build_object('slug', pr.slug, 'status', pr.status) AS after,
               NULL::jsonb AS metadata, pr.created_at AS at
        FROM sge_prog pr
        UNION ALL
        SELECT pr.id, 'AFFILIATE_CREATED', a.wallet, 'AFFILIATE', 'Affiliate', a.id, NULL,
               jsonb_build_object('referralCode', a.referral_code, 'parentId', a.parent_id,
                                  'depth', a.depth),
               NULL, a.created_at
        FROM sge_aff a JOIN sge_prog pr USING (program_no)
        UNION ALL
        SELECT b.program_id, 'PAYOUT_BATCH_CREATED', b.created_by, 'ADMIN', 'PayoutBatch', b.id, NULL,
               jsonb_build_object('period', b.period, 'totalAmount', b.total_amount::text,
                                  'affiliateCount', b.affiliate_count, 'status', 'PENDING'),
               NULL, b.created_at
        FROM sge_batch b
        UNION ALL
        SELECT b.program_id, 'PAYOUT_APPROVED', b.approved_by, 'ADMIN', 'PayoutBatch', b.id,
               jsonb_build_object('status', 'PENDING'), jsonb_build_object('status', 'APPROVED'),
               jsonb_build_object('createdById', b.created_by), b.approved_at
        FROM sge_batch b WHERE b.approved_at IS NOT NULL
        UNION ALL
        SELECT b.program_id, 'PAYOUT_EXECUTED', b.approved_by, 'ADMIN', 'PayoutBatch', b.id,
               jsonb_build_object('status', 'APPROVED'), jsonb_build_object('status', 'PROCESSING'),
               NULL, b.approved_at + interval '10 minutes'
        FROM sge_batch b WHERE b.status IN ('PROCESSING', 'COMPLETED', 'FAILED')
        UNION ALL
        SELECT b.program_id, 'PAYOUT_' || b.status::text, 'system', 'SYSTEM', 'PayoutBatch', b.id,
               jsonb_build_object('status', 'PROCESSING'), jsonb_build_object('status', b.status),
               NULL, coalesce(b.executed_at, b.created_at + interval '8 hours')
        FROM sge_batch b WHERE b.status IN ('COMPLETED', 'FAILED')
        UNION ALL
        SELECT b.program_id, 'PAYOUT_CANCELLED', b.created_by, 'ADMIN', 'PayoutBatch', b.id,
               jsonb_build_object('status', 'PENDING'), jsonb_build_object('status', 'CANCELLED'),
               NULL, b.created_at + interval '8 hours'
        FROM sge_batch b WHERE b.status = 'CANCELLED'
    ) x
) e;
