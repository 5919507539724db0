-- Enabled endpoints that keep failing. From the §4 columns only: the consecutive failed attempts
-- of an endpoint are the attempts of its undelivered deliveries (retry_scheduled, failed,
-- pending) last attempted after its most recent successful delivery. failing_since is when that
-- streak began: the first such delivery's creation, but never before the last success.
-- Written per enabled endpoint (LATERAL), so that each endpoint's deliveries are read through
-- the endpoint index and never the whole table: the alert rules compute it every minute.
SELECT e.id AS endpoint_id,
       e.program_id,
       st.consecutive_failures,
       st.failing_since
FROM platform.webhook_endpoints e
LEFT JOIN LATERAL (
    SELECT max(coalesce(ok.last_attempt_at, ok.created_at)) AS at
    FROM platform.webhook_deliveries ok
    WHERE ok.endpoint_id = e.id AND ok.status = 'delivered'
) last_ok ON true
JOIN LATERAL (
    SELECT sum(d.attempt_count)::bigint              AS consecutive_failures,
           greatest(min(d.created_at), last_ok.at)   AS failing_since
    FROM platform.webhook_deliveries d
    WHERE d.endpoint_id = e.id
      AND d.status IN ('retry_scheduled', 'failed', 'pending')
      AND d.attempt_count > 0
      AND (last_ok.at IS NULL OR coalesce(d.last_attempt_at, d.created_at) > last_ok.at)
    HAVING count(*) > 0
) st ON true
WHERE e.enabled
  AND (st.consecutive_failures > :webhook_consecutive_failures
       OR st.failing_since <= now() - interval '1 hour' * :webhook_disable_hours)
ORDER BY st.consecutive_failures DESC, e.id
