-- Deliveries the platform gave up on after 5 attempts: the receiver never got the event.
SELECT id AS delivery_id,
       endpoint_id,
       event_type,
       last_error
FROM platform.webhook_deliveries
WHERE status = 'failed'
ORDER BY coalesce(last_attempt_at, created_at) DESC, id
