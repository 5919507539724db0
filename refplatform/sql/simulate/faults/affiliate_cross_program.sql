-- An affiliate of program 1 whose parent is an affiliate of program 0.
INSERT INTO public.affiliates (id, program_id, code, parent_id, created_at)
SELECT 'aff_fault_cross', pg_temp.sim_program_id(1), 'CROSS001', pg_temp.sim_affiliate_id(0),
       sp.live_at - interval '2 days'
FROM sim_params sp;
