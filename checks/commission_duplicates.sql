-- One commission per intent and level (1 = direct, 2 = parent): a second one pays the same
-- referral twice.
--
-- One GROUP BY over the commissions sorted by (intent, level) in byte order (COLLATE "C": the
-- same groups, a far cheaper sort), then by id for the list of ids: the planner streams it (the
-- ids' order is the input's, no sort per group). Nearly every (intent, level) is its own group:
-- hashing them spilled at any work_mem (10 s at 2.75 M commissions, once per parallel worker),
-- and the join back the former form needed (IS NOT DISTINCT FROM) was a nested loop. GROUP BY
-- puts NULLs together as IS NOT DISTINCT FROM did; the key goes back to the column's collation.
SELECT intent_key COLLATE "default" AS intent_id,
       level,
       min(program_id) AS program_id,
       count(*) AS commissions,
       string_agg(id, ', ' ORDER BY id) AS commission_ids,
       sum(amount) AS total_amount
FROM (SELECT intent_id COLLATE "C" AS intent_key, level, id, program_id, amount
      FROM platform.commissions
      WHERE status IS NULL OR status <> 'cancelled'  -- a cancelled copy pays nothing twice
      ORDER BY 1, 2, 3) AS sorted_commissions
GROUP BY intent_key, level
HAVING count(*) > 1
ORDER BY 1, 2
