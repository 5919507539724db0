-- Enabled endpoints that keep failing. From the §4 columns only: the consecutive failed attempts
-- of an endpoint are the attempts of its undelivered deliveries (retry_scheduled, failed,
-- pending) last attempted after its most recent successful delivery. failing_since is when that
-- streak began: the first such delivery's creation, but never before the last success.
WITH last_success AS (
    SELECT endpoint_id, max(coalesce(last_attempt_at, created_at)) AS at
    FROM platform.webhook_deliveries
    WHERE status = 'delivered'
    GROUP BY endpoint_id
), streak AS (
    SELECT d.endpoint_id,
           sum(d.attempt_count)::bigint AS consecutive_failures,
           min(d.created_at)            AS first_failure,
           max(s.at)                    AS last_success_at
    FROM platform.webhook_deliveries d
    LEFT JOIN last_success s ON s.endpoint_id = d.endpoint_id
    WHERE d.status IN ('retry_scheduled', 'failed', 'pending')
      AND d.attempt_count > 0
      AND (s.at IS NULL OR coalesce(d.last_attempt_at, d.created_at) > s.at)
    GROUP BY d.endpoint_id
)
SELECT e.id AS endpoint_id,
       e.program_id,
       st.consecutive_failures,
       greatest(st.first_failure, st.last_success_at) AS failing_since
FROM platform.webhook_endpoints e
JOIN streak st ON st.endpoint_id = e.id
WHERE e.enabled
  AND (st.consecutive_failures > :webhook_consecutive_failures
       OR greatest(st.first_failure, st.last_success_at)
          <= now() - interval '1 hour' * :webhook_disable_hours)
ORDER BY st.consecutive_failures DESC, e.id
