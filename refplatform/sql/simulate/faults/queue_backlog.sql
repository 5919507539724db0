-- A burst of 600 new intents waiting in the settlement queue (depth > 500 fails). They are
-- freshly created, so none of them is stuck yet.
INSERT INTO public.settlement_intents (id, program_id, user_id, amount, currency, status,
                                       idempotency_key, attempts, last_error, created_at,
                                       status_changed_at, completed_at)
SELECT 'int_fault_backlog_' || lpad(k::text, 4, '0'),
       pg_temp.sim_program_id((u.user_no % sp.n_programs)::integer), pg_temp.sim_user_id(u.user_no),
       round((10 + 990 * pg_temp.sim_u(sp.seed, k, 92))::numeric, 2),
       pg_temp.sim_currency((u.user_no % sp.n_programs)::integer), 'created',
       'idem_fault_backlog_' || k || '_' || substr(md5(sp.seed::text || ':backlog:' || k), 1, 12),
       0, NULL, sp.live_at - k * interval '200 milliseconds', sp.live_at - k * interval '200 milliseconds',
       NULL
FROM sim_params sp, generate_series(1, 600) k
CROSS JOIN LATERAL (SELECT floor(pg_temp.sim_u(sp.seed, k, 91) * sp.n_users)::bigint AS user_no) u;

INSERT INTO public.jobs (queue, intent_id, status, attempts, run_at, created_at)
SELECT 'settlement', 'int_fault_backlog_' || lpad(k::text, 4, '0'), 'waiting', 0,
       sp.live_at - k * interval '200 milliseconds', sp.live_at - k * interval '200 milliseconds'
FROM sim_params sp, generate_series(1, 600) k
ORDER BY k;
