-- Intents sitting in a live state longer than :intent_timeout_minutes. The check's value is the
-- oldest one's stuck_seconds (the fail threshold compares it with INTENT_STUCK_FAIL_MINUTES).
-- currency and status_changed_at let the alert and /metrics read the money at stake per
-- currency (checks.yml totals) and the oldest one's age from these rows, not from their own SQL;
-- attempts and last_error are what the Intents page lists beside them (its list is these rows).
SELECT id         AS intent_id,
       program_id,
       user_id,
       amount,
       currency,
       status,
       attempts,
       last_error,
       status_changed_at,
       floor(extract(epoch FROM now() - status_changed_at))::bigint AS stuck_seconds
FROM platform.settlement_intents
WHERE status IN ('payment_pending', 'verifying', 'processing')
  AND status_changed_at < now() - interval '1 minute' * :intent_timeout_minutes
  -- '-infinity' has no age in seconds (it made the whole check an error, hiding every other
  -- stuck intent): platform_data_integrity reports it as infinite_timestamp
  AND isfinite(status_changed_at)
ORDER BY status_changed_at, id
