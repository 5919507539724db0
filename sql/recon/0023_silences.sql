-- Silences and maintenance windows (issue 19): while a silence matches an incident (its kind,
-- optionally one program), the incident is still opened, updated, counted and resolved, but no
-- message is sent; if it is still open when the silence expires, its opening message goes out
-- then. A silence always has a reason, an owner and an expiry; creating and ending one is a
-- console action (recon.action_log) and journaled.
CREATE TABLE IF NOT EXISTS recon.silences (
    id          bigserial PRIMARY KEY,
    kind        text NULL,
    program_id  text NULL,
    reason      text NOT NULL CHECK (length(btrim(reason)) > 0),
    owner       text NOT NULL CHECK (length(btrim(owner)) > 0),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    ended_at    timestamptz NULL,
    ended_by    text NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX IF NOT EXISTS silences_ends_at_idx ON recon.silences (ends_at);
COMMENT ON TABLE recon.silences IS
    'Silences and maintenance windows: matching incidents are recorded but not messaged until the silence expires; mandatory reason, owner and expiry';
COMMENT ON COLUMN recon.silences.id IS 'Silence number';
COMMENT ON COLUMN recon.silences.kind IS 'Incident kind it silences (ledger_imbalance, worker_down, ...); NULL: every kind';
COMMENT ON COLUMN recon.silences.program_id IS 'Only incidents naming this program; NULL: any program';
COMMENT ON COLUMN recon.silences.reason IS 'Why (mandatory), e.g. the platform''s maintenance window';
COMMENT ON COLUMN recon.silences.owner IS 'Who answers for it (mandatory)';
COMMENT ON COLUMN recon.silences.created_by IS 'Console account that created it';
COMMENT ON COLUMN recon.silences.created_at IS 'When it was created (UTC)';
COMMENT ON COLUMN recon.silences.starts_at IS 'Start of the silence (UTC)';
COMMENT ON COLUMN recon.silences.ends_at IS 'Expiry (UTC, mandatory): messages resume after it';
COMMENT ON COLUMN recon.silences.ended_at IS 'When it was ended early by hand; NULL otherwise';
COMMENT ON COLUMN recon.silences.ended_by IS 'Console account that ended it early';

DROP TRIGGER IF EXISTS journal_silences ON recon.silences;
CREATE TRIGGER journal_silences AFTER INSERT OR UPDATE
    ON recon.silences FOR EACH ROW EXECUTE FUNCTION recon.journal_append();
