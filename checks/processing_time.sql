-- Mean seconds from creation to completion of the 100 most recently completed intents.
SELECT round(avg(extract(epoch FROM completed_at - created_at)), 6) AS value,
       count(*) AS intents
FROM (
    SELECT created_at, completed_at
    FROM platform.settlement_intents
    WHERE status = 'completed' AND completed_at IS NOT NULL
    ORDER BY completed_at DESC
    LIMIT 100
) last_completed
