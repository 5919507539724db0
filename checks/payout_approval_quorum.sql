-- Two-person rule: a batch that is approved, executing or executed has approvals from at least
-- :payout_approvals_required (PAYOUT_APPROVALS_REQUIRED, 2) distinct approvers. Fewer means a
-- payout went out (or may) on one person's word.
-- An approver that is the name of a console account carrying a platform id (recon 0038) counts
-- as that platform id: on SGE, recon used to send the account's name as X-Admin-Id, so a batch
-- its creator ('ops:alice') approved through recon as 'alice' holds two different strings for
-- one person. The mapping only merges approvers, never splits them: it can flag, never hide. The
-- contract platform records approver keys, and its accounts carry no platform id.
-- A person is their id without surrounding white space, in lower case, and an empty id is
-- nobody: SGE's X-Admin-Id is free text that SGE compares exactly, so its creator 'ops:alice'
-- approving as 'ops:alice ' or 'OPS:ALICE' (or a batch approved by '') passes SGE's own rule;
-- here it is one person (or none), never a second approver. Like the mapping, this only merges.
SELECT b.id AS batch_id,
       b.program_id,
       b.status,
       b.total_amount,
       count(DISTINCT who.person) AS approvals
FROM platform.payout_batches b
LEFT JOIN platform.payout_approvals a ON a.batch_id = b.id
LEFT JOIN recon.console_users u ON u.name = a.approver AND u.platform_id IS NOT NULL
CROSS JOIN LATERAL (
    SELECT nullif(lower(regexp_replace(coalesce(u.platform_id, a.approver),
                                       '^[\s\u00a0\u200b\u2060\ufeff]+|[\s\u00a0\u200b\u2060\ufeff]+$',
                                       '', 'g')), '') AS person
) AS who
WHERE b.status IN ('approved', 'executing', 'executed')
GROUP BY b.id, b.program_id, b.status, b.total_amount
HAVING count(DISTINCT who.person) < :payout_approvals_required
ORDER BY b.id
