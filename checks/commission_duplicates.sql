-- One commission per intent and level (1 = direct, 2 = parent): a second one pays the same
-- referral twice. The list of ids is built for the duplicated pairs only.
-- MATERIALIZED: computed once, in the leader (inlined, each parallel worker built the whole
-- aggregate again, 3 times the work); with no duplicates the second read never runs.
WITH doubled AS MATERIALIZED (
    SELECT intent_id, level
    FROM platform.commissions
    GROUP BY intent_id, level
    HAVING count(*) > 1
)
SELECT d.intent_id,
       d.level,
       min(c.program_id) AS program_id,
       count(*) AS commissions,
       string_agg(c.id, ', ' ORDER BY c.id) AS commission_ids,
       sum(c.amount) AS total_amount
FROM doubled d
JOIN platform.commissions c
  ON c.intent_id IS NOT DISTINCT FROM d.intent_id AND c.level IS NOT DISTINCT FROM d.level
GROUP BY d.intent_id, d.level
ORDER BY d.intent_id, d.level
