-- Three affiliates of program 0 that are each other's parents: a → b → c → a. Nobody was
-- referred by them, so no commission flows through the loop.
INSERT INTO public.affiliates (id, program_id, code, parent_id, created_at)
SELECT 'aff_fault_cycle_' || x.me, pg_temp.sim_program_id(0), 'CYCLE' || upper(x.me),
       'aff_fault_cycle_' || x.parent, sp.live_at - interval '2 days'
FROM sim_params sp, (VALUES ('a', 'b'), ('b', 'c'), ('c', 'a')) x(me, parent);
