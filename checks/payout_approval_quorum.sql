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
-- Nor do characters that show nothing, or look like others, make a second person: the id is
-- read in Unicode NFKC (full-width 'ｏｐｓ:ａｌｉｃｅ' and 'ops:alice１' are 'ops:alice' and
-- 'ops:alice1') without the invisible format characters anywhere in it (a right-to-left mark
-- after 'ops:alice', a zero-width space or soft hyphen inside it, variation selectors, fillers):
-- SGE's creator typing 'ops:alice' + U+200F as X-Admin-Id passes SGE's own rule, and on a screen
-- it is 'ops:alice'. sge_recon/console/sge_identity.py.same_person reads ids the same way.
SELECT b.id AS batch_id,
       b.program_id,
       b.status,
       b.total_amount,
       count(DISTINCT who.person) AS approvals
FROM platform.payout_batches b
LEFT JOIN platform.payout_approvals a ON a.batch_id = b.id
LEFT JOIN recon.console_users u ON u.name = a.approver AND u.platform_id IS NOT NULL
CROSS JOIN LATERAL (
    SELECT nullif(lower(regexp_replace(regexp_replace(
               normalize(coalesce(u.platform_id, a.approver), NFKC),
               '[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]',
               '', 'g'),
             '^[\s\u00a0]+|[\s\u00a0]+$', '', 'g')), '') AS person
) AS who
WHERE b.status IN ('approved', 'executing', 'executed')
GROUP BY b.id, b.program_id, b.status, b.total_amount
HAVING count(DISTINCT who.person) < :payout_approvals_required
ORDER BY b.id
