-- Every worker stopped sending heartbeats 6–8 minutes ago (down: none within 60 s).
UPDATE public.worker_heartbeats h
SET last_seen_at = sp.live_at - interval '6 minutes' - w.rn * interval '40 seconds'
FROM (SELECT worker_id, row_number() OVER (ORDER BY worker_id) AS rn
      FROM public.worker_heartbeats) w, sim_params sp
WHERE w.worker_id = h.worker_id;
