-- Recurring maintenance windows and expiry reminders for silences (issue 19). A weekly silence
-- is active only on weekly_day from weekly_start for weekly_minutes (UTC), between starts_at and
-- ends_at (its mandatory expiry). The monitor posts one reminder before a silence expires.
ALTER TABLE recon.silences ADD COLUMN IF NOT EXISTS weekly_day smallint NULL
    CHECK (weekly_day BETWEEN 1 AND 7);
ALTER TABLE recon.silences ADD COLUMN IF NOT EXISTS weekly_start time NULL;
ALTER TABLE recon.silences ADD COLUMN IF NOT EXISTS weekly_minutes integer NULL
    CHECK (weekly_minutes BETWEEN 1 AND 1440);
ALTER TABLE recon.silences ADD COLUMN IF NOT EXISTS expiry_reminded_at timestamptz NULL;
COMMENT ON COLUMN recon.silences.weekly_day IS 'Recurring window: ISO weekday (1 Monday .. 7 Sunday, UTC); NULL: one-off (active from starts_at to ends_at)';
COMMENT ON COLUMN recon.silences.weekly_start IS 'Recurring window: start time of day (UTC)';
COMMENT ON COLUMN recon.silences.weekly_minutes IS 'Recurring window: length in minutes';
COMMENT ON COLUMN recon.silences.expiry_reminded_at IS 'When the reminder that the silence is about to expire was queued; NULL: not yet';
