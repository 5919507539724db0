-- affiliate_cross_program: a new affiliate of program 1 whose parent is a root affiliate of
-- program 0.
INSERT INTO public."Affiliate" ("id", "programId", "parentId", "depth", "wallet", "referralCode",
    "status", "createdAt", "updatedAt")
SELECT pg_temp.sge_cuid(sp.as_of - interval '2 days', 3000000, 55, sp.seed), p1.id, a0.id, 2,
       '0x' || pg_temp.sge_hex(sp.seed, 'cross', 40), upper(pg_temp.sge_hex(sp.seed, 'cross-ref', 8)),
       'ACTIVE', (sp.as_of - interval '2 days')::timestamp(3), (sp.as_of - interval '2 days')::timestamp(3)
FROM sge_params sp
JOIN sge_prog p1 ON p1.program_no = 1
JOIN sge_aff a0 ON a0.program_no = 0 AND a0.idx = 0;

INSERT INTO sge_expect (fault, ident)
SELECT 'affiliate_cross_program', to_jsonb(pg_temp.sge_cuid(sp.as_of - interval '2 days', 3000000, 55, sp.seed))
FROM sge_params sp;
