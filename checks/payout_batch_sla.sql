-- Batches waiting for approval longer than :payout_sla_hours after creation, or approved and
-- not executed longer than :payout_sla_hours after approval.
SELECT id AS batch_id,
       program_id,
       status,
       affiliate_count,
       total_amount,
       round(extract(epoch FROM now() - waiting_since) / 3600, 2) AS age_hours
FROM (
    SELECT b.*,
           CASE WHEN b.status = 'pending_approval' THEN b.created_at
                ELSE coalesce(b.approved_at, b.created_at) END AS waiting_since
    FROM platform.payout_batches b
    WHERE b.status IN ('pending_approval', 'approved')
) open_batches
WHERE waiting_since < now() - interval '1 hour' * :payout_sla_hours
ORDER BY waiting_since, id
