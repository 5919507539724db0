-- Payout batches, one per (program, currency, week) with commissions in it. Weeks ≥ 2 were
-- approved by two distinct approvers and executed well within the 24 h SLA; last week's batches
-- were created a few hours ago: awaiting approval (some with a first approval), or, for program
-- 1, approved and awaiting execution.

-- What each affiliate is owed per batch: one pass over the commissions, which the batches, their
-- totals and the payout journal below are all derived from.
CREATE TEMP TABLE sim_payees ON COMMIT DROP AS
SELECT c.payout_batch_id AS batch_id, c.program_id, c.program_no, c.week, c.currency,
       c.affiliate_id, sum(c.amount) AS amount
FROM sim_commissions c WHERE c.payout_batch_id IS NOT NULL
GROUP BY c.payout_batch_id, c.program_id, c.program_no, c.week, c.currency, c.affiliate_id;

ANALYZE sim_payees;

CREATE TEMP TABLE sim_batches ON COMMIT DROP AS
WITH grouped AS (
    SELECT p.batch_id AS id, p.program_id, p.program_no, p.week, p.currency,
           count(*)::integer AS affiliate_count, sum(p.amount) AS total_amount
    FROM sim_payees p
    GROUP BY p.batch_id, p.program_id, p.program_no, p.week, p.currency
), timed AS (
    SELECT g.*, sp.seed,
           CASE WHEN g.week = 1
                THEN sp.as_of - interval '4 hours' - pg_temp.sim_ut(sp.seed, g.id, 41) * interval '4 hours'
                ELSE sp.as_of - g.week * interval '7 days' + interval '3 hours'
                     + pg_temp.sim_ut(sp.seed, g.id, 41) * interval '2 hours' END AS created_at
    FROM grouped g CROSS JOIN sim_params sp
), shaped AS (
    SELECT t.*,
           CASE WHEN t.week >= 2 THEN 'executed'
                WHEN t.program_no = 1 THEN 'approved'
                ELSE 'pending_approval' END AS status,
           CASE WHEN t.week >= 2
                THEN t.created_at + interval '2 hours' + pg_temp.sim_ut(t.seed, t.id, 42) * interval '8 hours'
                WHEN t.program_no = 1
                THEN t.created_at + interval '1 hour' + pg_temp.sim_ut(t.seed, t.id, 42) * interval '1 hour'
           END AS approved_at
    FROM timed t
)
SELECT s.id, s.program_id, s.currency, s.week, s.affiliate_count, s.total_amount, s.created_at,
       s.status, s.approved_at,
       CASE WHEN s.status = 'executed'
            THEN s.approved_at + interval '10 minutes'
                 + pg_temp.sim_ut(s.seed, s.id, 43) * interval '50 minutes' END AS executed_at,
       pg_temp.sim_ut(s.seed, s.id, 44) AS u_first_approval
FROM shaped s;

ANALYZE sim_batches;

INSERT INTO public.payout_batches (id, program_id, status, affiliate_count, total_amount,
                                   created_at, approved_at, executed_at)
SELECT id, program_id, status, affiliate_count, total_amount, created_at, approved_at, executed_at
FROM sim_batches;

-- Two-person approval: the first approver halfway, the second one approving the batch.
INSERT INTO public.payout_approvals (batch_id, approver, approved_at)
SELECT id, 'approver:ana', created_at + (approved_at - created_at) / 2
FROM sim_batches WHERE approved_at IS NOT NULL
UNION ALL
SELECT id, 'approver:ben', approved_at FROM sim_batches WHERE approved_at IS NOT NULL
UNION ALL  -- half of the batches awaiting approval already have their first approval
SELECT id, 'approver:ana', created_at + interval '30 minutes'
FROM sim_batches WHERE status = 'pending_approval' AND u_first_approval < 0.5;

-- Payout journal, one transaction per executed batch: each affiliate's account is debited what
-- it is paid, the treasury credited the total. Payouts never credit an affiliate account, so the
-- credits to affiliate:<id> stay exactly its commissions. Ids continue after the intents' range.
INSERT INTO public.ledger_entries (id, program_id, transaction_id, intent_id, account, type,
                                   amount, currency, created_at)
SELECT 10 * (sp.n_intents + 1) + row_number() OVER (ORDER BY x.batch_id, x.k, x.account),
       x.program_id, 'txn_payout_' || x.batch_id, NULL, x.account, x.type, x.amount, x.currency,
       x.executed_at
FROM (
    SELECT p.batch_id, 1 AS k, 'affiliate:' || p.affiliate_id AS account, 'debit' AS type,
           p.amount, p.program_id, p.currency, b.executed_at
    FROM sim_payees p JOIN sim_batches b ON b.id = p.batch_id
    WHERE b.status = 'executed'
    UNION ALL
    SELECT b.id, 2, 'treasury', 'credit', b.total_amount, b.program_id, b.currency, b.executed_at
    FROM sim_batches b WHERE b.status = 'executed'
) x CROSS JOIN sim_params sp;
