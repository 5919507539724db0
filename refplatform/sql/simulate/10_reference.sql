-- Programs, affiliate trees, users and webhook endpoints: the slowly-changing reference data.

INSERT INTO public.programs (id, name, currency, treasury_address, direct_commission_rate,
                             parent_commission_rate, created_at)
SELECT pg_temp.sim_program_id(g),
       (ARRAY['Atlas Pay', 'Borealis Games', 'Cobalt Markets', 'Delta Rewards', 'Ember Travel',
              'Fjord Media', 'Granite Loans', 'Helix Health', 'Iris Learning', 'Juniper Retail',
              'Kestrel Energy', 'Lumen Studio'])[g % 12 + 1]
           || CASE WHEN g >= 12 THEN ' ' || (g / 12 + 1)::text ELSE '' END,
       pg_temp.sim_currency(g),
       pg_temp.sim_addr(sp.seed, 'treasury:' || g),
       -- contract rates: 1 % direct / 0.5 % parent, varied slightly per program
       CASE WHEN g = 0 THEN 0.010 ELSE 0.010 + ((g % 3) - 1) * 0.001 END,
       CASE WHEN g = 0 THEN 0.005 ELSE 0.005 + ((g % 3) - 1) * 0.0005 END,
       sp.as_of - interval '120 days' + g * interval '12 hours'
FROM sim_params sp, generate_series(0, sp.n_programs - 1) g;

-- Affiliate a belongs to program a % P with ordinal k = a / P inside it. A parent is always an
-- earlier affiliate of the same program (ordinal < k), so trees are acyclic and grow several
-- levels deep (depth ~ ln k); a few affiliates start new trees.
INSERT INTO public.affiliates (id, program_id, code, parent_id, created_at)
SELECT pg_temp.sim_affiliate_id(a),
       pg_temp.sim_program_id((a % sp.n_programs)::integer),
       upper(substr(md5(sp.seed::text || ':code:' || a), 1, 8)),
       CASE WHEN a / sp.n_programs < 2 OR pg_temp.sim_u(sp.seed, a, 11) < 0.15 THEN NULL
            ELSE pg_temp.sim_affiliate_id(
                   floor(pg_temp.sim_u(sp.seed, a, 12) * (a / sp.n_programs))::bigint
                   * sp.n_programs + a % sp.n_programs) END,
       sp.as_of - interval '110 days' + (a::float8 / sp.n_affiliates) * interval '15 days'
FROM sim_params sp, generate_series(0, sp.n_affiliates - 1) a;

-- Users: three in four were referred by an affiliate of their program.
INSERT INTO public.users (id, program_id, wallet, referred_by, created_at)
SELECT pg_temp.sim_user_id(u),
       pg_temp.sim_program_id((u % sp.n_programs)::integer),
       pg_temp.sim_addr(sp.seed, 'wallet:' || u),
       CASE WHEN pg_temp.sim_u(sp.seed, u, 21) < 0.75 THEN pg_temp.sim_affiliate_id(
                floor(pg_temp.sim_u(sp.seed, u, 22)
                      * ((sp.n_affiliates - 1 - u % sp.n_programs) / sp.n_programs + 1))::bigint
                * sp.n_programs + u % sp.n_programs) END,
       sp.as_of - interval '95 days' + (u::float8 / sp.n_users) * interval '5 days'
FROM sim_params sp, generate_series(0, sp.n_users - 1) u;

-- Two enabled endpoints per program, plus one that its program disabled weeks ago.
INSERT INTO public.webhook_endpoints (id, program_id, url, enabled, disabled_at, created_at, secret)
SELECT pg_temp.sim_endpoint_id(j),
       pg_temp.sim_program_id(j % sp.n_programs),
       'https://hooks.example.com/' || pg_temp.sim_program_id(j % sp.n_programs) || '/sge/' || j,
       j < 2 * sp.n_programs,
       CASE WHEN j >= 2 * sp.n_programs THEN sp.as_of - interval '20 days' END,
       sp.as_of - interval '100 days' + j * interval '1 hour',
       'whsec_' || md5(sp.seed::text || ':secret:' || j)
FROM sim_params sp, generate_series(0, sp.n_endpoints - 1) j;

ANALYZE public.programs, public.affiliates, public.users, public.webhook_endpoints;
