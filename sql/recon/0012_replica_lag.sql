-- Issue 20: platform reads on a streaming standby (PLATFORM_READ_URL). Every run records where it
-- read the platform and how far that standby was behind the primary, so that its evidence says
-- how fresh it was (a run on a standby beyond REPLICA_MAX_LAG_SECONDS, or paused, is `error`).
ALTER TABLE recon.check_runs ADD COLUMN IF NOT EXISTS platform_read text NULL;
ALTER TABLE recon.check_runs ADD COLUMN IF NOT EXISTS replica_lag_seconds numeric(14,3) NULL;
ALTER TABLE recon.check_runs ADD COLUMN IF NOT EXISTS replica_paused boolean NULL;
ALTER TABLE recon.check_runs ADD COLUMN IF NOT EXISTS replica_behind_bytes bigint NULL;

COMMENT ON COLUMN recon.check_runs.platform_read IS 'Where the run read the platform (host/database, no password): the primary (DATABASE_URL) or the standby of PLATFORM_READ_URL';
COMMENT ON COLUMN recon.check_runs.replica_lag_seconds IS 'How far the standby was behind the primary when the run read it (now() - pg_last_xact_replay_timestamp(), 0 when it had replayed all the primary''s WAL); NULL when the run read the primary';
COMMENT ON COLUMN recon.check_runs.replica_paused IS 'The standby''s WAL replay was paused (pg_is_wal_replay_paused()); NULL when the run read the primary';
COMMENT ON COLUMN recon.check_runs.replica_behind_bytes IS 'Bytes of the primary''s WAL the standby had not replayed yet; NULL when the run read the primary or the two could not be compared';
