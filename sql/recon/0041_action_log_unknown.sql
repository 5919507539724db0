-- A console action sent to the admin API whose answer does not say whether it was done — a
-- client timeout, a connection dropped mid-answer, an HTTP 5xx (a gateway's 504 while the API
-- goes on and commits), a 2xx that is not a clear "done" — is completed as 'unknown', never
-- 'failed': an Execute that paid the batch was recorded 'failed', so the action log told an
-- auditor that no one executed a batch that was paid.
ALTER TABLE recon.action_log DROP CONSTRAINT IF EXISTS action_log_result_check;
ALTER TABLE recon.action_log ADD CONSTRAINT action_log_result_check
    CHECK (result IN ('ok', 'failed', 'pending', 'unknown'));

COMMENT ON COLUMN recon.action_log.result IS
    'ok or failed (refused, or never sent); unknown: sent, and the answer (a timeout, a dropped connection, an HTTP 5xx, an unclear 2xx: status_code and error say which) does not say whether it was done — it may have been, check the platform; pending: sent to the platform but no answer recorded (the console stopped or lost its database after sending) — the outcome is unknown, check the platform';
