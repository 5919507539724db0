-- End users: n_users per active program, created over the two days before the activity window;
-- about 80 % were referred by an affiliate of their program (attribution locked at sign-up).
CREATE TEMP TABLE sge_user ON COMMIT DROP AS
WITH base AS (
    SELECT pr.program_no, i AS idx, sp.seed, sp.n_affiliates,
           (sp.as_of - interval '62 days'
               + ((i + pg_temp.sge_u(sp.seed, pr.program_no * 10000000 + i, 31)) / sp.n_users)
                 * interval '2 days')::timestamp(3) AS created_at,
           pg_temp.sge_u(sp.seed, pr.program_no * 10000000 + i, 32) AS u_ref,
           pg_temp.sge_u(sp.seed, pr.program_no * 10000000 + i, 33) AS u_aff
    FROM sge_params sp
    JOIN sge_prog pr ON pr.program_no < sp.n_programs
    CROSS JOIN LATERAL generate_series(0, sp.n_users - 1) i
)
SELECT b.program_no, b.idx, b.created_at,
       pg_temp.sge_cuid(b.created_at, b.program_no * 10000000 + b.idx, 3, b.seed) AS id,
       '0x' || pg_temp.sge_hex(b.seed, 'user:' || b.program_no || ':' || b.idx, 40) AS wallet,
       CASE WHEN b.u_ref < 0.8 THEN floor(b.u_aff * b.n_affiliates)::bigint END AS referrer_idx
FROM base b;

ALTER TABLE sge_user ADD COLUMN referred_by text, ADD COLUMN referral_code text;
UPDATE sge_user u SET referred_by = a.id, referral_code = a.referral_code
FROM sge_aff a WHERE a.program_no = u.program_no AND a.idx = u.referrer_idx;
CREATE INDEX ON sge_user (program_no, idx);
ANALYZE sge_user;

INSERT INTO public."User" ("id", "programId", "wallet", "referredById", "referredAt",
    "attributionProof", "createdAt", "updatedAt")
SELECT u.id, pr.id, u.wallet, u.referred_by,
       CASE WHEN u.referred_by IS NOT NULL THEN u.created_at END,
       CASE WHEN u.referred_by IS NOT NULL THEN jsonb_build_object(
           'refCode', u.referral_code,
           'timestamp', to_char(u.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) END,
       u.created_at, u.created_at
FROM sge_user u JOIN sge_prog pr USING (program_no);
