-- affiliate_cycle: three new affiliates of program 0 whose "parentId" links close a loop
-- (A -> B -> C -> A). The FK allows it: every parent exists.
CREATE TEMP TABLE sge_f_cycle ON COMMIT DROP AS
SELECT k, pr.id AS program_id, (sp.as_of - interval '3 days' + k * interval '1 minute')::timestamp(3) AS created_at,
       pg_temp.sge_cuid(sp.as_of - interval '3 days' + k * interval '1 minute', 2000000 + k, 54, sp.seed) AS id,
       '0x' || pg_temp.sge_hex(sp.seed, 'cycle:' || k, 40) AS wallet,
       upper(pg_temp.sge_hex(sp.seed, 'cycle-ref:' || k, 8)) AS referral_code
FROM sge_params sp CROSS JOIN generate_series(0, 2) k JOIN sge_prog pr ON pr.program_no = 0;

INSERT INTO public."Affiliate" ("id", "programId", "parentId", "depth", "wallet", "referralCode",
    "status", "createdAt", "updatedAt")
SELECT id, program_id, NULL, 2, wallet, referral_code, 'ACTIVE', created_at, created_at
FROM sge_f_cycle;

UPDATE public."Affiliate" a SET "parentId" = p.id, "updatedAt" = (c.created_at + interval '1 hour')::timestamp(3)
FROM sge_f_cycle c JOIN sge_f_cycle p ON p.k = (c.k + 1) % 3
WHERE a."id" = c.id;

INSERT INTO sge_expect (fault, ident) SELECT 'affiliate_cycle', to_jsonb(id) FROM sge_f_cycle;
