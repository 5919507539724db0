-- The 100 most recently completed intents took 20–40 s from creation to completion (mean > 15 s
-- fails processing_time): they were created earlier than recorded, the rest is unchanged.
UPDATE public.settlement_intents i
SET created_at = i.completed_at - (20 + 20 * pg_temp.sim_u(sp.seed, r.rn, 93)) * interval '1 second'
FROM (SELECT id, row_number() OVER (ORDER BY completed_at DESC, id) AS rn
      FROM public.settlement_intents WHERE status = 'completed'
      ORDER BY completed_at DESC, id LIMIT 100) r, sim_params sp
WHERE i.id = r.id;
