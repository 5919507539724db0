-- The fused ledger pass of the full run: ledger_balance, transaction_balance, ledger_tamper,
-- commission_ledger and journal_single_program from ONE scan of platform.ledger_entries.
-- Each member's rows are exactly its own .sql file's (same columns, order, rounding and NULL
-- handling; tests/test_checks_fused.py compares them on random ledgers); the members stay
-- runnable one by one (`sge-recon check --only ledger_balance`) and GX runs them separately.
--
-- How: one GROUP BY transaction_id over the ledger (the per-transaction aggregate that
-- transaction_balance needs anyway, in index order) carries, per journal transaction, everything
-- the other checks need: debits/credits, the signed difference, the entries and fingerprint at or
-- below the checkpoint's watermark, and the affiliate account it credits. A transaction whose
-- entries share one program, one currency and at most one credited affiliate account (every
-- well-formed journal) is "pure": its sums roll up to its (program, currency) and its affiliate
-- as they are. The few that are not (mixed programs or currencies, two affiliates credited,
-- entries on both sides of the watermark) are
-- re-read entry by entry through the transaction_id index (fallback_entries), as
-- transaction_balance already re-reads its mixed-currency transactions.
--
-- The member files this query mirrors, as sha256 of each .sql: when one of them changes, the
-- loader leaves this query aside (the members run one by one from their own files, with a
-- warning) until it is brought in line again and its digest updated here.
--   ledger_balance           sha256:36641be980d9903f78787dd23c4b8e3d35a058f1ad9b7626fb829a179e5b16ed
--   transaction_balance      sha256:03857f69985483400fdfd6d236f668e7c69024cfe3c9dd3e9a89b3f3016ea1e7
--   ledger_tamper            sha256:3f2219696997e775d6d1a0d7774e57654b7eee9909454212e302789ac74c8f64
--   commission_ledger        sha256:6855f6f47a17d834e4f164b5d27d9f2e446eeb403161c7725706d85677cc480d
--   journal_single_program   sha256:6170269efe2099c61267dc363cdbc0859c48a4b789efca41a782c081468b378b
--
-- Result: one row per member: check_name, failing_rows (the true count) and rows (json, the first
-- :sample_limit failing rows in the member's own ORDER BY). Money stays numeric inside the json
-- (read back as Decimal, never float). round(…, 6), never a cast: sums may exceed 38 digits.
WITH checkpoint AS (
    SELECT watermark FROM recon.ledger_checkpoint
), tx AS (
    -- min/max in byte order ("C"): they only tell whether a transaction's values are all
    -- equal (the same under any deterministic collation) and are cheaper than the database's
    -- collation; a value a member shows comes from a one-value transaction or from its entries
    SELECT transaction_id,
           count(*)                                           AS entries,
           count(program_id)                                  AS program_entries,
           min(program_id COLLATE "C")                                    AS program_id,
           max(program_id COLLATE "C")                                    AS last_program_id,
           count(currency)                                    AS currency_entries,
           min(currency COLLATE "C")                                      AS currency,
           max(currency COLLATE "C")                                      AS last_currency,
           sum(amount) FILTER (WHERE type = 'debit')          AS debits,
           sum(amount) FILTER (WHERE type = 'credit')         AS credits,
           sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference,
           count(*) FILTER (WHERE id <= (SELECT watermark FROM checkpoint)) AS reconciled_entries,
           sum(recon.ledger_row_hash(id, program_id, transaction_id, intent_id, account, type,
                                     amount, currency, created_at))
               FILTER (WHERE id <= (SELECT watermark FROM checkpoint)) AS fingerprint,
           -- 'affiliate:<id>' exactly, as commission_ledger: sub-accounts are not the account
           min(account COLLATE "C") FILTER (WHERE type = 'credit' AND account LIKE 'affiliate:%'
                                AND account NOT LIKE 'affiliate:%:%') AS affiliate_account,
           max(account COLLATE "C") FILTER (WHERE type = 'credit' AND account LIKE 'affiliate:%'
                                AND account NOT LIKE 'affiliate:%:%') AS last_affiliate_account,
           sum(amount) FILTER (WHERE type = 'credit' AND account LIKE 'affiliate:%'
                               AND account NOT LIKE 'affiliate:%:%') AS affiliate_credits
    FROM platform.ledger_entries
    GROUP BY transaction_id
), focused AS (
    -- Every transaction, judged: pure (see above) and focus, the transactions some member must
    -- see one by one (impure, unbalanced, mixed currencies or programs; always very few).
    -- Each transaction once per program and currency, and once more for its affiliate
    -- account when it credits one (by_affiliate): the summary's two kinds of group.
    SELECT tx.*, k.*, p.pure, f.focus, s.by_affiliate,
           -- one key column for the summary's GROUP BY: the planner estimates a few hundred
           -- groups for it and hashes (several columns it would estimate as one group per
           -- transaction, and sort them all to disk); json keeps NULL apart from ''
           CASE WHEN s.by_affiliate THEN affiliate_account
                ELSE json_build_array(program_id, currency)::text END AS summary_key
    FROM tx
    CROSS JOIN LATERAL (
        -- min/max(coalesce(x, '')) without two more aggregates per entry: '' sorts first
        SELECT CASE WHEN program_entries < entries THEN '' ELSE program_id END
                   AS first_program_key,
               coalesce(last_program_id, '')   AS last_program_key,
               CASE WHEN currency_entries < entries THEN '' ELSE currency END
                   AS first_currency_key,
               coalesce(last_currency, '')     AS last_currency_key
    ) AS k
    CROSS JOIN LATERAL (
        SELECT reconciled_entries IN (0, entries)
               AND (program_entries = 0
                OR (program_entries = entries AND program_id = last_program_id))
               AND (currency_entries = 0
                    OR (currency_entries = entries AND currency = last_currency))
               AND (affiliate_account IS NULL OR affiliate_account = last_affiliate_account)
                   AS pure
    ) AS p
    CROSS JOIN LATERAL (
        SELECT NOT p.pure OR coalesce(difference <> 0, false)
               OR k.first_currency_key <> k.last_currency_key
               OR k.first_program_key <> k.last_program_key AS focus
    ) AS f
    CROSS JOIN (VALUES (false), (true)) AS s (by_affiliate)
    WHERE NOT s.by_affiliate OR (p.pure AND affiliate_account IS NOT NULL)
    OFFSET 0  -- a fence: the summary groups by this query's output column, not by its parts
), summary AS MATERIALIZED (
    -- One hash aggregate over the per-transaction rows, a few thousand groups: the pure
    -- transactions' sums per (program, currency, affiliate account), and the focus transactions
    -- collected one by one (json keeps numeric text exactly; json_to_recordset reads it back).
    SELECT by_affiliate,
           CASE WHEN NOT by_affiliate THEN (summary_key::json) ->> 0 END AS program_id,
           CASE WHEN NOT by_affiliate THEN (summary_key::json) ->> 1 END AS currency,
           CASE WHEN by_affiliate THEN summary_key END                  AS affiliate_key,
           sum(debits) FILTER (WHERE pure AND NOT by_affiliate)             AS debits,
           sum(credits) FILTER (WHERE pure AND NOT by_affiliate)            AS credits,
           sum(reconciled_entries) FILTER (WHERE pure AND NOT by_affiliate) AS reconciled_entries,
           -- a pure transaction is reconciled whole or not at all
           sum(debits) FILTER (WHERE pure AND NOT by_affiliate
                                          AND reconciled_entries > 0)  AS reconciled_debits,
           sum(credits) FILTER (WHERE pure AND NOT by_affiliate
                                          AND reconciled_entries > 0) AS reconciled_credits,
           sum(fingerprint) FILTER (WHERE pure AND NOT by_affiliate)        AS fingerprint,
           sum(affiliate_credits) FILTER (WHERE by_affiliate) AS affiliate_credits,
           json_agg(json_build_object(
               'transaction_id', transaction_id, 'program_id', program_id, 'pure', pure,
               'first_program_key', first_program_key, 'last_program_key', last_program_key,
               'first_currency_key', first_currency_key, 'last_currency_key', last_currency_key,
               'difference', difference)) FILTER (WHERE focus AND NOT by_affiliate) AS focus
    FROM focused
    GROUP BY by_affiliate, summary_key
), judged AS (
    -- the transactions judged one by one (transaction_id NULL: the entries without one)
    SELECT j.*
    FROM summary s
    CROSS JOIN LATERAL json_to_recordset(s.focus) AS j(
        transaction_id text, program_id text, pure boolean, first_program_key text,
        last_program_key text, first_currency_key text, last_currency_key text,
        difference numeric)
    WHERE s.focus IS NOT NULL
), impure AS MATERIALIZED (
    SELECT transaction_id FROM judged WHERE NOT pure
), fallback_entries AS MATERIALIZED (
    -- every column: under a profile's fingerprint the row hash is a column of the view
    SELECT e.*
    FROM platform.ledger_entries e
    WHERE e.transaction_id IN (SELECT transaction_id FROM impure)
    UNION ALL
    SELECT e.*
    FROM platform.ledger_entries e
    WHERE e.transaction_id IS NULL
      AND EXISTS (SELECT 1 FROM impure WHERE transaction_id IS NULL)
), per_program AS (
    SELECT program_id, currency,
           coalesce(sum(debits), 0)             AS debits,
           coalesce(sum(credits), 0)            AS credits,
           sum(reconciled_entries)::bigint      AS reconciled_entries,
           coalesce(sum(reconciled_debits), 0)  AS reconciled_debits,
           coalesce(sum(reconciled_credits), 0) AS reconciled_credits,
           sum(fingerprint)                     AS fingerprint
    FROM (
        SELECT program_id, currency, debits, credits, reconciled_entries, reconciled_debits,
               reconciled_credits, fingerprint
        FROM summary WHERE NOT by_affiliate
        UNION ALL
        SELECT program_id, currency,
               sum(amount) FILTER (WHERE type = 'debit'),
               sum(amount) FILTER (WHERE type = 'credit'),
               count(*) FILTER (WHERE id <= (SELECT watermark FROM checkpoint)),
               sum(amount) FILTER (WHERE type = 'debit'
                                   AND id <= (SELECT watermark FROM checkpoint)),
               sum(amount) FILTER (WHERE type = 'credit'
                                   AND id <= (SELECT watermark FROM checkpoint)),
               sum(recon.ledger_row_hash(id, program_id, transaction_id, intent_id, account, type,
                                         amount, currency, created_at))
                   FILTER (WHERE id <= (SELECT watermark FROM checkpoint))
        FROM fallback_entries
        GROUP BY program_id, currency
    ) AS parts
    GROUP BY program_id, currency
),
-- ledger_balance (checks/ledger_balance.sql)
ledger_balance AS (
    SELECT row_number() OVER (ORDER BY abs(p.debits - p.credits) DESC, p.program_id,
                                       p.currency) AS n,
           to_json(r) AS r
    FROM per_program p
    CROSS JOIN LATERAL (
        SELECT p.program_id,
               p.currency,
               round(p.debits, 6)            AS total_debits,
               round(p.credits, 6)           AS total_credits,
               round(p.debits - p.credits, 6) AS difference
    ) AS r
    WHERE abs(p.debits - p.credits) >= :ledger_tolerance
),
-- transaction_balance (checks/transaction_balance.sql)
per_transaction AS (
    SELECT j.transaction_id,
           CASE WHEN j.pure THEN j.program_id ELSE (
               SELECT min(e.program_id) FROM fallback_entries e
               WHERE e.transaction_id IS NOT DISTINCT FROM j.transaction_id) END AS program_id,
           j.first_currency_key AS currency, j.last_currency_key AS last_currency, j.difference
    FROM judged j
    WHERE j.difference <> 0 OR j.first_currency_key <> j.last_currency_key
), transaction_balance AS (
    SELECT row_number() OVER (ORDER BY u.transaction_id, u.currency) AS n, to_json(u) AS r
    FROM (
        SELECT transaction_id, program_id, nullif(currency, '') AS currency,
               round(difference, 6) AS difference
        FROM per_transaction
        WHERE currency = last_currency
        UNION ALL
        SELECT e.transaction_id, min(e.program_id), e.currency,
               round(sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END), 6)
        FROM fallback_entries e
        WHERE e.transaction_id IN (SELECT transaction_id FROM per_transaction
                                   WHERE currency <> last_currency)
        GROUP BY e.transaction_id, e.currency
        HAVING sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END) <> 0
    ) AS u
),
-- ledger_tamper (checks/ledger_tamper.sql)
actual AS (
    SELECT program_id, currency, reconciled_debits AS debits, reconciled_credits AS credits,
           reconciled_entries AS entries, fingerprint
    FROM per_program
    WHERE reconciled_entries > 0
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
), ledger_tamper AS (
    SELECT row_number() OVER (ORDER BY t.amount DESC, t.program_id, t.currency) AS n,
           to_json(t) AS r
    FROM (
        SELECT program_id,
               currency,
               CASE WHEN actual_entries < checkpoint_entries THEN 'rows_deleted'
                    WHEN actual_entries > checkpoint_entries THEN 'rows_inserted_below_watermark'
                    ELSE 'rows_changed' END AS problem,
               round(abs(actual_debits - checkpoint_debits)
                     + abs(actual_credits - checkpoint_credits), 6) AS amount,
               round(checkpoint_debits, 6)  AS checkpoint_debits,
               round(actual_debits, 6)      AS actual_debits,
               round(checkpoint_credits, 6) AS checkpoint_credits,
               round(actual_credits, 6)     AS actual_credits,
               checkpoint_entries,
               actual_entries,
               (SELECT watermark FROM checkpoint) AS watermark
        FROM compared
        WHERE checkpoint_debits <> actual_debits OR checkpoint_credits <> actual_credits
           OR checkpoint_entries <> actual_entries
           OR checkpoint_fingerprint <> actual_fingerprint
    ) AS t
),
-- commission_ledger (checks/commission_ledger.sql)
commission_totals AS (
    SELECT affiliate_id, sum(amount) AS total
    FROM platform.commissions
    GROUP BY affiliate_id
), ledger_totals AS (
    SELECT substr(account, length('affiliate:') + 1) AS affiliate_id, sum(total) AS total
    FROM (
        SELECT affiliate_key AS account, affiliate_credits AS total
        FROM summary WHERE by_affiliate
        UNION ALL
        SELECT account, amount
        FROM fallback_entries
        WHERE type = 'credit' AND account LIKE 'affiliate:%' AND account NOT LIKE 'affiliate:%:%'
    ) AS credits
    GROUP BY account
), commission_ledger AS (
    SELECT row_number() OVER (ORDER BY c.affiliate_id) AS n, to_json(c) AS r
    FROM (
        SELECT coalesce(c.affiliate_id, l.affiliate_id) AS affiliate_id,
               round(coalesce(c.total, 0), 6) AS commissions_total,
               round(coalesce(l.total, 0), 6) AS ledger_total
        FROM commission_totals c
        FULL JOIN ledger_totals l ON l.affiliate_id = c.affiliate_id
        WHERE coalesce(c.total, 0) <> coalesce(l.total, 0)
    ) AS c
),
-- journal_single_program (checks/journal_single_program.sql)
journal_single_program AS (
    SELECT row_number() OVER (ORDER BY j.transaction_id) AS n, to_json(j) AS r
    FROM (
        SELECT e.transaction_id,
               count(DISTINCT coalesce(e.program_id, '')) AS programs,
               string_agg(DISTINCT coalesce(e.program_id, '(null)'), ', ') AS program_ids,
               count(*) AS entries
        FROM fallback_entries e
        WHERE e.transaction_id IN (SELECT transaction_id FROM judged
                                   WHERE first_program_key <> last_program_key)
        GROUP BY e.transaction_id
    ) AS j
)
SELECT 'ledger_balance' AS check_name, count(*) AS failing_rows,
       (json_agg(r ORDER BY n) FILTER (WHERE n <= :sample_limit))::text AS rows
FROM ledger_balance
UNION ALL
SELECT 'transaction_balance', count(*),
       (json_agg(r ORDER BY n) FILTER (WHERE n <= :sample_limit))::text
FROM transaction_balance
UNION ALL
SELECT 'ledger_tamper', count(*),
       (json_agg(r ORDER BY n) FILTER (WHERE n <= :sample_limit))::text
FROM ledger_tamper
UNION ALL
SELECT 'commission_ledger', count(*),
       (json_agg(r ORDER BY n) FILTER (WHERE n <= :sample_limit))::text
FROM commission_ledger
UNION ALL
SELECT 'journal_single_program', count(*),
       (json_agg(r ORDER BY n) FILTER (WHERE n <= :sample_limit))::text
FROM journal_single_program
