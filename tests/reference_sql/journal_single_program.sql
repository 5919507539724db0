-- Reference (tests/test_checks_rewrites.py): journal_single_program stated plainly, counting the
-- distinct programs of each transaction (the NULL program one of its own, distinct from '';
-- the entries without a transaction_id one transaction, as GROUP BY groups them). The check's
-- earlier text, kept here before, took NULL and '' as one program and never listed the NULL
-- transaction: it no longer defines the rows.
SELECT transaction_id,
       count(DISTINCT program_id) + (count(*) > count(program_id))::int AS programs,
       string_agg(DISTINCT CASE program_id WHEN '' THEN '(empty)'
                                ELSE coalesce(program_id, '(null)') END, ', ') AS program_ids,
       count(*) AS entries
FROM platform.ledger_entries
GROUP BY transaction_id
HAVING count(DISTINCT program_id) + (count(*) > count(program_id))::int > 1
ORDER BY transaction_id
