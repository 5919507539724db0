-- Mean seconds from creation to completion of the 100 most recently completed intents.
-- Only completions that can be true count: completed_at in the future or before created_at
-- would mask slow processing (a row "completed in 2099" would sit first for ever); those rows
-- are flagged by platform_data_integrity instead.
SELECT round(avg(extract(epoch FROM completed_at - created_at)), 6) AS value,
       count(*) AS intents
FROM (
    SELECT created_at, completed_at
    FROM platform.settlement_intents
    WHERE status = 'completed' AND completed_at IS NOT NULL AND created_at IS NOT NULL
      AND completed_at <= now() + interval '5 minutes' AND completed_at >= created_at
      -- created at '-infinity': no duration (platform_data_integrity: infinite_timestamp)
      AND isfinite(created_at)
    ORDER BY completed_at DESC
    LIMIT 100
) last_completed
