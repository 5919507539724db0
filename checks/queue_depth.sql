-- Jobs waiting in the settlement queue.
SELECT count(*) AS value
FROM platform.jobs
WHERE queue = 'settlement' AND status = 'waiting'
