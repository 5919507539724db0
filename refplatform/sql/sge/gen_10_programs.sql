-- Programs: three ACTIVE programs with their own fees and commission percents, and one ARCHIVED
-- program with no activity at all.
CREATE TEMP TABLE sge_prog ON COMMIT DROP AS
SELECT p AS program_no,
       pg_temp.sge_cuid(sp.as_of - interval '120 days' + p * interval '1 hour', p, 1, sp.seed) AS id,
       (ARRAY['Genesis Club', 'Atlas Rewards', 'Harbor Pay', 'Legacy Pilot'])[p + 1] AS name,
       (ARRAY['genesis-club', 'atlas-rewards', 'harbor-pay', 'legacy-pilot'])[p + 1] AS slug,
       CASE WHEN p < sp.n_programs THEN 'ACTIVE' ELSE 'ARCHIVED' END::"ProgramStatus" AS status,
       '0x' || pg_temp.sge_hex(sp.seed, 'treasury:' || p, 40) AS treasury_address,
       (ARRAY[100, 250, 49.99, 100])[p + 1]::numeric(18,6) AS fee_usd,
       (ARRAY[1000, 500, 250, 1000])[p + 1]::numeric(18,6) AS claim_amount,
       (ARRAY[10.00, 12.50, 8.00, 10.00])[p + 1]::numeric(5,2) AS direct_pct,
       (ARRAY[5.00, 4.00, 2.50, 5.00])[p + 1]::numeric(5,2) AS override_pct,
       (sp.as_of - interval '120 days' + p * interval '1 hour')::timestamp(3) AS created_at
FROM sge_params sp CROSS JOIN generate_series(0, sp.n_programs) p;

INSERT INTO public."Program" ("id", "name", "slug", "status", "treasuryAddress", "sgeTokenAddress",
    "sgeClaimAddress", "sgeidAddress", "feeUsd", "claimAmount", "directCommissionPct",
    "overrideCommissionPct", "maxAffiliateDepth", "kycRequired", "commerceRequired", "mockMode",
    "createdAt", "updatedAt")
SELECT id, name, slug, status, treasury_address,
       '0x' || pg_temp.sge_hex(sp.seed, 'token:' || program_no, 40),
       '0x' || pg_temp.sge_hex(sp.seed, 'claim:' || program_no, 40),
       '0x' || pg_temp.sge_hex(sp.seed, 'sgeid:' || program_no, 40),
       fee_usd, claim_amount, direct_pct, override_pct, 2, program_no = 1, program_no = 2, false,
       created_at,
       CASE WHEN status = 'ARCHIVED' THEN sp.as_of - interval '70 days'
            ELSE created_at + interval '1 day' END
FROM sge_prog CROSS JOIN sge_params sp;
