INSERT INTO sge_params (seed, as_of, n_intents, n_programs, n_affiliates, n_users, n_live)
SELECT %(seed)s::bigint, %(as_of)s::timestamp(3), %(intents)s::bigint, 3,
       greatest(10, %(intents)s::bigint / 120), greatest(20, %(intents)s::bigint / 15),
       least(%(intents)s::bigint / 2, greatest(4, %(intents)s::bigint / 1000))
