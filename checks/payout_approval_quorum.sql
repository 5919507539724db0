-- Two-person rule: a batch that is approved, executing or executed has approvals from at least
-- :payout_approvals_required (PAYOUT_APPROVALS_REQUIRED, 2) distinct approvers. Fewer means a
-- payout went out (or may) on one person's word.
SELECT b.id AS batch_id,
       b.program_id,
       b.status,
       b.total_amount,
       count(DISTINCT a.approver) AS approvals
FROM platform.payout_batches b
LEFT JOIN platform.payout_approvals a ON a.batch_id = b.id
WHERE b.status IN ('approved', 'executing', 'executed')
GROUP BY b.id, b.program_id, b.status, b.total_amount
HAVING count(DISTINCT a.approver) < :payout_approvals_required
ORDER BY b.id
