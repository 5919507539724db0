INSERT INTO sim_params (seed, as_of, as_of_given, n_intents, n_programs, n_affiliates, n_users,
                        n_endpoints, n_rpc_calls, n_noise_tx)
VALUES (%(seed)s, coalesce(%(as_of)s::timestamptz, now()), %(as_of)s::timestamptz IS NOT NULL,
        %(intents)s, %(programs)s, %(affiliates)s, %(users)s, %(endpoints)s, %(rpc_calls)s,
        %(noise_tx)s)
