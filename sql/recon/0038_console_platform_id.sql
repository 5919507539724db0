-- The person's admin id on the platform (SGE: the X-Admin-Id its /api/v2 records, e.g. ops:alice;
-- "createdById" and "approvedById" of a payout batch hold the same ids). The console sends it as
-- X-Admin-Id for an SGE approval or execution, and refuses those actions for an account without
-- one; it also refuses an approval by the batch's creator. Recon account names cannot hold SGE
-- ids (no ':'), so the account carries it. Printable ASCII, at most one account per id.
ALTER TABLE recon.console_users ADD COLUMN IF NOT EXISTS platform_id text NULL;
CREATE UNIQUE INDEX IF NOT EXISTS console_users_platform_id_idx
    ON recon.console_users (platform_id) WHERE platform_id IS NOT NULL;
COMMENT ON COLUMN recon.console_users.platform_id IS 'The person''s admin id on the platform (SGE: what its /api/v2 takes as X-Admin-Id and records as createdById/approvedById, e.g. ops:alice); sent as X-Admin-Id for SGE approvals and executions; at most one account per id; NULL: none (such an account cannot approve or execute on SGE)';
