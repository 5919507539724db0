-- Six more deliveries waiting for a retry (eight in all, above the warning level of 5), one per
-- enabled endpoint in turn so that no endpoint comes near 10 consecutive failures.
INSERT INTO public.webhook_deliveries (id, endpoint_id, event_type, payload, status, attempt_count,
                                       last_error, last_attempt_at, next_retry_at, created_at)
SELECT 'dlv_fault_retry_' || k,
       pg_temp.sim_endpoint_id((k - 1) % (2 * sp.n_programs)),
       'settlement.completed',
       jsonb_build_object('intentId', pg_temp.sim_intent_id(sp.n_intents - k), 'status', 'completed'),
       'retry_scheduled', 1 + k % 2, 'HTTP 502 Bad Gateway',
       sp.live_at - (10 - k) * interval '1 minute' + pg_temp.sim_attempt_offset(1 + k % 2),
       sp.live_at - (10 - k) * interval '1 minute' + pg_temp.sim_attempt_offset(2 + k % 2),
       sp.live_at - (10 - k) * interval '1 minute'
FROM sim_params sp, generate_series(1, 6) k;
