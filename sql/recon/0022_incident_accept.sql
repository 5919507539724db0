-- Accept with a note (issue 19): a known fault (e.g. an imbalance awaiting a correction) is
-- accepted: no reminders, but it stays unresolved, counted and reported until a passing check
-- resolves it. Who accepted it, when and why are kept (and journaled: a status transition).
ALTER TABLE recon.incidents DROP CONSTRAINT IF EXISTS incidents_status_check;
ALTER TABLE recon.incidents ADD CONSTRAINT incidents_status_check
    CHECK (status IN ('open', 'acknowledged', 'accepted', 'resolved'));
ALTER TABLE recon.incidents ADD COLUMN IF NOT EXISTS accepted_at timestamptz NULL;
ALTER TABLE recon.incidents ADD COLUMN IF NOT EXISTS accepted_by text NULL;
ALTER TABLE recon.incidents ADD COLUMN IF NOT EXISTS accept_note text NULL;
COMMENT ON COLUMN recon.incidents.accepted_at IS
    'When the incident was accepted with a note (no more reminders; still unresolved and reported)';
COMMENT ON COLUMN recon.incidents.accepted_by IS 'Console account that accepted it';
COMMENT ON COLUMN recon.incidents.accept_note IS 'Why it was accepted (mandatory), e.g. a correction is awaiting sign-off';
COMMENT ON COLUMN recon.incidents.status IS
    'open, acknowledged (somebody is on it), accepted (known, with a note: no reminders, still reported) or resolved';
