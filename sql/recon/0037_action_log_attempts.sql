-- A console action that calls an external system (the admin API, BullMQ) is recorded BEFORE the
-- request is sent, as a 'pending' attempt, and the same row is completed ('ok' or 'failed', the
-- status code, the answer, the error, completed_at) once the answer is in. A console killed
-- between the two (a restart, OOM) or a database lost after the send leaves the row 'pending':
-- sent, outcome unknown — check the platform. Before this, the row was written only after the
-- answer, so such a crash left an executed payout with no console record of who sent it.
ALTER TABLE recon.action_log DROP CONSTRAINT IF EXISTS action_log_result_check;
ALTER TABLE recon.action_log ADD CONSTRAINT action_log_result_check
    CHECK (result IN ('ok', 'failed', 'pending'));
ALTER TABLE recon.action_log ADD COLUMN IF NOT EXISTS completed_at timestamptz NULL;

COMMENT ON COLUMN recon.action_log.at IS
    'When the action was taken (for an admin API or BullMQ call: when the attempt was recorded, just before it was sent)';
COMMENT ON COLUMN recon.action_log.result IS
    'ok or failed; pending: sent to the platform but no answer recorded (the console stopped or lost its database after sending) — the outcome is unknown, check the platform';
COMMENT ON COLUMN recon.action_log.completed_at IS
    'When the answer of a sent request was recorded on this row; NULL for a pending attempt and for actions recorded in one step';

-- The completion of an attempt is journaled too (op update), so the hash chain holds both the
-- attempt and the answer.
DROP TRIGGER IF EXISTS journal_action_log_outcome ON recon.action_log;
CREATE TRIGGER journal_action_log_outcome AFTER UPDATE ON recon.action_log FOR EACH ROW
    WHEN (OLD.result IS DISTINCT FROM NEW.result)
    EXECUTE FUNCTION recon.journal_append();
COMMENT ON COLUMN recon.journal.op IS
    'insert or update (an incident transition, a run finishing, an override confirmed or used, a console action''s answer recorded on its pending attempt)';
