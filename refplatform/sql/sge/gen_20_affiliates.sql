-- The affiliate tree of each active program: the first three affiliates are roots (depth 1, no
-- parent); every later one hangs under an earlier one of the same program (three children each),
-- so the tree is several levels deep and a parent is always older than its children.
CREATE TEMP TABLE sge_aff ON COMMIT DROP AS
WITH base AS (
    SELECT pr.program_no, i AS idx,
           CASE WHEN i >= 3 THEN (i - 3) / 3 END AS parent_idx,
           (sp.as_of - interval '80 days'
               + ((i + pg_temp.sge_u(sp.seed, pr.program_no * 1000000 + i, 21)) / sp.n_affiliates)
                 * interval '15 days')::timestamp(3) AS created_at,
           pg_temp.sge_u(sp.seed, pr.program_no * 1000000 + i, 22) AS u_status,
           sp.seed
    FROM sge_params sp
    JOIN sge_prog pr ON pr.program_no < sp.n_programs
    CROSS JOIN LATERAL generate_series(0, sp.n_affiliates - 1) i
)
SELECT b.program_no, b.idx, b.parent_idx, b.created_at,
       pg_temp.sge_cuid(b.created_at, b.program_no * 1000000 + b.idx, 2, b.seed) AS id,
       '0x' || pg_temp.sge_hex(b.seed, 'aff:' || b.program_no || ':' || b.idx, 40) AS wallet,
       upper(pg_temp.sge_hex(b.seed, 'ref:' || b.program_no || ':' || b.idx, 8)) AS referral_code,
       CASE WHEN b.idx < 3 OR b.u_status >= 0.06 THEN 'ACTIVE'
            WHEN b.u_status < 0.04 THEN 'SUSPENDED' ELSE 'PENDING' END::"AffiliateStatus" AS status,
       1 AS depth
FROM base b;

ALTER TABLE sge_aff ADD COLUMN parent_id text;
UPDATE sge_aff c SET parent_id = p.id
FROM sge_aff p WHERE p.program_no = c.program_no AND p.idx = c.parent_idx;

-- depth = 1 + depth of the parent (roots 1)
WITH RECURSIVE tree AS (
    SELECT program_no, idx, 1 AS depth FROM sge_aff WHERE parent_idx IS NULL
    UNION ALL
    SELECT c.program_no, c.idx, t.depth + 1
    FROM sge_aff c JOIN tree t ON t.program_no = c.program_no AND c.parent_idx = t.idx
)
UPDATE sge_aff a SET depth = t.depth FROM tree t WHERE t.program_no = a.program_no AND t.idx = a.idx;
CREATE INDEX ON sge_aff (program_no, idx);
ANALYZE sge_aff;

INSERT INTO public."Affiliate" ("id", "programId", "parentId", "depth", "wallet", "referralCode",
    "email", "displayName", "status", "createdAt", "updatedAt")
SELECT a.id, pr.id, a.parent_id, a.depth, a.wallet, a.referral_code,
       lower(a.referral_code) || '@affiliates.example', 'Affiliate ' || a.referral_code, a.status,
       a.created_at, a.created_at
FROM sge_aff a JOIN sge_prog pr USING (program_no)
ORDER BY a.program_no, a.idx;  -- parents first (the FK is checked row by row)
