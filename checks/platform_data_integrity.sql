-- Data the platform could write but the contract (DESIGN §4) rules out is evidence, never
-- silence: NULLs where a value is required, unknown statuses or entry types, negative or zero
-- amounts, NaN amounts (numeric 'NaN' passes `amount > 0` in PostgreSQL, so a CHECK
-- (amount > 0) lets it in, and it turns every sum it joins into NaN), infinite amounts (a plain
-- `numeric` column, which db init accepts, holds 'Infinity' and '-Infinity' since PostgreSQL 14:
-- Infinity equals Infinity, so an infinite settlement confirmed by an infinite transfer matched
-- every other check), timestamps in the future
-- (beyond 5 minutes of clock skew) or inverted (completed
-- before created), or infinite ('-infinity' and 'infinity' are valid timestamps: an intent
-- created at '-infinity' made processing_time an error for as long as it was among the last 100,
-- one changed at '-infinity' made stuck_intents an error that hid every other stuck intent, and
-- a ledger entry at '-infinity' falls in no month's export). Such rows can hide from the other checks (a NULL amount adds nothing to a
-- sum, a NULL currency forms its own group, an intent "completed in 2099" masks
-- processing_time), so they fail here, one row per (table, id, problem).
-- Each table is scanned once; only rows with some problem reach the LATERAL that names them.
-- The filters test each column once ("x IS NULL OR x <= 0" is "(x > 0) IS NOT TRUE"): on a
-- platform profile a column may be an expression, evaluated at every mention.
-- The chain side (a transfer without amount or address) is judged by settlement_chain_match, so
-- this check stays available on platforms that keep no chain transactions.
SELECT 'ledger_entries' AS "table", e.id::text AS id, x.problem
FROM platform.ledger_entries e
CROSS JOIN LATERAL (VALUES
    (CASE WHEN e.program_id IS NULL THEN 'null_program' END),
    (CASE WHEN e.transaction_id IS NULL THEN 'null_transaction' END),
    (CASE WHEN e.account IS NULL THEN 'null_account' END),
    (CASE WHEN e.type IS NULL OR e.type NOT IN ('debit', 'credit') THEN 'unknown_type' END),
    (CASE WHEN e.amount IS NULL THEN 'null_amount' END),
    (CASE WHEN e.amount <= 0 THEN 'non_positive_amount' END),
    (CASE WHEN e.amount = 'NaN'::numeric THEN 'nan_amount' END),
    (CASE WHEN e.amount IN ('Infinity'::numeric, '-Infinity'::numeric) THEN 'infinite_amount'
          END),
    (CASE WHEN e.currency IS NULL THEN 'null_currency' END),
    (CASE WHEN e.created_at IS NULL THEN 'null_timestamp' END),
    (CASE WHEN e.created_at > now() + interval '5 minutes' THEN 'future_timestamp' END),
    (CASE WHEN NOT isfinite(e.created_at) THEN 'infinite_timestamp' END)
) AS x (problem)
WHERE x.problem IS NOT NULL
  AND (e.program_id IS NULL OR e.transaction_id IS NULL OR e.account IS NULL
       OR (e.type IN ('debit', 'credit')) IS NOT TRUE OR (e.amount > 0) IS NOT TRUE
       OR e.amount IN ('NaN'::numeric, 'Infinity'::numeric)
       OR e.currency IS NULL OR (e.created_at <= now() + interval '5 minutes') IS NOT TRUE
       OR NOT isfinite(e.created_at))
UNION ALL
SELECT 'settlement_intents', i.id, x.problem
FROM platform.settlement_intents i
CROSS JOIN LATERAL (VALUES
    (CASE WHEN i.program_id IS NULL THEN 'null_program' END),
    (CASE WHEN i.amount IS NULL THEN 'null_amount' END),
    (CASE WHEN i.amount <= 0 THEN 'non_positive_amount' END),
    (CASE WHEN i.amount = 'NaN'::numeric THEN 'nan_amount' END),
    (CASE WHEN i.amount IN ('Infinity'::numeric, '-Infinity'::numeric) THEN 'infinite_amount'
          END),
    (CASE WHEN i.currency IS NULL THEN 'null_currency' END),
    (CASE WHEN i.status IS NULL OR i.status NOT IN ('created', 'payment_pending', 'verifying',
                                                    'processing', 'completed', 'failed')
          THEN 'unknown_status' END),
    (CASE WHEN i.created_at IS NULL OR i.status_changed_at IS NULL THEN 'null_timestamp' END),
    (CASE WHEN i.status = 'completed' AND i.completed_at IS NULL THEN 'completed_without_time'
          END),
    (CASE WHEN greatest(i.created_at, i.status_changed_at, i.completed_at)
               > now() + interval '5 minutes' THEN 'future_timestamp' END),
    (CASE WHEN i.completed_at < i.created_at THEN 'completed_before_created' END),
    (CASE WHEN (isfinite(i.created_at) AND isfinite(i.status_changed_at)
                AND isfinite(i.completed_at)) IS FALSE THEN 'infinite_timestamp' END)
) AS x (problem)
WHERE x.problem IS NOT NULL
  AND (i.program_id IS NULL OR (i.amount > 0) IS NOT TRUE
       OR i.amount IN ('NaN'::numeric, 'Infinity'::numeric)
       OR i.currency IS NULL
       OR (i.status IN ('created', 'payment_pending', 'verifying', 'processing', 'completed',
                        'failed')) IS NOT TRUE
       OR i.created_at IS NULL OR i.status_changed_at IS NULL
       OR (i.status = 'completed' AND i.completed_at IS NULL)
       OR greatest(i.created_at, i.status_changed_at, i.completed_at)
          > now() + interval '5 minutes'
       OR i.completed_at < i.created_at
       OR (isfinite(i.created_at) AND isfinite(i.status_changed_at)
           AND isfinite(i.completed_at)) IS FALSE)
UNION ALL
SELECT 'settlements', s.id, x.problem
FROM platform.settlements s
CROSS JOIN LATERAL (VALUES
    (CASE WHEN s.program_id IS NULL THEN 'null_program' END),
    (CASE WHEN s.amount IS NULL THEN 'null_amount' END),
    (CASE WHEN s.amount <= 0 THEN 'non_positive_amount' END),
    (CASE WHEN s.amount = 'NaN'::numeric THEN 'nan_amount' END),
    (CASE WHEN s.amount IN ('Infinity'::numeric, '-Infinity'::numeric) THEN 'infinite_amount'
          END),
    (CASE WHEN s.confirmed_at > now() + interval '5 minutes' THEN 'future_timestamp' END),
    (CASE WHEN NOT isfinite(s.confirmed_at) THEN 'infinite_timestamp' END)
) AS x (problem)
WHERE x.problem IS NOT NULL
  AND (s.program_id IS NULL OR s.amount IS NULL OR s.amount <= 0
       OR s.amount IN ('NaN'::numeric, 'Infinity'::numeric)
       OR s.confirmed_at > now() + interval '5 minutes' OR NOT isfinite(s.confirmed_at))
UNION ALL
SELECT 'commissions', c.id, x.problem
FROM platform.commissions c
-- the batch of a cancelled commission (the last problem below), joined: a correlated subquery
-- there made the whole statement run in one process (a subplan cannot run in a parallel worker),
-- the ledger's and the intents' scans included (1.85 s -> 1.12 s at 2 M SGE entries). One row
-- per batch id: a profile's payout_batches may repeat an id (its `from:` a join, or a platform
-- table without a key), and a plain join would repeat each of the commission's problems once
-- per copy; paid by any copy is paid, else held by any copy is held.
LEFT JOIN (SELECT pb.id,
                  bool_or(pb.status IN ('executing', 'executed')) AS paid,
                  bool_or(pb.status IN ('pending_approval', 'approved')) AS held
           FROM platform.payout_batches pb
           GROUP BY pb.id) AS batch
       ON c.status = 'cancelled' AND batch.id = c.payout_batch_id
CROSS JOIN LATERAL (VALUES
    (CASE WHEN c.program_id IS NULL THEN 'null_program' END),
    (CASE WHEN c.amount IS NULL THEN 'null_amount' END),
    (CASE WHEN c.amount < 0 THEN 'negative_amount' END),
    (CASE WHEN c.amount = 'NaN'::numeric THEN 'nan_amount' END),
    (CASE WHEN c.amount IN ('Infinity'::numeric, '-Infinity'::numeric) THEN 'infinite_amount'
          END),
    (CASE WHEN c.level IS NULL OR c.level NOT IN (1, 2) THEN 'unknown_level' END),
    (CASE WHEN c.status IS NULL
               OR c.status NOT IN ('accrued', 'payable', 'paid', 'cancelled')
          THEN 'unknown_status' END),
    -- cancelled = not owed (a profile's status map: SGE's CANCELLED). Paid all the same (its
    -- batch is executing or executed), or still in a batch that will pay it, is money out for
    -- nothing; a rejected or failed batch released it.
    (CASE WHEN batch.paid THEN 'cancelled_but_paid' WHEN batch.held THEN 'cancelled_in_batch'
          END)
) AS x (problem)
WHERE x.problem IS NOT NULL
  AND (c.program_id IS NULL OR (c.amount >= 0) IS NOT TRUE
       OR c.amount IN ('NaN'::numeric, 'Infinity'::numeric)
       OR (c.level IN (1, 2)) IS NOT TRUE
       OR (c.status IN ('accrued', 'payable', 'paid', 'cancelled')) IS NOT TRUE
       OR (c.status = 'cancelled' AND c.payout_batch_id IS NOT NULL))
UNION ALL
SELECT 'payout_batches', b.id, x.problem
FROM platform.payout_batches b
CROSS JOIN LATERAL (VALUES
    (CASE WHEN b.status IS NULL OR b.status NOT IN ('pending_approval', 'approved', 'executing',
                                                    'executed', 'failed', 'rejected')
          THEN 'unknown_status' END),
    (CASE WHEN b.total_amount IS NULL THEN 'null_amount' END),
    (CASE WHEN b.total_amount < 0 THEN 'negative_amount' END),
    (CASE WHEN b.total_amount = 'NaN'::numeric THEN 'nan_amount' END),
    (CASE WHEN b.total_amount IN ('Infinity'::numeric, '-Infinity'::numeric) THEN 'infinite_amount'
          END),
    (CASE WHEN b.executed_at < b.created_at OR b.approved_at < b.created_at
          THEN 'inverted_timestamps' END)
) AS x (problem)
WHERE x.problem IS NOT NULL
  AND (b.status IS NULL OR b.status NOT IN ('pending_approval', 'approved', 'executing',
                                            'executed', 'failed', 'rejected')
       OR b.total_amount IS NULL OR b.total_amount < 0
       OR b.total_amount IN ('NaN'::numeric, 'Infinity'::numeric)
       OR b.executed_at < b.created_at OR b.approved_at < b.created_at)
UNION ALL
SELECT 'programs', p.id, x.problem
FROM platform.programs p
CROSS JOIN LATERAL (VALUES
    (CASE WHEN p.currency IS NULL THEN 'null_currency' END),
    (CASE WHEN p.treasury_address IS NULL THEN 'null_address' END)
) AS x (problem)
WHERE x.problem IS NOT NULL AND (p.currency IS NULL OR p.treasury_address IS NULL)
ORDER BY 1, 3, 2
