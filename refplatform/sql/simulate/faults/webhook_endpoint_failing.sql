-- An enabled endpoint that has failed 12 attempts in a row (three deliveries on their 4th
-- attempt, none delivered since), failing for 40 minutes: above the level of 10 consecutive
-- failures, not yet the 24 h that disables it. With the two retries of clean data that makes 5
-- deliveries in retry_scheduled: not above webhook_retries' level.
INSERT INTO public.webhook_endpoints (id, program_id, url, enabled, disabled_at, created_at, secret)
SELECT 'ep_fault_failing', pg_temp.sim_program_id(0),
       'https://hooks.example.com/' || pg_temp.sim_program_id(0) || '/sge/failing', true, NULL,
       sp.live_at - interval '10 days', 'whsec_' || md5(sp.seed::text || ':secret:failing')
FROM sim_params sp;

INSERT INTO public.webhook_deliveries (id, endpoint_id, event_type, payload, status, attempt_count,
                                       last_error, last_attempt_at, next_retry_at, created_at)
SELECT 'dlv_fault_failing_' || k, 'ep_fault_failing', 'settlement.completed',
       jsonb_build_object('intentId', pg_temp.sim_intent_id(sp.n_intents - 20 - k), 'status', 'completed'),
       'retry_scheduled', 4, 'connect timeout after 10 s',
       sp.live_at - (45 - 5 * k) * interval '1 minute' + pg_temp.sim_attempt_offset(4),
       sp.live_at - (45 - 5 * k) * interval '1 minute' + pg_temp.sim_attempt_offset(5),
       sp.live_at - (45 - 5 * k) * interval '1 minute'
FROM sim_params sp, generate_series(1, 3) k;

-- The reference platform's own view of the endpoint's health, where it keeps one.
INSERT INTO public.webhook_endpoint_health (endpoint_id, failing_since, consecutive_failures,
                                            last_success_at, updated_at)
SELECT 'ep_fault_failing', sp.live_at - interval '40 minutes', 12, NULL, sp.live_at
FROM sim_params sp
WHERE to_regclass('public.webhook_endpoint_health') IS NOT NULL;
