-- The reference platform's own records (it never writes sge-recon's `recon` schema):
-- * reconcile_runs: every POST /admin/reconciliation/force-reconcile, with the checks it ran
--   (DESIGN §6 "records the run"); sge-recon records the answer it receives in recon.check_runs.
-- * reference_simulations: every `sge-recon simulate` load; `--reset` only ever erases platform
--   data that a simulation loaded (a database with platform rows and no load recorded is refused).
CREATE TABLE IF NOT EXISTS public.reconcile_runs (
    run_id       text PRIMARY KEY,
    program_id   text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    status       text NOT NULL,
    checks       jsonb NOT NULL
);

CREATE TABLE IF NOT EXISTS public.reference_simulations (
    id         bigserial PRIMARY KEY,
    loaded_at  timestamptz NOT NULL DEFAULT now(),
    seed       bigint NOT NULL,
    intents    bigint NOT NULL,
    faults     text[] NOT NULL DEFAULT '{}',
    as_of      timestamptz NULL
);

-- A database simulated before these tables existed recorded its loads in recon.simulations: read
-- them over once (a read of recon, never a write), so that `simulate --reset` still accepts it.
DO $$
BEGIN
    IF to_regclass('recon.simulations') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM public.reference_simulations) THEN
        INSERT INTO public.reference_simulations (loaded_at, seed, intents, faults, as_of)
        SELECT loaded_at, seed, intents, faults, as_of FROM recon.simulations ORDER BY id;
    END IF;
END $$;
