-- Operational history: webhook deliveries (last 14 days), settlement jobs (last 7 days), RPC
-- call samples (90 days).

-- One event per finished intent to one of its program's enabled endpoints. Most are delivered
-- at the first attempt; a few needed retries on the schedule 0, +1, +5 min.
INSERT INTO public.webhook_deliveries (id, endpoint_id, event_type, payload, status, attempt_count,
                                       last_error, last_attempt_at, next_retry_at, created_at)
SELECT 'dlv_' || lpad(d.n::text, 9, '0'), d.endpoint_id, d.event_type,
       jsonb_build_object('intentId', d.intent_id, 'programId', d.program_id,
                          'amount', d.amount::text, 'currency', d.currency, 'status', d.status),
       'delivered', d.attempts, NULL,
       d.created_at + pg_temp.sim_attempt_offset(d.attempts)
           + (50 + 400 * d.u_latency) * interval '1 millisecond',
       NULL, d.created_at
FROM (
    SELECT i.n, i.id AS intent_id, i.program_id, i.amount, i.currency, i.status,
           pg_temp.sim_endpoint_id(i.program_no
                                   + sp.n_programs * floor(2 * pg_temp.sim_u(sp.seed, i.n, 51))::integer)
               AS endpoint_id,
           'settlement.' || i.status AS event_type,
           i.status_changed_at + interval '500 milliseconds' AS created_at,
           CASE WHEN i.status_changed_at > sp.as_of - interval '15 minutes' THEN 1
                WHEN pg_temp.sim_u(sp.seed, i.n, 52) < 0.97 THEN 1
                WHEN pg_temp.sim_u(sp.seed, i.n, 52) < 0.99 THEN 2
                ELSE 3 END AS attempts,
           pg_temp.sim_u(sp.seed, i.n, 53) AS u_latency
    FROM sim_intents i CROSS JOIN sim_params sp
    WHERE i.status IN ('completed', 'failed') AND i.created_at >= sp.as_of - interval '14 days'
) d;

-- The settlement queue's last 7 days: one job per finished intent, started a moment after the
-- intent was created, finished when it completed (or finally failed), spread over three workers.
INSERT INTO public.jobs (id, queue, intent_id, status, attempts, run_at, created_at, started_at,
                         finished_at, last_error, worker_id)
SELECT i.n, 'settlement', i.id,
       CASE i.status WHEN 'completed' THEN 'completed' ELSE 'failed' END,
       i.attempts, i.created_at, i.created_at,
       i.created_at + (50 + 200 * pg_temp.sim_u(sp.seed, i.n, 61)) * interval '1 millisecond',
       i.status_changed_at, i.last_error,
       'worker-' || (1 + i.n % 3)
FROM sim_intents i CROSS JOIN sim_params sp
WHERE i.status IN ('completed', 'failed') AND i.created_at >= sp.as_of - interval '7 days';

-- RPC call samples over several providers, each with its own latency profile.
INSERT INTO public.rpc_calls (id, provider, method, latency_ms, ok, called_at)
SELECT r, (ARRAY['alchemy', 'infura', 'quicknode'])[1 + prov],
       (ARRAY['eth_getTransactionReceipt', 'eth_blockNumber', 'eth_getLogs',
              'eth_getTransactionByHash'])[1 + floor(4 * pg_temp.sim_u(sp.seed, r, 72))::integer],
       round(((ARRAY[80, 120, 60])[1 + prov]
              * (0.6 + 2.5 * power(pg_temp.sim_u(sp.seed, r, 73), 3)))::numeric, 3),
       pg_temp.sim_u(sp.seed, r, 74) >= 0.007,
       sp.as_of - interval '90 days'
           + ((r - 1 + pg_temp.sim_u(sp.seed, r, 75)) / sp.n_rpc_calls)
             * (interval '90 days' - interval '1 minute')
FROM sim_params sp
CROSS JOIN LATERAL generate_series(1, sp.n_rpc_calls) r
CROSS JOIN LATERAL (SELECT floor(3 * pg_temp.sim_u(sp.seed, r, 71))::integer AS prov) p;
