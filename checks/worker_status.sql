-- One row per worker seen in the last 24 h (older ones are retired, not down). When no worker
-- was seen in the last 24 h, the most recently seen one is still returned (retired = true), so
-- a platform whose workers all died more than a day ago stays down, measured from its last
-- heartbeat, instead of looking like a platform without workers (the outage must not "resolve"
-- after 24 h). No heartbeat at all: no rows (value_if_empty: down).
-- A worker is down without a heartbeat for :worker_down_seconds. Overall (overall_code, the
-- check's value): 2 down = no worker live; 1 degraded = some workers down while others live, or
-- the p50 job time of the last 15 min is above twice the p50 of the 7 days before; 0 healthy.
WITH latest AS (
    SELECT max(last_seen_at) AS at FROM platform.worker_heartbeats
), seen AS (
    SELECT worker_id,
           last_seen_at,
           last_seen_at >= now() - interval '1 second' * :worker_down_seconds AS live,
           last_seen_at < now() - interval '24 hours' AS retired
    FROM platform.worker_heartbeats, latest
    WHERE last_seen_at >= least(now() - interval '24 hours', latest.at)
), recent AS (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)) AS p50
    FROM platform.jobs
    WHERE status = 'completed' AND started_at IS NOT NULL
      AND finished_at >= now() - interval '15 minutes'
), baseline AS (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)) AS p50
    FROM platform.jobs
    WHERE status = 'completed' AND started_at IS NOT NULL
      AND finished_at >= now() - interval '15 minutes' - interval '7 days'
      AND finished_at < now() - interval '15 minutes'
), overall AS (
    SELECT CASE
             WHEN NOT EXISTS (SELECT 1 FROM seen WHERE live) THEN 2
             WHEN EXISTS (SELECT 1 FROM seen WHERE NOT live) THEN 1
             WHEN recent.p50 > 2 * baseline.p50 THEN 1
             ELSE 0
           END AS code,
           coalesce(recent.p50 > 2 * baseline.p50, false) AS slow
    FROM recent, baseline
)
SELECT seen.worker_id,
       seen.last_seen_at,
       CASE WHEN NOT seen.live THEN 'down'
            WHEN overall.slow THEN 'degraded'
            ELSE 'healthy' END AS status,
       overall.code AS overall_code,
       seen.retired
FROM seen, overall
ORDER BY seen.live, seen.worker_id
