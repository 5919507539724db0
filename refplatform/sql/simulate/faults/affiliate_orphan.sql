-- An affiliate whose parent_id names no affiliate at all.
INSERT INTO public.affiliates (id, program_id, code, parent_id, created_at)
SELECT 'aff_fault_orphan', pg_temp.sim_program_id(0), 'ORPHAN01', 'aff_missing_0001',
       sp.live_at - interval '2 days'
FROM sim_params sp;
