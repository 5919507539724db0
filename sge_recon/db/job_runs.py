"""The scheduler's record of its runs (recon.job_runs) and its per-job advisory locks.

Every schedule-time query takes ``now`` as a parameter instead of calling ``now()``: the
scheduler's clock is injectable and the runs must agree with it. The one exception is a run's
liveness (``heartbeat_at``): it is real time, written and judged by the database's own clock
(``clock_timestamp()``), the one clock every scheduler sharing the database agrees on.

A slot runs once while its runner is alive: a run's row carries an owner token (``runner``) and a
heartbeat that the runner refreshes on its lock's connection (:class:`JobLock`). A slot left
'running' is taken over only when the job's lock is free AND that heartbeat is stale (the runner
is gone: killed, or cut off from the database for longer than ``stale_after``); a lost lock
session alone (idle_session_timeout, a pooler restart) is not enough, its runner still beats.
Ending a run is fenced by the token: a runner whose slot was taken over records nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from ..errors import DatabaseUnavailable
from .connection import Database, DictConnection, DriverError, expect_row

if TYPE_CHECKING:
    from .snapshot import Reader

log = logging.getLogger(__name__)

# Advisory-lock namespace (first key of the two-key form); the second key is hashtext(job name).
JOB_LOCK_NAMESPACE = 0x5C4ED


# What a run that did not finish because its scheduler stopped (gracefully or killed) records:
# such a slot is taken up again by the next scheduler within the slot's grace.
INTERRUPTED = "the scheduler stopped during this run"
RETRY_AFTER = timedelta(minutes=15)  # a failed daily/weekly/monthly slot is tried again this late
MAX_ATTEMPTS = 3  # ... up to this many runs of the slot in all (within its grace)

# A running run refreshes its heartbeat this often; one whose heartbeat is older than STALE_AFTER
# is deemed gone (several missed beats: a killed scheduler, or one cut off from the database).
HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=30)

# A running row whose runner is gone: no heartbeat (a scheduler older than migration 0036) or a
# stale one. Parameter: %(stale)s, an interval.
_RUNNER_GONE = ("(r.heartbeat_at IS NULL OR r.heartbeat_at < clock_timestamp() - %(stale)s)")


def live_run(db: Database, job: str, stale_after: timedelta = STALE_AFTER) -> dict | None:
    """A run of ``job`` still 'running' whose runner is alive (fresh heartbeat), of any slot.

    Asked while holding the job's lock: a runner that lost its lock session but still beats keeps
    its job busy, so no other scheduler runs that slot, or the next one, beside it."""
    return db.fetch_one(
        "SELECT id, scheduled_for, host, heartbeat_at FROM recon.job_runs r "
        f"WHERE job = %(job)s AND status = 'running' AND NOT {_RUNNER_GONE} "
        "ORDER BY id LIMIT 1", {"job": job, "stale": stale_after})


def claim_slot(db: Database, job: str, scheduled_for: datetime, host: str,
               now: datetime, runner: str | None = None,
               stale_after: timedelta = STALE_AFTER, retry_after: timedelta | None = None,
               max_attempts: int = 1) -> int | None:
    """Record the start of ``job``'s run for ``scheduled_for``, owned by ``runner`` (a token);
    None if the slot is taken.

    The UNIQUE (job, scheduled_for) constraint is what makes a slot run once across schedulers.
    A slot whose run was interrupted is taken again: left 'running' by a runner that is gone
    (killed: its heartbeat is stale, and the caller holds the job's lock) or recorded as
    INTERRUPTED (stopped mid-run). A slot still 'running' with a fresh heartbeat is not taken:
    its runner is alive even if its lock session was lost. A slot that ran and failed is taken
    again (a new attempt) once that attempt ended ``retry_after`` before ``now``, while fewer
    than ``max_attempts`` were made (``retry_after`` None: never). The previous attempt's end
    stays in ``details.resumed``. Only call while holding the job's lock.
    """
    with db.transaction() as conn:
        row = conn.execute(
            "INSERT INTO recon.job_runs AS r (job, scheduled_for, started_at, status, host, "
            "  runner, heartbeat_at) "
            "VALUES (%(job)s, %(slot)s, %(now)s, 'running', %(host)s, %(runner)s, "
            "  clock_timestamp()) "
            "ON CONFLICT (job, scheduled_for) DO UPDATE SET status = 'running', "
            "  started_at = excluded.started_at, host = excluded.host, finished_at = NULL, "
            "  runner = excluded.runner, heartbeat_at = excluded.heartbeat_at, "
            "  attempts = r.attempts + CASE WHEN r.status = 'failed' "
            "    AND r.error IS DISTINCT FROM %(interrupted)s THEN 1 ELSE 0 END, "
            "  error = NULL, details = jsonb_build_object("
            "    'resumed', jsonb_build_object('host', r.host, 'started_at', r.started_at, "
            "      'finished_at', r.finished_at, 'attempt', r.attempts, "
            "      'left_as', coalesce(r.error, r.status))) "
            f"WHERE (r.status = 'running' AND {_RUNNER_GONE}) "
            "   OR (r.status = 'failed' AND r.error = %(interrupted)s) "
            "   OR (r.status = 'failed' AND %(retry_after)s::interval IS NOT NULL "
            "       AND r.attempts < %(max_attempts)s "
            "       AND r.finished_at <= %(now)s - %(retry_after)s::interval) "
            "RETURNING id",
            {"job": job, "slot": scheduled_for, "now": now, "host": host, "runner": runner,
             "stale": stale_after, "interrupted": INTERRUPTED, "retry_after": retry_after,
             "max_attempts": max_attempts}).fetchone()
    return row["id"] if row else None


def finish_run(db: Database, run_id: int, status: str, now: datetime, error: str | None = None,
               details: dict[str, Any] | None = None, runner: str | None = None) -> bool:
    """Record the end of a run; False (nothing recorded) when it is no longer this runner's:
    its slot was taken over after its heartbeat went stale, or its end was already recorded
    (the fence: ``runner`` must still own the row, and the row must still be 'running')."""
    return db.execute(
        "UPDATE recon.job_runs SET status = %(status)s, finished_at = %(now)s, error = %(error)s, "
        # a resumed or retried slot keeps what its previous attempt left (details.resumed)
        "  details = CASE WHEN details ? 'resumed' THEN coalesce(%(details)s, '{}'::jsonb) "
        "    || jsonb_build_object('resumed', details -> 'resumed') ELSE %(details)s END "
        "WHERE id = %(id)s AND status = 'running' "
        "  AND (%(runner)s::text IS NULL OR runner = %(runner)s)",
        {"status": status, "now": now, "error": error, "id": run_id, "runner": runner,
         "details": Jsonb(details) if details is not None else None}) == 1


def fail_orphaned_runs(db: Database, job: str, except_id: int, now: datetime,
                       stale_after: timedelta = STALE_AFTER) -> int:
    """Runs left 'running' by a scheduler that died (stale heartbeat). Only call while holding
    the job's lock."""
    return db.execute(
        "UPDATE recon.job_runs r SET status = 'failed', finished_at = %(now)s, "
        "  error = %(interrupted)s "
        f"WHERE job = %(job)s AND status = 'running' AND id <> %(id)s AND {_RUNNER_GONE}",
        {"now": now, "interrupted": INTERRUPTED, "job": job, "id": except_id,
         "stale": stale_after})


def database_now(db: Database) -> datetime:
    """The database server's clock (the scheduler's time: scheduling.clock.DatabaseClock), in
    UTC (the session hands it back in the server's TimeZone, which texts said was UTC)."""
    return expect_row(db.fetch_one("SELECT clock_timestamp() AS now"))["now"].astimezone(
        timezone.utc)


def succeeded_details(db: Database, job: str) -> list[dict]:
    rows = db.fetch_all("SELECT details FROM recon.job_runs "
                        "WHERE job = %s AND status = 'succeeded'", (job,))
    return [r["details"] or {} for r in rows]


def latest_finished_runs(db: "Reader", jobs: Sequence[str]) -> list[dict]:
    """Each of ``jobs``' latest finished slot (succeeded or failed): its run's row."""
    return db.fetch_all(
        "SELECT j.job, r.scheduled_for, r.status, r.error, r.attempts, r.finished_at "
        "FROM unnest(%(jobs)s::text[]) AS j(job) CROSS JOIN LATERAL ("
        "  SELECT scheduled_for, status, error, attempts, finished_at FROM recon.job_runs "
        "  WHERE job = j.job AND status IN ('succeeded', 'failed') "
        "  ORDER BY scheduled_for DESC LIMIT 1) r ORDER BY j.job", {"jobs": list(jobs)})


def last_success_per_job(db: "Reader") -> list[dict]:
    return db.fetch_all(
        "SELECT job, max(finished_at) AS finished_at FROM recon.job_runs "
        "WHERE status = 'succeeded' GROUP BY job ORDER BY job")


class JobLock:
    """The session advisory lock of one job, on an autocommit connection of its own with TCP
    keepalives, kept busy while the run goes on (:meth:`beat`).

    The lock lives as long as its session, so a scheduler that dies mid-run releases it. A session
    can also end under a live runner (idle_session_timeout, a pooler or proxy restart, a network
    blip): :meth:`beat` notices, takes the lock again on a new connection when it is free, and
    writes the heartbeat either way, so the runner's slot is not taken over while it lives and
    reaches the database.
    """

    def __init__(self, db: Database, job: str):
        self.db, self.job = db, job
        self._conn: DictConnection | None = None
        self.lost = 0  # how many times the lock's session was lost under this holder

    def acquire(self) -> bool:
        conn = self.db.connect(autocommit=True, keepalive=True)
        try:
            got = self._try_lock(conn)
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def _try_lock(self, conn: DictConnection) -> bool:
        return bool(expect_row(conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS got",
            (JOB_LOCK_NAMESPACE, self.job)).fetchone())["got"])

    def beat(self, run_id: int, runner: str) -> bool:
        """Prove the run alive: refresh its heartbeat on the lock's connection (which also keeps
        that session from going idle). If the session is gone, so is the lock: take it again on
        a new connection if it is free, and write the heartbeat either way.

        False when the run is no longer this runner's (taken over after its heartbeat went stale,
        or its end recorded); True otherwise, including when the database cannot be reached now
        (the heartbeat then goes stale and the finish is fenced)."""
        if self._conn is not None:
            try:
                return _heartbeat(self._conn, run_id, runner)
            except DriverError as exc:
                self.lost += 1
                log.warning("job %s: the session holding its lock was lost (%s); taking the lock "
                            "again", self.job, str(exc).strip().splitlines()[0] if str(exc).strip()
                            else type(exc).__name__)
                self._close()
        try:
            conn = self.db.connect(autocommit=True, keepalive=True)
        except DatabaseUnavailable:
            return True
        try:
            got = self._try_lock(conn)
            owned = _heartbeat(conn, run_id, runner)
        except DriverError:
            conn.close()
            return True
        if got:
            self._conn = conn
            log.info("job %s: its lock is held again", self.job)
        else:
            conn.close()
        return owned

    def release(self) -> None:
        # Unlock explicitly: a closed connection's backend may hold the lock a moment longer (it
        # exits asynchronously), and the next slot would then find the job "busy".
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                             (JOB_LOCK_NAMESPACE, self.job))
            except DriverError:
                pass  # the connection is gone: so is its lock
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _heartbeat(conn: DictConnection, run_id: int, runner: str) -> bool:
    return conn.execute(
        "UPDATE recon.job_runs SET heartbeat_at = clock_timestamp() "
        "WHERE id = %s AND runner = %s AND status = 'running'", (run_id, runner)).rowcount == 1


@contextlib.contextmanager
def job_lock(db: Database, job: str) -> Iterator[JobLock | None]:
    """Try to take the session advisory lock of ``job``; yields the :class:`JobLock`, or None
    when another session holds it."""
    lock = JobLock(db, job)
    if not lock.acquire():
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()
