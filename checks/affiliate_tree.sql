-- The referral tree must be a forest inside each program: no parent that does not exist
-- (orphan), no parent in another program (cross_program), no cycle of any length (an affiliate
-- that is its own ancestor). The walk follows parent_id upwards from every affiliate, keeping
-- the path so that a cycle not through the start affiliate stops the walk instead of looping.
WITH RECURSIVE walk (start_id, next_id, path) AS (
    SELECT a.id, a.parent_id, ARRAY[a.id]
    FROM platform.affiliates a
    WHERE a.parent_id IS NOT NULL
    UNION ALL
    SELECT w.start_id, p.parent_id, w.path || p.id
    FROM walk w
    JOIN platform.affiliates p ON p.id = w.next_id
    WHERE w.next_id <> w.start_id
      AND NOT (w.next_id = ANY (w.path))
      AND p.parent_id IS NOT NULL
), problems AS (
    SELECT DISTINCT w.start_id AS affiliate_id, 'cycle' AS problem
    FROM walk w
    WHERE w.next_id = w.start_id
    UNION ALL
    SELECT a.id, 'orphan'
    FROM platform.affiliates a
    WHERE a.parent_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM platform.affiliates p WHERE p.id = a.parent_id)
    UNION ALL
    SELECT a.id, 'cross_program'
    FROM platform.affiliates a
    JOIN platform.affiliates p ON p.id = a.parent_id
    WHERE p.program_id <> a.program_id
)
SELECT pr.affiliate_id, a.program_id, pr.problem, a.parent_id
FROM problems pr
JOIN platform.affiliates a ON a.id = pr.affiliate_id
ORDER BY pr.problem, a.program_id, pr.affiliate_id
