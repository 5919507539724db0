-- DESIGN §5: a fifth check status, `unavailable` (the connected platform has no data for the
-- check; its profile says why), stored with the reason in `error`'s sibling column `reason`.
ALTER TABLE recon.check_results DROP CONSTRAINT IF EXISTS check_results_status_check;
ALTER TABLE recon.check_results ADD CONSTRAINT check_results_status_check
    CHECK (status IN ('pass', 'warn', 'fail', 'error', 'unavailable'));
ALTER TABLE recon.check_results ADD COLUMN IF NOT EXISTS reason text NULL;
-- Which platform profile a run read (contract, sge, or a profile file's name).
ALTER TABLE recon.check_runs ADD COLUMN IF NOT EXISTS profile text NULL;
