-- A transfer into program 0's treasury that no settlement claims.
INSERT INTO public.chain_transactions (tx_hash, block_number, from_address, to_address, amount,
                                       observed_at)
SELECT pg_temp.sim_tx_hash(sp.seed, 'fault:unknown_transfer'),
       floor(extract(epoch FROM sp.live_at - interval '30 minutes') / 12)::bigint,
       pg_temp.sim_addr(sp.seed, 'fault:unknown_sender'), pr.treasury_address, 777.00,
       sp.live_at - interval '30 minutes'
FROM public.programs pr, sim_params sp WHERE pr.id = pg_temp.sim_program_id(0);
