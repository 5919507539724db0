-- Affiliate commissions for every completed intent of a referred user: level 1 to the referrer
-- at the program's direct rate, level 2 to the referrer's parent at the parent rate; amount =
-- round(base_amount × rate, 2). Weekly payout cycle, counted back from as_of: this week's
-- commissions are accrued, last week's payable in a batch awaiting execution, older ones paid.

CREATE TEMP TABLE sim_commissions ON COMMIT DROP AS
WITH raw AS (
    SELECT i.n, l.level, i.program_no, i.program_id, i.id AS intent_id, i.currency,
           CASE l.level WHEN 1 THEN a1.id ELSE a1.parent_id END AS affiliate_id,
           CASE l.level WHEN 1 THEN pr.direct_commission_rate ELSE pr.parent_commission_rate END
               AS rate,
           i.amount AS base_amount,
           i.completed_at + interval '1 second' AS created_at,
           sp.as_of
    FROM sim_intents i
    JOIN public.users us ON us.id = i.user_id
    JOIN public.affiliates a1 ON a1.id = us.referred_by
    JOIN public.programs pr ON pr.id = i.program_id
    CROSS JOIN (VALUES (1), (2)) l(level)
    CROSS JOIN sim_params sp
    WHERE i.status = 'completed' AND (l.level = 1 OR a1.parent_id IS NOT NULL)
), weekly AS (
    SELECT r.*, floor(extract(epoch FROM r.as_of - r.created_at) / 604800)::integer AS week
    FROM raw r
)
SELECT w.n, w.level, w.program_no, w.program_id, w.intent_id, w.currency, w.affiliate_id,
       w.rate, w.base_amount, w.created_at, w.week,
       'com_' || lpad(w.n::text, 9, '0') || '_' || w.level AS id,
       round(w.base_amount * w.rate, 2) AS amount,
       CASE WHEN w.week = 0 THEN 'accrued' WHEN w.week = 1 THEN 'payable' ELSE 'paid' END AS status,
       CASE WHEN w.week >= 1 THEN 'batch_' || w.program_id || '_' || lower(w.currency) || '_w'
                                  || lpad(w.week::text, 2, '0') END AS payout_batch_id
FROM weekly w
ORDER BY w.n, w.level;  -- stored in key order: the inserts below append to their indexes

ANALYZE sim_commissions;

INSERT INTO public.commissions (id, program_id, affiliate_id, intent_id, level, rate, base_amount,
                                amount, status, payout_batch_id, created_at)
SELECT id, program_id, affiliate_id, intent_id, level, rate, base_amount, amount, status,
       payout_batch_id, created_at
FROM sim_commissions;

-- Commission journal: one transaction per commission, debit treasury / credit the affiliate.
INSERT INTO public.ledger_entries (id, program_id, transaction_id, intent_id, account, type,
                                   amount, currency, created_at)
SELECT 10 * c.n + 2 * c.level + e.k, c.program_id, 'txn_com_' || c.id, c.intent_id,
       CASE e.k WHEN 1 THEN 'treasury' ELSE 'affiliate:' || c.affiliate_id END,
       e.type, c.amount, c.currency, c.created_at
FROM sim_commissions c CROSS JOIN (VALUES (1, 'debit'), (2, 'credit')) e(k, type);
