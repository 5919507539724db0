"""Data access for the settlement queue's jobs (the contract's ``jobs`` table): the lists the
Queue & workers page shows per state, the workers that have aged out, the depth per status and
the queue's pause flag.

Each function takes an open connection, so a page's load is one read-only transaction. The lists
are bounded (``limit``); their counts come from :func:`queue_depth_by_status`.
"""

from __future__ import annotations

from typing import Any

from .rows import all_rows, one_row

# The states a job list is shown for, and the order that makes each list useful: the oldest
# waiting first (what the workers take next), the soonest due delayed, the longest running
# active, the most recent failure.
JOB_LIST_ORDER = {
    "failed": "j.finished_at DESC NULLS LAST, j.id DESC",
    "waiting": "j.created_at, j.id",
    "delayed": "j.run_at NULLS LAST, j.id",
    "active": "j.started_at NULLS LAST, j.id",
}
RETIRED_AFTER = "24 hours"  # a worker silent longer than this is retired, not down


def jobs_in_state(conn: Any, state: str, limit: int) -> list[dict]:
    """Settlement jobs in ``state`` with their intent's program, amount and currency."""
    order = JOB_LIST_ORDER[state]  # a KeyError for an unknown state: callers pass a known one
    return conn.execute(f"""
        SELECT j.id AS job_id, j.intent_id, i.status AS intent_status, i.program_id,
               i.amount, i.currency, j.attempts, j.last_error, j.created_at, j.run_at,
               j.started_at, j.finished_at,
               extract(epoch FROM now() - j.started_at)::numeric(20,1) AS running_seconds
        FROM platform.jobs j
        LEFT JOIN platform.settlement_intents i ON i.id = j.intent_id
        WHERE j.queue = 'settlement' AND j.status = %s
        ORDER BY {order} LIMIT %s""", (state, limit)).fetchall()


def retired_workers(conn: Any) -> dict:
    """How many workers have been silent longer than RETIRED_AFTER, and the newest of them."""
    return conn.execute(f"""
        SELECT count(*) AS count, max(last_seen_at) AS newest_last_seen_at
        FROM platform.worker_heartbeats
        WHERE last_seen_at <= now() - interval '{RETIRED_AFTER}'""").fetchone() or {}


# -- the contract queue's depth per status and its pause flag --------------------------------------
def queue_depth_by_status(conn) -> list[dict]:
    return all_rows(conn, """
        SELECT status, count(*) AS jobs FROM platform.jobs WHERE queue = 'settlement'
        GROUP BY status ORDER BY status""")


QUEUE_CONTROL_SQL = ("SELECT queue, paused, changed_at, changed_by FROM platform.queue_control "
                     "WHERE queue = 'settlement'")


def queue_control(conn) -> dict:
    return one_row(conn, QUEUE_CONTROL_SQL)
