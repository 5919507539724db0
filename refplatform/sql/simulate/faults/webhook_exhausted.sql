-- Two deliveries that gave up after their 5th attempt (0, +1, +5, +15 min, +1 h), on two
-- different endpoints: 5 failed attempts each, below the failing-endpoint level of 10.
INSERT INTO public.webhook_deliveries (id, endpoint_id, event_type, payload, status, attempt_count,
                                       last_error, last_attempt_at, next_retry_at, created_at)
SELECT 'dlv_fault_exhausted_' || k, pg_temp.sim_endpoint_id(k - 1), 'settlement.completed',
       jsonb_build_object('intentId', pg_temp.sim_intent_id(sp.n_intents - 10 - k), 'status', 'completed'),
       'failed', 5, 'HTTP 500 Internal Server Error',
       sp.live_at - interval '3 hours' + pg_temp.sim_attempt_offset(5), NULL,
       sp.live_at - interval '3 hours'
FROM sim_params sp, generate_series(1, 2) k;
