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
--   transaction_balance      sha256:a43ca97a251349a85e2e4766150b330c84e80b40f72924f2e6489a9135412f59
--   journal_single_program   sha256:b5c8e78e795cd8040a3ed0373e536d0708a0887f7f2d467ffc225bf4266c9467
--
-- Result: one row per member: check_name, failing_rows (the true count) and rows (json, the first
-- :sample_limit failing rows in the member's own ORDER BY). Money stays numeric inside the json
-- (read back as Decimal, never float; NaN and the infinities as {"$numeric": "<text>"}).
-- Differences exact as in the member's file (`+ 0.000000`: at least six decimals, none rounded
-- away), never a cast: sums may exceed 38 digits.
WITH per_transaction AS MATERIALIZED (
    -- transaction_balance's grouping, plus the program bounds of journal_single_program: the
    -- transactions either member flags (always very few), with which member flags them. The
    -- flags are HAVING's own tests, so a NULL sum flags nothing, as there. A NULL currency
    -- (program) is one of its own, distinct from '': min/max skip NULLs, so "a NULL beside a
    -- value" is bool_or(column IS NULL) with a max that is not NULL (one aggregate more per
    -- column, no sort, no DISTINCT: counts, or a coalesce in min/max, cost more per entry).
    SELECT transaction_key,
           min(program_id) AS program_id,
           min(currency) AS currency,
           sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference,
           coalesce(min(currency) <> max(currency), false)
               OR (bool_or(currency IS NULL) AND max(currency) IS NOT NULL) AS mixed_currencies,
           coalesce(sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0, false)
               OR coalesce(min(currency) <> max(currency), false)
               OR (bool_or(currency IS NULL) AND max(currency) IS NOT NULL) AS unbalanced,
           -- byte order: only "are they all equal?" is asked, the same under any deterministic
           -- collation, and cheaper than the database's
           coalesce(min(program_id COLLATE "C") <> max(program_id COLLATE "C"), false)
               OR (bool_or(program_id IS NULL) AND max(program_id COLLATE "C") IS NOT NULL)
                   AS mixed_programs
    FROM (SELECT transaction_id COLLATE "C" AS transaction_key, program_id, currency, type,
                 amount
          FROM platform.ledger_entries
          ORDER BY 1) AS sorted_entries
    GROUP BY transaction_key
    HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
        OR min(currency) <> max(currency)
        OR (bool_or(currency IS NULL) AND max(currency) IS NOT NULL)
        OR min(program_id COLLATE "C") <> max(program_id COLLATE "C")
        OR (bool_or(program_id IS NULL) AND max(program_id COLLATE "C") IS NOT NULL)
),
-- transaction_balance (checks/transaction_balance.sql)
transaction_balance AS (
    -- to_json(u) would give a NaN or infinite difference as the json string "NaN", read back
    -- as text where the member's own SELECT gives Decimal('NaN'): a special value goes as
    -- {"$numeric": "NaN"}, which sge_recon.db.checks reads back as that Decimal
    SELECT row_number() OVER (ORDER BY u.transaction_id, u.currency) AS n,
           json_build_object(
               'transaction_id', u.transaction_id, 'program_id', u.program_id,
               'currency', u.currency,
               'difference', CASE WHEN u.difference IN ('NaN'::numeric, 'Infinity'::numeric,
                                                        '-Infinity'::numeric)
                                  THEN json_build_object('$numeric', u.difference::text)
                                  ELSE to_json(u.difference) END) AS r
    FROM (
        SELECT transaction_key COLLATE "default" AS transaction_id, program_id, currency,
               difference + 0.000000 AS difference
        FROM per_transaction
        WHERE unbalanced AND NOT mixed_currencies
        UNION ALL
        SELECT e.transaction_id, min(e.program_id), e.currency,
               sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END) + 0.000000
        FROM (SELECT transaction_id, program_id, currency, type, amount
              FROM platform.ledger_entries
              WHERE transaction_id IN (SELECT transaction_key COLLATE "default"
                                       FROM per_transaction WHERE mixed_currencies)
              UNION ALL
              -- the entries without a transaction_id: one transaction, which `IN` never matches
              SELECT transaction_id, program_id, currency, type, amount
              FROM platform.ledger_entries
              WHERE transaction_id IS NULL
                AND EXISTS (SELECT 1 FROM per_transaction
                            WHERE transaction_key IS NULL AND mixed_currencies)) AS e
        GROUP BY e.transaction_id, e.currency
        HAVING sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END) <> 0
    ) AS u
),
-- journal_single_program (checks/journal_single_program.sql)
journal_single_program AS (
    SELECT row_number() OVER (ORDER BY j.transaction_id) AS n, to_json(j) AS r
    FROM (
        SELECT e.transaction_id,
               count(DISTINCT e.program_id) + (count(*) > count(e.program_id))::int AS programs,
               string_agg(DISTINCT CASE e.program_id WHEN '' THEN '(empty)'
                                        ELSE coalesce(e.program_id, '(null)') END, ', ')
                   AS program_ids,
               count(*) AS entries
        FROM (SELECT e.transaction_id, e.program_id
              FROM (SELECT transaction_key COLLATE "default" AS transaction_id
                    FROM per_transaction WHERE mixed_programs) AS m
              JOIN platform.ledger_entries e ON e.transaction_id = m.transaction_id
              UNION ALL
              SELECT transaction_id, program_id
              FROM platform.ledger_entries
              WHERE transaction_id IS NULL
                AND EXISTS (SELECT 1 FROM per_transaction
                            WHERE transaction_key IS NULL AND mixed_programs)) AS e
        GROUP BY e.transaction_id
    ) AS j
)
SELECT 'transaction_balance' AS check_name, count(*) AS failing_rows,
       (json_agg(r ORDER BY n) FILTER (WHERE n <= :sample_limit))::text AS rows
FROM transaction_balance
UNION ALL
SELECT 'journal_single_program', count(*),
       (json_agg(r ORDER BY n) FILTER (WHERE n <= :sample_limit))::text
FROM journal_single_program
