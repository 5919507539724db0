"""Data access for the console's Trends and SLOs pages (the weekly deep dive): whole-table
aggregates by hour and the service-level figures, each taking an open connection.

Hours and weekdays are UTC's (the pages label them so), never the session's TimeZone: the server's
(an embedded one takes its host's zone) shifted a Kolkata server's hours to start at :30 UTC and
put its heatmap's samples 5 h 30 off."""

from __future__ import annotations

from .rows import all_rows, one_row


# -- Trends --------------------------------------------------------------------------------------
def processing_time_by_hour(conn, days: int) -> list[dict]:
    return all_rows(conn, """
        SELECT date_trunc('hour', completed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
               count(*) AS intents,
               avg(extract(epoch FROM completed_at - created_at))::numeric(20,3) AS mean_seconds,
               (percentile_cont(0.95) WITHIN GROUP (
                   ORDER BY extract(epoch FROM completed_at - created_at)))::numeric(20,3)
                 AS p95_seconds
        FROM platform.settlement_intents
        WHERE status = 'completed' AND completed_at > now() - make_interval(days => %s)
        GROUP BY 1 ORDER BY 1""", (days,))


def queue_depth_samples_by_hour(conn, metric: str, days: int) -> list[dict]:
    """Mean sampled queue depth per (weekday, hour of day), from the scheduler's samples."""
    return all_rows(conn, """
        SELECT extract(isodow FROM sampled_at AT TIME ZONE 'UTC')::int AS weekday,
               extract(hour FROM sampled_at AT TIME ZONE 'UTC')::int AS hour,
               avg(value)::numeric(20,2) AS depth
        FROM recon.metric_samples
        WHERE metric = %s AND sampled_at > now() - make_interval(days => %s)
        GROUP BY 1, 2 ORDER BY 1, 2""", (metric, days))


def queue_depth_reconstructed_by_hour(conn, days: int) -> list[dict]:
    """Depth at the top of each hour rebuilt from job timestamps (when no samples exist yet).

    A job was waiting from its creation until a worker started it.
    """
    # One pass over the window's jobs: each contributes to the hour marks it waited across.
    return all_rows(conn, """
        WITH hours AS (
            SELECT generate_series(date_trunc('hour', (now() - make_interval(days => %(days)s))
                                                  AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                                     + interval '1 hour',   -- each weekday x hour exactly once
                                   date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                                   interval '1 hour') AS at),
        waiting AS (
            SELECT mark AS at, count(*) AS depth
            FROM platform.jobs j,
                 generate_series(date_trunc('hour', j.created_at AT TIME ZONE 'UTC')
                                   AT TIME ZONE 'UTC' + interval '1 hour',
                                 coalesce(j.started_at, now()), interval '1 hour') AS mark
            WHERE j.queue = 'settlement' AND j.status <> 'delayed'
              AND j.created_at > now() - make_interval(days => %(days)s) - interval '1 day'
            GROUP BY mark)
        SELECT extract(isodow FROM h.at AT TIME ZONE 'UTC')::int AS weekday,
               extract(hour FROM h.at AT TIME ZONE 'UTC')::int AS hour,
               avg(coalesce(w.depth, 0))::numeric(20,2) AS depth
        FROM hours h LEFT JOIN waiting w ON w.at = h.at
        GROUP BY 1, 2 ORDER BY 1, 2""", {"days": days})


def payout_execution_times(conn, days: int) -> list[dict]:
    return all_rows(conn, """
        SELECT id AS batch_id, program_id, total_amount, approved_at, executed_at,
               (extract(epoch FROM executed_at - approved_at) / 3600)::numeric(20,2) AS hours
        FROM platform.payout_batches
        WHERE approved_at IS NOT NULL AND executed_at IS NOT NULL
          AND executed_at > now() - make_interval(days => %s)
        ORDER BY executed_at""", (days,))


def rpc_by_hour(conn, days: int) -> list[dict]:
    return all_rows(conn, """
        SELECT provider, date_trunc('hour', called_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
               count(*) AS calls,
               avg(latency_ms)::numeric(20,2) AS mean_latency_ms,
               (percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::numeric(20,2)
                 AS p95_latency_ms,
               (100.0 * count(*) FILTER (WHERE ok) / count(*))::numeric(7,3) AS uptime_pct
        FROM platform.rpc_calls WHERE called_at > now() - make_interval(days => %s)
        GROUP BY 1, 2 ORDER BY 1, 2""", (days,))


def random_settlement_ids(conn, sample: int) -> list[str]:
    """``sample`` random settlement ids. Reads a few random pages (TABLESAMPLE SYSTEM) instead
    of sorting the whole table; falls back to the full sort when the sample comes back short
    (small or never-analysed tables)."""
    estimate = one_row(conn, "SELECT reltuples FROM pg_class "
                          "WHERE oid = 'platform.settlements'::regclass").get("reltuples") or 0
    if estimate > 20 * sample:
        percent = min(100.0, 100.0 * max(50 * sample, 2000) / float(estimate))
        rows = all_rows(conn, "SELECT id FROM platform.settlements TABLESAMPLE SYSTEM (%s) "
                          "ORDER BY random() LIMIT %s", (percent, sample))
        if len(rows) == sample:
            return [r["id"] for r in rows]
    return [r["id"] for r in all_rows(conn, "SELECT id FROM platform.settlements ORDER BY random() "
                                        "LIMIT %s", (sample,))]


def commission_spot_check(conn, sample: int) -> list[dict]:
    """Recompute the commissions of ``sample`` random settlements against the contract rates."""
    ids = random_settlement_ids(conn, sample)
    return all_rows(conn, """
        WITH picked AS (
            SELECT s.id AS settlement_id, s.intent_id, s.program_id, s.amount
            FROM platform.settlements s WHERE s.id = ANY(%s))
        SELECT f.settlement_id, f.intent_id, c.id AS commission_id, c.affiliate_id, c.level,
               c.base_amount, c.rate AS actual_rate,
               CASE c.level WHEN 1 THEN p.direct_commission_rate ELSE p.parent_commission_rate END
                 AS contract_rate,
               c.amount AS actual_amount,
               round(c.base_amount * CASE c.level WHEN 1 THEN p.direct_commission_rate
                                                  ELSE p.parent_commission_rate END, 2)
                 AS expected_amount,
               c.status
        FROM picked f
        JOIN platform.programs p ON p.id = f.program_id
        LEFT JOIN platform.commissions c ON c.intent_id = f.intent_id
        ORDER BY f.settlement_id, c.level""", (ids,))


# -- SLOs ----------------------------------------------------------------------------------------
def intent_latency_slo(conn, days: int, seconds: int) -> dict:
    return one_row(conn, """
        SELECT count(*) AS total,
               count(*) FILTER (WHERE completed_at - created_at <= make_interval(secs => %s)) AS good
        FROM platform.settlement_intents
        WHERE status = 'completed' AND completed_at > now() - make_interval(days => %s)""",
                (seconds, days))


def payout_slo(conn, days: int, hours: int) -> dict:
    """Batches approved in the window: executed within ``hours``, or still waiting past it."""
    return one_row(conn, """
        SELECT count(*) FILTER (WHERE executed_at IS NOT NULL
                                   OR approved_at < now() - make_interval(hours => %(h)s)) AS total,
               count(*) FILTER (WHERE executed_at IS NOT NULL
                                  AND executed_at - approved_at <= make_interval(hours => %(h)s))
                 AS good
        FROM platform.payout_batches
        WHERE approved_at IS NOT NULL AND approved_at > now() - make_interval(days => %(d)s)""",
                {"h": hours, "d": days})


def check_status_counts(conn, name: str, days: int) -> dict:
    """How often a stored check passed in the window (every stored run counts once)."""
    return one_row(conn, """
        SELECT count(*) AS total, count(*) FILTER (WHERE status <> 'fail') AS not_failed,
               count(*) FILTER (WHERE status = 'pass') AS passed
        FROM recon.check_results
        WHERE name = %s AND status <> 'error' AND created_at > now() - make_interval(days => %s)""",
                (name, days))
