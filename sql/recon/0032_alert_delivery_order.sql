-- Alert delivery order (README "Incidents and alerts"): a message that waits out a back-off no
-- longer holds back every later message of its channel. Messages of one incident still go out
-- in order (its opening before its resolution); other messages flow. Only a channel that asked
-- us to wait (HTTP 429 with Retry-After) holds all of its messages, until that time.
ALTER TABLE recon.alert_deliveries
    ADD COLUMN IF NOT EXISTS holds_channel boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN recon.alert_deliveries.holds_channel IS
    'True while this pending message waits out a rate limit the channel asked for (HTTP 429 Retry-After, until next_attempt_at): the channel''s other messages wait too';
COMMENT ON COLUMN recon.alert_deliveries.status IS
    'pending, sent or failed (given up: after 24 h, or at once on a permanent 4xx answer; last_error says why)';
COMMENT ON COLUMN recon.alert_deliveries.id IS
    'Row id; also the delivery id sent with every attempt (X-SGE-Delivery header, the webhook''s delivery_id) so receivers can drop repeats';
