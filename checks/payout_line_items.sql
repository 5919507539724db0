-- What each affiliate is paid, on a platform that stores it apart from the commissions (the
-- profile's payout_items: SGE's "Payout" line items, one per affiliate and batch), against the
-- commissions behind it. payout_batch_total compares a batch's total only: money shifted from
-- one line item to another, or a line item pointed at another affiliate, leaves it unchanged.
--   line_amount: in one batch, what an affiliate's line items pay differs from the commissions
--     of that affiliate gathered in the batch (of the batch's program: a commission of another
--     program gathered in it is owed nothing there). Only in batches that gather commissions:
--     one that gathers none is payout_batch_total's finding (one row per batch, not one per
--     line item).
--     In a rejected or failed batch, only an affiliate with a line item executed before the
--     batch stopped: what its executed line items paid against its commissions in the batch.
--   overpaid: over all batches, an affiliate's line items pay more than all the commissions it
--     earned: a commission paid twice (a platform that never links the commissions a line item
--     paid leaves them payable, and the next batch pays them again). batch_id is the newest
--     batch paying the affiliate: the one to stop while it is not executed.
--   destination: a line item not paid yet sends its money (more than 0) elsewhere than the affiliate's wallet
--     (compared without case: an EVM address's case is only its checksum), e.g. a destination
--     changed after the batch was made. paid is what the line item would send; the two money
--     columns that compare amounts are empty. A line item already paid is not compared: the
--     wallet the affiliate held then is not known.
-- Rejected and failed batches pay nothing, nor do rejected or failed line items (a line item
-- executed in a batch that failed afterwards did pay). A cancelled commission is not owed. A
-- negative line item pays nothing (no transfer takes money back from the affiliate): it offsets
-- no other line item, so that a line raised by X beside one of -X is X paid too much.
-- Speed: the batches are read once (a few thousand rows at most) and the commissions once,
-- grouped by batch, program and affiliate before anything joins them (a join per commission to
-- the batches cost more than the rest of the check).
WITH batches AS MATERIALIZED (
    SELECT b.id, b.program_id, b.status, b.created_at,
           coalesce(b.status IN ('rejected', 'failed'), false) AS stopped
    FROM platform.payout_batches b
),
items AS (
    SELECT i.batch_id, i.program_id, i.affiliate_id, greatest(i.amount, 0) AS amount,
           bt.created_at AS batch_created_at,
           (i.status IS NULL OR i.status <> 'rejected') AS in_batch,
           (i.status = 'executed'
            OR ((i.status IS NULL OR i.status NOT IN ('failed', 'rejected'))
                AND NOT coalesce(bt.stopped, false))) AS pays
    FROM platform.payout_items i
    LEFT JOIN batches bt ON bt.id = i.batch_id
),
owed AS (
    SELECT c.payout_batch_id, c.program_id, c.affiliate_id, sum(c.amount) AS amount
    FROM platform.commissions c
    WHERE c.status IS NULL OR c.status <> 'cancelled'
    GROUP BY c.payout_batch_id, c.program_id, c.affiliate_id
),
-- one pass over both sides per key: NULL affiliate ids group together, as they compare here
per_batch AS (
    SELECT f.batch_id, f.affiliate_id, sum(f.paid) AS paid, sum(f.owed) AS owed,
           bool_or(f.gathered) AS gathered,
           -- what went out in a batch that stopped: its executed line items only
           sum(f.paid) FILTER (WHERE f.pays) AS paid_out,
           coalesce(bool_or(f.pays), false) AS paying
    FROM (SELECT i.batch_id, i.affiliate_id, i.amount AS paid, NULL::numeric AS owed,
                 false AS gathered, i.pays
          FROM items i WHERE i.in_batch AND i.batch_id IS NOT NULL
          UNION ALL
          -- a batch pays its own program's commissions: one of another program gathered in it
          -- (with the line item paying it moved there) is not owed by that batch
          SELECT o.payout_batch_id, o.affiliate_id, NULL,
                 CASE WHEN bt.program_id IS NOT DISTINCT FROM o.program_id THEN o.amount
                      ELSE 0 END, true, NULL
          FROM owed o LEFT JOIN batches bt ON bt.id = o.payout_batch_id
          WHERE o.payout_batch_id IS NOT NULL) f
    GROUP BY f.batch_id, f.affiliate_id
),
paid_by_affiliate AS (
    SELECT i.program_id, i.affiliate_id, sum(i.amount) AS paid,
           (array_agg(i.batch_id ORDER BY i.batch_created_at DESC NULLS LAST, i.batch_id DESC)
              FILTER (WHERE i.batch_id IS NOT NULL))[1] AS newest_batch
    FROM items i WHERE i.pays
    GROUP BY i.program_id, i.affiliate_id
),
earned AS (
    SELECT o.program_id, o.affiliate_id, sum(o.amount) AS amount
    FROM owed o GROUP BY o.program_id, o.affiliate_id
),
per_affiliate AS (
    SELECT p.program_id, p.affiliate_id, coalesce(p.paid, 0) AS paid,
           coalesce(e.amount, 0) AS owed, p.newest_batch
    FROM paid_by_affiliate p
    -- equal keys, NULL matching NULL and not '': a hash join (IS NOT DISTINCT FROM is none)
    LEFT JOIN earned e
      ON (e.program_id IS NULL) = (p.program_id IS NULL)
     AND coalesce(e.program_id, '') = coalesce(p.program_id, '')
     AND (e.affiliate_id IS NULL) = (p.affiliate_id IS NULL)
     AND coalesce(e.affiliate_id, '') = coalesce(p.affiliate_id, '')
    WHERE coalesce(p.paid, 0) > coalesce(e.amount, 0)
)
SELECT pb.batch_id, bt.program_id, bt.status, pb.affiliate_id, 'line_amount' AS problem,
       -- exact (at least six decimals, none rounded away), as payout_batch_total's
       x.paid + 0.000000 AS paid,
       coalesce(pb.owed, 0) + 0.000000 AS commissions_total,
       x.paid - coalesce(pb.owed, 0) + 0.000000 AS difference
FROM (SELECT p.*, bool_or(p.gathered) OVER (PARTITION BY p.batch_id) AS batch_gathers
      FROM per_batch p) pb
JOIN batches bt ON bt.id = pb.batch_id
CROSS JOIN LATERAL (SELECT CASE WHEN bt.stopped THEN coalesce(pb.paid_out, 0)
                                ELSE coalesce(pb.paid, 0) END AS paid) x
WHERE pb.batch_gathers
  AND (NOT bt.stopped OR pb.paying)
  AND x.paid IS DISTINCT FROM coalesce(pb.owed, 0)
UNION ALL
SELECT i.batch_id, i.program_id, bt.status, i.affiliate_id, 'destination',
       i.amount + 0.000000, NULL, NULL
FROM platform.payout_items i
LEFT JOIN batches bt ON bt.id = i.batch_id
WHERE (i.status IS NULL OR i.status IN ('pending', 'executing')) AND i.amount > 0
  AND NOT coalesce(bt.stopped, false)
  AND lower(i.destination) IS DISTINCT FROM lower(i.affiliate_wallet)
UNION ALL
SELECT a.newest_batch, a.program_id, bt.status, a.affiliate_id, 'overpaid',
       a.paid + 0.000000, a.owed + 0.000000, a.paid - a.owed + 0.000000
FROM per_affiliate a
LEFT JOIN batches bt ON bt.id = a.newest_batch
ORDER BY batch_id, affiliate_id, problem
