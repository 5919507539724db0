-- A console action's answer is recorded once: the app writes the row 'pending' before sending,
-- then completes it with the answer and never touches it again (db/action_log.complete_attempt).
-- The column grants (sql/privileges.sql) let sge_recon_app write only the answer's columns, but
-- on any row, so its login could still turn a completed 'ok' into 'failed' (or move its
-- completed_at) after the fact. This trigger refuses a change to the answer of a completed row,
-- for every login: what an auditor reads as the answer stays the answer. (The other columns are
-- the app's to insert, never to update; a migration that adds and fills a column of its own, as
-- 0043 did, is not stopped. A DBA who must mend an answer disables the trigger first: a DDL of
-- its own, in the server's log.)
CREATE OR REPLACE FUNCTION recon.action_log_answer_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'recon.action_log row % is complete (%): a console action''s answer is recorded once and never changed', OLD.id, OLD.result
        USING ERRCODE = 'restrict_violation';
END $$;

DROP TRIGGER IF EXISTS action_log_answer_once ON recon.action_log;
CREATE TRIGGER action_log_answer_once
    BEFORE UPDATE OF result, status_code, response, error, completed_at ON recon.action_log
    FOR EACH ROW
    WHEN (OLD.result IS DISTINCT FROM 'pending'
          AND (OLD.result, OLD.status_code, OLD.response, OLD.error, OLD.completed_at)
              IS DISTINCT FROM (NEW.result, NEW.status_code, NEW.response, NEW.error,
                                NEW.completed_at))
    EXECUTE FUNCTION recon.action_log_answer_once();
