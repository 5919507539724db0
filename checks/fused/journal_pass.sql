-- The fused journal pass of the full run: transaction_balance and journal_single_program from ONE
-- sort of platform.ledger_entries by transaction. Each member's rows are exactly its own .sql
-- file's (same columns, order, rounding and NULL handling; tests/test_checks_fused.py compares
-- them on random ledgers); the members stay runnable one by one (`sge-recon check --only
-- transaction_balance`) and GX runs them separately.
--
-- Why these two and no more. Both group the whole ledger by transaction_id, and that grouping is
-- the full run's dearest step: a sort of every entry (see transaction_balance.sql for why sorted
-- and not hashed). One sort serving both saves one of the two (measured at 10 M entries on 2
-- cores: 6.3-6.9 s for both against 5.5 + 3.7 s one by one). The per-program checks
-- (ledger_balance, ledger_tamper, commission_ledger) group by program, currency or account: their
-- cost is the per-entry arithmetic (sums, the tamper hash), which a shared pass does not shrink,
-- and in parallel hashed scans they are cheaper alone than rolled up from 4.7 M per-transaction
-- rows (the former five-check pass: 20.8 s against 16.9 s one by one at 10 M).
--
-- The member files this query mirrors, as sha256 of each .sql: when one of them changes, the
-- loader leaves this query aside (the members run one by one from their own files, with a
-- warning) until it is brought in line again and its digest updated here.
--   transaction_balance      sha256:03857f69985483400fdfd6d236f668e7c69024cfe3c9dd3e9a89b3f3016ea1e7
--   journal_single_program   sha256:6170269efe2099c61267dc363cdbc0859c48a4b789efca41a782c081468b378b
--
-- Result: one row per member: check_name, failing_rows (the true count) and rows (json, the first
-- :sample_limit failing rows in the member's own ORDER BY). Money stays numeric inside the json
-- (read back as Decimal, never float). round(…, 6), never a cast: sums may exceed 38 digits.
WITH per_transaction AS MATERIALIZED (
    -- transaction_balance's grouping, plus the program bounds of journal_single_program: the
    -- transactions either member flags (always very few), with which member flags them. The
    -- flags are HAVING's own tests, so a NULL sum flags nothing, as there.
    SELECT transaction_key,
           min(program_id) AS program_id,
           min(coalesce(currency, '')) AS currency,
           max(coalesce(currency, '')) AS last_currency,
           sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference,
           coalesce(sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
                    OR min(coalesce(currency, '')) <> max(coalesce(currency, '')), false)
               AS unbalanced,
           -- byte order: only "are they all equal?" is asked, the same under any deterministic
           -- collation, and cheaper than the database's
           min(coalesce(program_id, '') COLLATE "C") <> max(coalesce(program_id, '') COLLATE "C")
               AS mixed_programs
    FROM (SELECT transaction_id COLLATE "C" AS transaction_key, program_id, currency, type,
                 amount
          FROM platform.ledger_entries
          ORDER BY 1) AS sorted_entries
    GROUP BY transaction_key
    HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
        OR min(coalesce(currency, '')) <> max(coalesce(currency, ''))
        OR min(coalesce(program_id, '') COLLATE "C") <> max(coalesce(program_id, '') COLLATE "C")
),
-- transaction_balance (checks/transaction_balance.sql)
transaction_balance AS (
    SELECT row_number() OVER (ORDER BY u.transaction_id, u.currency) AS n, to_json(u) AS r
    FROM (
        SELECT transaction_key COLLATE "default" AS transaction_id, program_id,
               nullif(currency, '') AS currency, round(difference, 6) AS difference
        FROM per_transaction
        WHERE unbalanced AND currency = last_currency
        UNION ALL
        SELECT e.transaction_id, min(e.program_id), e.currency,
               round(sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END), 6)
        FROM platform.ledger_entries e
        WHERE e.transaction_id IN (SELECT transaction_key COLLATE "default" FROM per_transaction
                                   WHERE unbalanced AND currency <> last_currency)
        GROUP BY e.transaction_id, e.currency
        HAVING sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END) <> 0
    ) AS u
),
-- journal_single_program (checks/journal_single_program.sql)
journal_single_program AS (
    SELECT row_number() OVER (ORDER BY j.transaction_id) AS n, to_json(j) AS r
    FROM (
        SELECT m.transaction_id,
               count(DISTINCT coalesce(e.program_id, '')) AS programs,
               string_agg(DISTINCT coalesce(e.program_id, '(null)'), ', ') AS program_ids,
               count(*) AS entries
        FROM (SELECT transaction_key COLLATE "default" AS transaction_id
              FROM per_transaction WHERE mixed_programs) AS m
        JOIN platform.ledger_entries e ON e.transaction_id = m.transaction_id
        GROUP BY m.transaction_id
    ) AS j
)
SELECT 'transaction_balance' AS check_name, count(*) AS failing_rows,
       (json_agg(r ORDER BY n) FILTER (WHERE n <= :sample_limit))::text AS rows
FROM transaction_balance
UNION ALL
SELECT 'journal_single_program', count(*),
       (json_agg(r ORDER BY n) FILTER (WHERE n <= :sample_limit))::text
FROM journal_single_program
