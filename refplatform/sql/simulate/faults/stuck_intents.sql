-- Four intents stuck mid-flight: two for 11–12 minutes (past INTENT_TIMEOUT_MINUTES = 10: warn),
-- two for 20 and 45 minutes (past 15: fail).
INSERT INTO public.settlement_intents (id, program_id, user_id, amount, currency, status,
                                       idempotency_key, attempts, last_error, created_at,
                                       status_changed_at, completed_at)
SELECT 'int_fault_stuck_' || s.k, pg_temp.sim_program_id((s.user_no % sp.n_programs)::integer),
       pg_temp.sim_user_id(s.user_no), s.amount,
       pg_temp.sim_currency((s.user_no % sp.n_programs)::integer), s.status,
       'idem_fault_stuck_' || s.k || '_' || substr(md5(sp.seed::text || ':stuck:' || s.k), 1, 12),
       1, NULL, sp.live_at - s.age - interval '30 seconds', sp.live_at - s.age, NULL
FROM sim_params sp
CROSS JOIN LATERAL (VALUES
    (1, 'payment_pending', interval '11 minutes', 5 * sp.n_users / 97, 120.00),
    (2, 'verifying', interval '12 minutes', 11 * sp.n_users / 97, 2450.50),
    (3, 'processing', interval '20 minutes', 23 * sp.n_users / 97, 75.25),
    (4, 'payment_pending', interval '45 minutes', 41 * sp.n_users / 97, 980.00)
) s(k, status, age, user_no, amount);
