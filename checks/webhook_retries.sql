-- Deliveries waiting for another attempt. A few are normal; many mean an endpoint is down.
SELECT id AS delivery_id,
       endpoint_id,
       event_type,
       attempt_count,
       last_error,
       next_retry_at
FROM platform.webhook_deliveries
WHERE status = 'retry_scheduled'
ORDER BY next_retry_at NULLS LAST, id
