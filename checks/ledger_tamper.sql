-- History must not change: recompute, per program and currency, the totals of the entries up to
-- the incremental checkpoint's watermark (recon.ledger_checkpoint, migration 0007) and compare
-- them with what was checkpointed when those entries were counted. Any difference means rows of
-- the past were updated, deleted or inserted below the watermark: a manual database modification.
-- The fingerprint (a sum of per-row hashes) also catches changes the totals cannot see (account,
-- transaction_id, created_at). No checkpoint yet: nothing to compare, no rows.
WITH checkpoint AS (
    SELECT watermark FROM recon.ledger_checkpoint
), actual AS (
    SELECT program_id, currency,
           -- e.type qualified: made on the platform's own column under a profile that maps
           -- type from one (db/status_predicates.py)
           coalesce(sum(amount) FILTER (WHERE e.type = 'debit'), 0)  AS debits,
           coalesce(sum(amount) FILTER (WHERE e.type = 'credit'), 0) AS credits,
           count(*) AS entries,
           sum(recon.ledger_row_hash(id, program_id, transaction_id, intent_id, account, type,
                                     amount, currency, created_at)) AS fingerprint
    FROM platform.ledger_entries e
    WHERE id <= (SELECT watermark FROM checkpoint)
    GROUP BY program_id, currency
), compared AS (
    SELECT coalesce(k.program_id, a.program_id) AS program_id,
           coalesce(k.currency, a.currency)     AS currency,
           coalesce(k.total_debits, 0)  AS checkpoint_debits,
           coalesce(a.debits, 0)        AS actual_debits,
           coalesce(k.total_credits, 0) AS checkpoint_credits,
           coalesce(a.credits, 0)       AS actual_credits,
           coalesce(k.entries, 0)       AS checkpoint_entries,
           coalesce(a.entries, 0)       AS actual_entries,
           coalesce(k.fingerprint, 0)   AS checkpoint_fingerprint,
           coalesce(a.fingerprint, 0)   AS actual_fingerprint
    FROM recon.ledger_checkpoint_totals k
    FULL JOIN actual a ON a.program_id = k.program_id AND a.currency = k.currency
)
SELECT program_id,
       currency,
       CASE WHEN actual_entries < checkpoint_entries THEN 'rows_deleted'
            WHEN actual_entries > checkpoint_entries THEN 'rows_inserted_below_watermark'
            ELSE 'rows_changed' END AS problem,
       -- exact (at least six decimals, none rounded away): rounded, a change of 0.0000001
       -- read "0.000000 changed"
       abs(actual_debits - checkpoint_debits)
           + abs(actual_credits - checkpoint_credits) + 0.000000 AS amount,
       checkpoint_debits + 0.000000  AS checkpoint_debits,
       actual_debits + 0.000000      AS actual_debits,
       checkpoint_credits + 0.000000 AS checkpoint_credits,
       actual_credits + 0.000000     AS actual_credits,
       checkpoint_entries,
       actual_entries,
       (SELECT watermark FROM checkpoint) AS watermark
FROM compared
WHERE checkpoint_debits <> actual_debits OR checkpoint_credits <> actual_credits
   OR checkpoint_entries <> actual_entries OR checkpoint_fingerprint <> actual_fingerprint
ORDER BY amount DESC, program_id, currency
