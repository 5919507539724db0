-- The "live" edge of the platform: intents in flight, the jobs waiting for them, the latest
-- webhook events and the workers' heartbeats. They are placed relative to live_at: as_of when
-- --as-of was given (fully reproducible), otherwise the real clock at the end of the load, so
-- that a clean platform is clean when it is checked right after loading.

UPDATE sim_params SET live_at = CASE WHEN as_of_given THEN as_of ELSE clock_timestamp() END;

INSERT INTO sim_intents (n, id, user_no, user_id, program_no, program_id, amount, currency, status,
                         idempotency_key, attempts, last_error, created_at, status_changed_at,
                         completed_at, tx_hash)
SELECT x.n, pg_temp.sim_intent_id(x.n), x.user_no, pg_temp.sim_user_id(x.user_no),
       (x.user_no % sp.n_programs)::integer, pg_temp.sim_program_id((x.user_no % sp.n_programs)::integer),
       round((10 + 990 * pg_temp.sim_u(sp.seed, x.n, 3))::numeric, 2),
       pg_temp.sim_currency((x.user_no % sp.n_programs)::integer), x.status,
       'idem_' || pg_temp.sim_intent_id(x.n) || '_' || substr(md5(sp.seed::text || ':idem:' || x.n), 1, 12),
       CASE WHEN x.status = 'created' THEN 0 ELSE 1 END, NULL,
       sp.live_at - (20 + 16 * x.k) * interval '1 second',
       sp.live_at - (20 + 16 * x.k) * interval '1 second'
           + CASE WHEN x.status = 'created' THEN interval '0' ELSE interval '6 seconds' END,
       NULL, NULL
FROM sim_params sp
CROSS JOIN LATERAL (
    SELECT sp.n_intents + k AS n, k,
           floor(pg_temp.sim_u(sp.seed, sp.n_intents + k, 1) * sp.n_users)::bigint AS user_no,
           (ARRAY['created', 'payment_pending', 'payment_pending', 'verifying', 'processing',
                  'payment_pending', 'verifying', 'processing', 'payment_pending', 'created'])[k]
               AS status
    FROM generate_series(1, 10) k
) x;

INSERT INTO public.settlement_intents (id, program_id, user_id, amount, currency, status,
                                       idempotency_key, attempts, last_error, created_at,
                                       status_changed_at, completed_at)
SELECT id, program_id, user_id, amount, currency, status, idempotency_key, attempts, last_error,
       created_at, status_changed_at, completed_at
FROM sim_intents i, sim_params sp WHERE i.n > sp.n_intents;

-- Paid intents wait in the settlement queue; verifying/processing ones are being worked on.
INSERT INTO public.jobs (id, queue, intent_id, status, attempts, run_at, created_at, started_at,
                         finished_at, last_error, worker_id)
SELECT i.n, 'settlement', i.id,
       CASE WHEN i.status = 'payment_pending' THEN 'waiting' ELSE 'active' END,
       CASE WHEN i.status = 'payment_pending' THEN 0 ELSE 1 END,
       i.status_changed_at, i.status_changed_at,
       CASE WHEN i.status <> 'payment_pending' THEN i.status_changed_at END,
       NULL, NULL,
       CASE WHEN i.status <> 'payment_pending' THEN 'worker-' || (1 + i.n % 3) END
FROM sim_intents i, sim_params sp
WHERE i.n > sp.n_intents AND i.status IN ('payment_pending', 'verifying', 'processing');

-- Their creation events: delivered, except two whose first attempt just failed (a normal level
-- of retries: the webhook_retries check warns only above 5).
INSERT INTO public.webhook_deliveries (id, endpoint_id, event_type, payload, status, attempt_count,
                                       last_error, last_attempt_at, next_retry_at, created_at)
SELECT 'dlv_' || lpad(i.n::text, 9, '0'), pg_temp.sim_endpoint_id(i.program_no),
       'settlement.created',
       jsonb_build_object('intentId', i.id, 'programId', i.program_id, 'amount', i.amount::text,
                          'currency', i.currency, 'status', 'created'),
       CASE WHEN r.retrying THEN 'retry_scheduled' ELSE 'delivered' END, 1,
       CASE WHEN r.retrying THEN 'HTTP 503 Service Unavailable' END,
       i.created_at + interval '700 milliseconds',
       CASE WHEN r.retrying THEN i.created_at + interval '700 milliseconds' + interval '1 minute' END,
       i.created_at + interval '500 milliseconds'
FROM sim_intents i CROSS JOIN sim_params sp
CROSS JOIN LATERAL (SELECT i.n - sp.n_intents IN (3, 8) AS retrying) r
WHERE i.n > sp.n_intents;

INSERT INTO public.worker_heartbeats (worker_id, started_at, last_seen_at, jobs_completed)
SELECT 'worker-' || w, sp.as_of - interval '9 days' - w * interval '1 hour',
       sp.live_at - w * 3 * interval '1 second',
       (SELECT count(*) FROM public.jobs j WHERE j.worker_id = 'worker-' || w AND j.status = 'completed')
FROM sim_params sp, generate_series(1, 3) w;

INSERT INTO public.queue_control (queue, paused, changed_at, changed_by)
SELECT 'settlement', false, sp.live_at, 'simulate' FROM sim_params sp
ON CONFLICT (queue) DO UPDATE SET paused = false, changed_at = EXCLUDED.changed_at,
                                  changed_by = EXCLUDED.changed_by;
