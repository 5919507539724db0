-- Rows above carry explicit ids (pure functions of their row numbers); move the sequences past
-- them so that faults and later platform writes continue without collisions.
SELECT setval(pg_get_serial_sequence('public.ledger_entries', 'id'),
              (SELECT coalesce(max(id), 0) + 1 FROM public.ledger_entries), false);
SELECT setval(pg_get_serial_sequence('public.jobs', 'id'),
              (SELECT coalesce(max(id), 0) + 1 FROM public.jobs), false);
SELECT setval(pg_get_serial_sequence('public.rpc_calls', 'id'),
              (SELECT coalesce(max(id), 0) + 1 FROM public.rpc_calls), false);
