-- Jobs of the last 15 minutes take 4× the 7-day median: enough slow ones that the recent median
-- is the slow one, whatever the normal traffic of those minutes (degraded: p50 > 2× baseline).
-- The workers still beat, so they are slow, not down.
INSERT INTO public.jobs (queue, intent_id, status, attempts, run_at, created_at, started_at,
                         finished_at, last_error, worker_id)
SELECT 'settlement', NULL, 'completed', 1, fin - dur, fin - dur, fin - dur, fin, NULL,
       'worker-' || (1 + k % 3)
FROM sim_params sp
CROSS JOIN LATERAL (
    SELECT count(*) AS recent FROM public.jobs
    WHERE status = 'completed' AND finished_at > sp.live_at - interval '15 minutes') r
CROSS JOIN LATERAL (
    SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM finished_at - started_at)), 2.5) AS p50
    FROM public.jobs
    WHERE status = 'completed' AND finished_at <= sp.live_at - interval '15 minutes'
      AND finished_at > sp.live_at - interval '7 days 15 minutes') b
CROSS JOIN LATERAL generate_series(1, 2 * r.recent::integer + 40) k
CROSS JOIN LATERAL (
    SELECT sp.live_at - (k * 600.0 / (2 * r.recent + 40)) * interval '1 second' AS fin,
           (4 * b.p50 + 0.5 * pg_temp.sim_u(sp.seed, k, 81)) * interval '1 second' AS dur) t
ORDER BY k;  -- ids from the sequence: in a fixed order
