-- Jobs waiting in the settlement queue.
SELECT count(*) AS value
FROM public.jobs
WHERE queue = 'settlement' AND status = 'waiting'
