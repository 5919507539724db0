-- Two batches past the 24 h payout SLA: one still awaiting approval 30 h after its creation, one
-- approved 30 h ago and never executed. Last week's batches are aged (their commissions stay as
-- they are), so nothing else about the data changes.
WITH pending AS (
    SELECT id FROM public.payout_batches WHERE status = 'pending_approval' ORDER BY id LIMIT 1
)
UPDATE public.payout_batches b SET created_at = sp.live_at - interval '30 hours'
FROM pending, sim_params sp WHERE b.id = pending.id;

UPDATE public.payout_approvals a SET approved_at = b.created_at + interval '30 minutes'
FROM public.payout_batches b
WHERE a.batch_id = b.id AND b.id = (SELECT id FROM public.payout_batches
                                    WHERE status = 'pending_approval' ORDER BY id LIMIT 1);

WITH approved AS (
    SELECT id FROM public.payout_batches WHERE status = 'approved' ORDER BY id LIMIT 1
)
UPDATE public.payout_batches b SET created_at = sp.live_at - interval '40 hours',
                                   approved_at = sp.live_at - interval '30 hours'
FROM approved, sim_params sp WHERE b.id = approved.id;

UPDATE public.payout_approvals a
SET approved_at = CASE a.approver WHEN 'approver:ben' THEN b.approved_at
                                  ELSE b.approved_at - interval '3 hours' END
FROM public.payout_batches b
WHERE a.batch_id = b.id AND b.id = (SELECT id FROM public.payout_batches
                                    WHERE status = 'approved' ORDER BY id LIMIT 1);
