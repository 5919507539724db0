-- The relayer's own `jobs` queue (on-chain mint/claim relays; unrelated to "Intent"), filled only
-- where `jobs` is the relayer's table (a database holding the DESIGN §4 contract tables has a
-- different `jobs`, which is left alone).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name = 'jobs' AND column_name = 'type')
       AND EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'public' AND table_name = 'jobs' AND column_name = 'payload')
    THEN
        INSERT INTO public.jobs (id, type, payload, status, attempts, last_attempt_at, created_at)
        SELECT 'job_' || pg_temp.sge_hex(sp.seed, 'job:' || j, 20),
               (ARRAY['relay-mint', 'relay-claim', 'relay-transfer'])[1 + j % 3],
               jsonb_build_object('to', '0x' || pg_temp.sge_hex(sp.seed, 'jobto:' || j, 40),
                                  'nonce', j),
               CASE WHEN j > n_jobs - 3 THEN 'pending' WHEN j = n_jobs - 3 THEN 'processing'
                    WHEN j % 97 = 0 THEN 'failed' ELSE 'done' END,
               CASE WHEN j > n_jobs - 3 THEN 0 WHEN j % 97 = 0 THEN 5 ELSE 1 END,
               CASE WHEN j > n_jobs - 3 THEN NULL
                    ELSE (t.created + interval '3 seconds') AT TIME ZONE 'UTC' END,
               t.created AT TIME ZONE 'UTC'
        FROM sge_params sp
        CROSS JOIN LATERAL (SELECT least(2000, greatest(10, sp.n_intents / 50))::integer AS n_jobs) c
        CROSS JOIN LATERAL generate_series(1, c.n_jobs) j
        CROSS JOIN LATERAL (SELECT sp.as_of - interval '60 days'
                                   + (j::float8 / c.n_jobs) * (interval '60 days' - interval '1 minute')
                                   AS created) t
        ON CONFLICT (id) DO NOTHING;
    END IF;
END $$;
