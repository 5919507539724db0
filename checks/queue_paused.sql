-- The settlement queue while it is paused (workers take no new jobs): one row, with who paused it
-- and since when. A pause is an operator's decision (maintenance, a ledger incident), so it warns
-- rather than fails; it is the declared cause of the backlog and the stuck intents it leads to.
SELECT queue,
       changed_by                                                   AS paused_by,
       changed_at                                                   AS paused_at,
       floor(extract(epoch FROM now() - changed_at))::bigint        AS paused_seconds,
       (SELECT count(*) FROM platform.jobs j
        WHERE j.queue = c.queue AND j.status = 'waiting')           AS waiting
FROM platform.queue_control c
WHERE queue = 'settlement' AND paused
