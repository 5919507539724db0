"""The scheduler's record of its runs (recon.job_runs) and its per-job advisory locks.

Every time-dependent query takes ``now`` as a parameter instead of calling ``now()``: the
scheduler's clock is injectable and the runs must agree with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from .connection import Database, DriverError, expect_row

if TYPE_CHECKING:
    from .snapshot import Reader

# Advisory-lock namespace (first key of the two-key form); the second key is hashtext(job name).
JOB_LOCK_NAMESPACE = 0x5C4ED


# What a run that did not finish because its scheduler stopped (gracefully or killed) records:
# such a slot is taken up again by the next scheduler within the slot's grace.
INTERRUPTED = "the scheduler stopped during this run"


def claim_slot(db: Database, job: str, scheduled_for: datetime, host: str,
               now: datetime) -> int | None:
    """Record the start of ``job``'s run for ``scheduled_for``; None if the slot is taken.

    The UNIQUE (job, scheduled_for) constraint is what makes a slot run once across schedulers.
    A slot whose run was interrupted is taken again: left 'running' (its scheduler was killed;
    the caller holds the job's lock, so nobody runs it now) or recorded as INTERRUPTED (stopped
    mid-run). A slot that ran and failed is not retried before its next slot. Only call while
    holding the job's lock.
    """
    with db.transaction() as conn:
        row = conn.execute(
            "INSERT INTO recon.job_runs AS r (job, scheduled_for, started_at, status, host) "
            "VALUES (%(job)s, %(slot)s, %(now)s, 'running', %(host)s) "
            "ON CONFLICT (job, scheduled_for) DO UPDATE SET status = 'running', "
            "  started_at = excluded.started_at, host = excluded.host, finished_at = NULL, "
            "  error = NULL, details = jsonb_build_object("
            "    'resumed', jsonb_build_object('host', r.host, 'started_at', r.started_at, "
            "                                  'left_as', coalesce(r.error, r.status))) "
            "WHERE r.status = 'running' OR (r.status = 'failed' AND r.error = %(interrupted)s) "
            "RETURNING id",
            {"job": job, "slot": scheduled_for, "now": now, "host": host,
             "interrupted": INTERRUPTED}).fetchone()
    return row["id"] if row else None


def finish_run(db: Database, run_id: int, status: str, now: datetime, error: str | None = None,
               details: dict[str, Any] | None = None) -> None:
    db.execute(
        "UPDATE recon.job_runs SET status = %s, finished_at = %s, error = %s, details = %s "
        "WHERE id = %s", (status, now, error, Jsonb(details) if details is not None else None,
                          run_id))


def fail_orphaned_runs(db: Database, job: str, except_id: int, now: datetime) -> int:
    """Runs left 'running' by a scheduler that died. Only call while holding the job's lock."""
    return db.execute(
        "UPDATE recon.job_runs SET status = 'failed', finished_at = %s, error = %s "
        "WHERE job = %s AND status = 'running' AND id <> %s", (now, INTERRUPTED, job, except_id))


def succeeded_details(db: Database, job: str) -> list[dict]:
    rows = db.fetch_all("SELECT details FROM recon.job_runs "
                        "WHERE job = %s AND status = 'succeeded'", (job,))
    return [r["details"] or {} for r in rows]


def last_success_per_job(db: "Reader") -> list[dict]:
    return db.fetch_all(
        "SELECT job, max(finished_at) AS finished_at FROM recon.job_runs "
        "WHERE status = 'succeeded' GROUP BY job ORDER BY job")


@contextlib.contextmanager
def job_lock(db: Database, job: str) -> Iterator[bool]:
    """Try to take the session advisory lock of ``job``; yields whether it was taken.

    The lock lives as long as this connection, so a scheduler that dies mid-run releases it.
    """
    conn = db.connect(autocommit=True)
    got = False
    try:
        got = expect_row(conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS got",
                                      (JOB_LOCK_NAMESPACE, job)).fetchone())["got"]
        yield bool(got)
    finally:
        # Unlock explicitly: a closed connection's backend may hold the lock a moment longer (it
        # exits asynchronously), and the next slot would then find the job "busy".
        if got and not conn.closed and not conn.broken:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                             (JOB_LOCK_NAMESPACE, job))
            except DriverError:
                pass  # the connection is gone: so is its lock
        conn.close()
