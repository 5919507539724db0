-- The referral tree must be a forest inside each program: no parent that does not exist
-- (orphan), no parent in another program (cross_program), no cycle of any length (an affiliate
-- that is its own ancestor).
--
-- Linear in the number of affiliates, with no per-row paths (the former walk kept a path array
-- per affiliate and grew ~cubically with depth):
-- 1. `reached`: walk DOWN from the roots (no parent, or a parent that does not exist) along
--    parent_id. Each affiliate has one parent, so each tree affiliate is reached exactly once,
--    whatever the depth; an affiliate on a cycle, or hanging below one, is never reached.
--    The children are looked up per reached affiliate (LATERAL … OFFSET 0 keeps that form) by
--    the index on affiliates(parent_id) (sql/contract/002_indexes.sql): a hash join here would
--    rebuild its hash of all affiliates at every level of the tree and spill gigabytes.
-- 2. `loose`: the affiliates not reached. Each of them has a parent that is loose too, so
--    following parents never leaves `loose` and ends going round a cycle.
-- 3. Pointer jumping over `loose` only (empty on a healthy tree: it costs nothing then):
--    jump<k> maps an affiliate to its 2^k-th ancestor. Once 2^k is at least the length of any
--    path, that ancestor is on a cycle, and every affiliate of a cycle is the 2^k-th ancestor
--    of one of its cycle neighbours: the cycle affiliates are exactly the distinct targets of
--    jump24 (exact up to 16.7 M loose affiliates; beyond, more of them would be reported as
--    cycle, never fewer: the check still fails).
WITH RECURSIVE reached (id) AS (
    SELECT a.id
    FROM platform.affiliates a
    WHERE a.parent_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM platform.affiliates p WHERE p.id = a.parent_id)
    UNION ALL
    SELECT c.id
    FROM reached r
    CROSS JOIN LATERAL (SELECT c.id FROM platform.affiliates c WHERE c.parent_id = r.id
                        OFFSET 0) AS c
), loose AS MATERIALIZED (
    SELECT a.id, a.parent_id AS up
    FROM platform.affiliates a
    WHERE NOT EXISTS (SELECT 1 FROM reached r WHERE r.id = a.id)
), jump0 AS (SELECT id, up FROM loose),
jump1 AS (SELECT a.id, b.up FROM jump0 a JOIN jump0 b ON b.id = a.up),
jump2 AS (SELECT a.id, b.up FROM jump1 a JOIN jump1 b ON b.id = a.up),
jump3 AS (SELECT a.id, b.up FROM jump2 a JOIN jump2 b ON b.id = a.up),
jump4 AS (SELECT a.id, b.up FROM jump3 a JOIN jump3 b ON b.id = a.up),
jump5 AS (SELECT a.id, b.up FROM jump4 a JOIN jump4 b ON b.id = a.up),
jump6 AS (SELECT a.id, b.up FROM jump5 a JOIN jump5 b ON b.id = a.up),
jump7 AS (SELECT a.id, b.up FROM jump6 a JOIN jump6 b ON b.id = a.up),
jump8 AS (SELECT a.id, b.up FROM jump7 a JOIN jump7 b ON b.id = a.up),
jump9 AS (SELECT a.id, b.up FROM jump8 a JOIN jump8 b ON b.id = a.up),
jump10 AS (SELECT a.id, b.up FROM jump9 a JOIN jump9 b ON b.id = a.up),
jump11 AS (SELECT a.id, b.up FROM jump10 a JOIN jump10 b ON b.id = a.up),
jump12 AS (SELECT a.id, b.up FROM jump11 a JOIN jump11 b ON b.id = a.up),
jump13 AS (SELECT a.id, b.up FROM jump12 a JOIN jump12 b ON b.id = a.up),
jump14 AS (SELECT a.id, b.up FROM jump13 a JOIN jump13 b ON b.id = a.up),
jump15 AS (SELECT a.id, b.up FROM jump14 a JOIN jump14 b ON b.id = a.up),
jump16 AS (SELECT a.id, b.up FROM jump15 a JOIN jump15 b ON b.id = a.up),
jump17 AS (SELECT a.id, b.up FROM jump16 a JOIN jump16 b ON b.id = a.up),
jump18 AS (SELECT a.id, b.up FROM jump17 a JOIN jump17 b ON b.id = a.up),
jump19 AS (SELECT a.id, b.up FROM jump18 a JOIN jump18 b ON b.id = a.up),
jump20 AS (SELECT a.id, b.up FROM jump19 a JOIN jump19 b ON b.id = a.up),
jump21 AS (SELECT a.id, b.up FROM jump20 a JOIN jump20 b ON b.id = a.up),
jump22 AS (SELECT a.id, b.up FROM jump21 a JOIN jump21 b ON b.id = a.up),
jump23 AS (SELECT a.id, b.up FROM jump22 a JOIN jump22 b ON b.id = a.up),
jump24 AS (SELECT a.id, b.up FROM jump23 a JOIN jump23 b ON b.id = a.up),
problems AS (
    SELECT DISTINCT j.up AS affiliate_id, 'cycle' AS problem
    FROM jump24 j
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
