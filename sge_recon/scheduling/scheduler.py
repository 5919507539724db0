"""The scheduler core: which job slots are due, and running each slot exactly once.

Exactly once across schedulers sharing a database rests on two PostgreSQL mechanisms:

* a session advisory lock per job (``pg_try_advisory_lock``) while it runs, so a job never runs
  twice at the same time (a slow run makes the next slot of the same job wait, never overlap);
* the UNIQUE (job, scheduled_for) row in ``recon.job_runs``, claimed with INSERT … ON CONFLICT DO
  NOTHING, so a slot that one scheduler has run is skipped by every other.

A job that raises is recorded ``failed`` with its error. A job with ``retry_after`` (the daily,
weekly and monthly ones) runs that slot again once ``retry_after`` has passed, while the slot is
within its grace, up to ``max_attempts`` runs (a transient failure at 09:00 on a Monday does not
cost the week's reminder); the others run again at their next slot.

A run proves its runner alive with a heartbeat (sge_recon/scheduling/heartbeat.py) that also keeps
the lock's session busy and takes the lock again if that session was ended under it (an
idle_session_timeout, a pooler restart). A scheduler that dies mid-run leaves a ``running`` row and
releases the lock; once that row's heartbeat is stale (``stale_after``, 30 s) the next holder of the
job's lock runs the slot again (within its grace) and marks older slots left so failed. A row that
is still beating keeps the job busy even while its lock is free: a slot runs once while its first
runner lives. Recording a run's end is fenced by its owner token, so a runner whose slot was taken
over (cut off from the database past ``stale_after``) records nothing: outcome ``lost``.

``tick(now)`` runs what is due at ``now`` — the whole schedule is testable with a
:class:`~sge_recon.scheduling.clock.ManualClock`; ``run_forever`` drives ``tick`` at the top of
every minute of that same (UTC) clock, never of the host's local time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from ..db import job_runs
from ..errors import ReconError
from .cadence import Cadence
from .clock import Clock, SystemClock, as_utc
from .heartbeat import RunHeartbeat

if TYPE_CHECKING:
    from ..alerts.service import AlertService
    from ..checks.service import CheckService
    from ..config import Settings
    from ..db import Database
    from ..db.databases import Databases
    from ..exports import ExportService

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000
TICK_POLL_SECONDS = 1.0  # run_forever reads its clock at least this often


@dataclass(frozen=True)
class JobServices:
    """What the scheduled jobs use, built by the composition root (sge_recon.context).

    ``bounded(statement_timeout_ms, lock_timeout_ms)`` gives the same services on databases whose
    every query has those timeouts (the per-minute job must never hang on a lock)."""

    settings: "Settings"
    databases: "Databases"
    checks: "CheckService"
    incidents: "AlertService"
    exports: "ExportService"
    bounded: "Callable[[int, int], JobServices]"

    @property
    def db(self) -> "Database":
        """DATABASE_URL: sge-recon's state (the job runs, incidents, samples)."""
        return self.databases.db

    @property
    def platform_db(self) -> "Database":
        return self.databases.platform_db


@dataclass
class JobContext:
    services: JobServices
    job: str
    scheduled_for: datetime
    now: datetime
    clock: Clock


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job: its name (the key in recon.job_runs), when, and what it does.

    ``grace`` is how late a missed slot may still start (a scheduler that was down at 02:00 and
    starts at 02:40 still runs the nightly reconciliation; one that starts the next evening does
    not run yesterday's but waits for tonight's).

    ``retry_after`` / ``max_attempts``: a slot whose run failed is started again once the failed
    attempt ended ``retry_after`` ago, while the slot is within its grace, up to ``max_attempts``
    runs in all (None: a failed slot waits for the next one, e.g. the per-minute monitor).
    """

    name: str
    cadence: Cadence
    run: Callable[[JobContext], dict[str, Any] | None]
    grace: timedelta
    description: str = ""
    retry_after: timedelta | None = None
    max_attempts: int = 1


@dataclass
class JobOutcome:
    job: str
    scheduled_for: datetime
    # succeeded | failed | skipped (another scheduler ran it) | busy (lock held, or a live run of
    # the job elsewhere) | lost (its slot was taken over while it ran: its end not recorded)
    status: str
    run_id: int | None = None
    error: str | None = None
    details: dict[str, Any] | None = None
    seconds: float | None = None


@dataclass
class Scheduler:
    services: JobServices
    jobs: list[JobSpec]
    clock: Clock = field(default_factory=SystemClock)
    host: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    on_outcome: Callable[[JobOutcome], None] | None = None  # told of each run (run_forever)
    heartbeat_seconds: float = job_runs.HEARTBEAT_SECONDS  # how often a running job beats
    stale_after: timedelta = job_runs.STALE_AFTER  # a run silent this long is deemed gone

    def __post_init__(self) -> None:
        names = [j.name for j in self.jobs]
        if len(set(names)) != len(names):
            raise ReconError(f"two scheduled jobs share a name ({', '.join(names)}); names key "
                             "recon.job_runs and must be unique")
        if not 0 < self.heartbeat_seconds * 3 <= self.stale_after.total_seconds():
            raise ReconError("the scheduler's stale_after must cover at least three heartbeats")
        self._running: set[str] = set()
        self._running_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # run id -> (job, runner token), while it runs in this process
        self._inflight: dict[int, tuple[str, str]] = {}

    # -- what is due --------------------------------------------------------------------------
    def due(self, now: datetime | None = None) -> list[tuple[JobSpec, datetime]]:
        """(job, slot) pairs whose latest slot is within its grace period at ``now``."""
        now = as_utc(now or self.clock.now())
        out = []
        for spec in self.jobs:
            slot = spec.cadence.latest_slot(now)
            if now - slot <= spec.grace:
                out.append((spec, slot))
        return out

    def tick(self, now: datetime | None = None) -> list[JobOutcome]:
        """Run, one after the other, every job slot due at ``now`` that nobody has run yet."""
        now = as_utc(now or self.clock.now())
        return [self.run_slot(spec, slot, now) for spec, slot in self.due(now)]

    # -- one slot -----------------------------------------------------------------------------
    def run_slot(self, spec: JobSpec, slot: datetime, now: datetime | None = None) -> JobOutcome:
        db = self.services.db
        with job_runs.job_lock(db, spec.name) as lock:
            if lock is None:
                return JobOutcome(spec.name, slot, "busy")
            live = job_runs.live_run(db, spec.name, self.stale_after)
            if live is not None:  # its runner lost its lock's session but is alive: not ours
                log.warning("job %s: run %s (slot %s, %s) is still beating without its lock; "
                            "not running beside it", spec.name, live["id"],
                            live["scheduled_for"].isoformat(), live["host"])
                return JobOutcome(spec.name, slot, "busy")
            started = as_utc(now or self.clock.now())
            runner = uuid.uuid4().hex
            run_id = job_runs.claim_slot(db, spec.name, slot, self.host, started, runner,
                                         self.stale_after, spec.retry_after, spec.max_attempts)
            if run_id is None:
                return JobOutcome(spec.name, slot, "skipped")
            orphans = job_runs.fail_orphaned_runs(db, spec.name, run_id, started,
                                                  self.stale_after)
            if orphans:
                log.warning("job %s: marked %d run(s) left by a stopped scheduler as failed",
                            spec.name, orphans)
            ctx = JobContext(self.services, spec.name, slot, started, self.clock)
            self._inflight[run_id] = (spec.name, runner)
            timer = time.perf_counter()
            try:
                with RunHeartbeat(lock, run_id, runner, self.heartbeat_seconds):
                    details = spec.run(ctx) or {}
            except Exception as exc:  # noqa: BLE001 - any crash is recorded, the scheduler lives on
                error = _describe(exc)
                log.error("job %s (slot %s) failed: %s", spec.name, slot.isoformat(), error,
                          exc_info=not isinstance(exc, ReconError))
                if not job_runs.finish_run(db, run_id, "failed", self._finished_at(started),
                                           error, getattr(exc, "details", None), runner):
                    return self._lost(spec, slot, run_id, timer)
                return JobOutcome(spec.name, slot, "failed", run_id, error,
                                  getattr(exc, "details", None), time.perf_counter() - timer)
            finally:
                self._inflight.pop(run_id, None)
            if lock.lost:
                details = {**details, "lock_sessions_lost": lock.lost}
            if not job_runs.finish_run(db, run_id, "succeeded", self._finished_at(started), None,
                                       details, runner):
                return self._lost(spec, slot, run_id, timer)
            return JobOutcome(spec.name, slot, "succeeded", run_id, None, details,
                              time.perf_counter() - timer)

    def _lost(self, spec: JobSpec, slot: datetime, run_id: int, timer: float) -> JobOutcome:
        error = ("its slot was taken over by another scheduler while it ran (its heartbeat "
                 "went stale); this run's end was not recorded")
        log.error("job %s (slot %s), run %s: %s", spec.name, slot.isoformat(), run_id, error)
        return JobOutcome(spec.name, slot, "lost", run_id, error, None,
                          time.perf_counter() - timer)

    def _finished_at(self, started: datetime) -> datetime:
        # A manual clock does not move during a run; never record an end before the start.
        return max(as_utc(self.clock.now()), started)

    # -- the real-time loop -------------------------------------------------------------------
    def run_forever(self, stop: threading.Event) -> None:
        """Tick at start (to catch up what is due) and then whenever the scheduler's clock enters
        a new UTC minute, until ``stop`` is set. Each job runs in its own thread, so the long
        nightly reconciliation never delays the per-minute alerting.

        The trigger reads the same clock as the slots (UTC), never the host's local wall time: a
        trigger on local time (the ``schedule`` library's) stops for an hour when a host in a
        DST time zone turns its clocks back, and for as long as any step back of the wall clock
        lasts; a new UTC minute, in either direction, is a tick (the slots it finds already run
        are skipped)."""
        last_minute = None
        while not stop.is_set():
            now = as_utc(self.clock.now())
            minute = now.replace(second=0, microsecond=0)
            if minute != last_minute:
                last_minute = minute
                self.tick_in_background()
            # wake up at the next minute boundary, and at least every TICK_POLL_SECONDS (a clock
            # that jumps is noticed within that)
            to_next_minute = 60 - (now - minute).total_seconds()
            stop.wait(min(TICK_POLL_SECONDS, max(0.05, to_next_minute)))
        self.shutdown(grace_seconds=5)

    def tick_in_background(self) -> None:
        try:
            due = self.due()
        except Exception as exc:  # noqa: BLE001 - a bad tick must not end the loop
            log.error("scheduler tick failed: %s", _describe(exc))
            return
        for spec, slot in due:
            with self._running_lock:
                if spec.name in self._running:
                    continue  # still running its previous slot in this process
                self._running.add(spec.name)
            thread = threading.Thread(target=self._run_guarded, args=(spec, slot),
                                      name=f"job-{spec.name}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _run_guarded(self, spec: JobSpec, slot: datetime) -> None:
        try:
            outcome = self.run_slot(spec, slot)
            if self.on_outcome is not None:
                self.on_outcome(outcome)
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down: retry next tick
            log.error("job %s: could not run slot %s: %s", spec.name, slot.isoformat(),
                      _describe(exc))
        finally:
            with self._running_lock:
                self._running.discard(spec.name)

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def shutdown(self, grace_seconds: float = 5) -> list[str]:
        """Give running jobs ``grace_seconds`` to finish; record the others as interrupted (the
        next scheduler runs their slot again while it is within its grace) so that stopping never
        waits for a long reconciliation."""
        self.join(grace_seconds)
        interrupted = []
        for run_id, (job, runner) in list(self._inflight.items()):
            # INTERRUPTED: the next scheduler takes this slot up again within its grace
            job_runs.finish_run(self.services.db, run_id, "failed", as_utc(self.clock.now()),
                                job_runs.INTERRUPTED, runner=runner)
            interrupted.append(job)
        return interrupted


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ReconError):
        text = exc.message
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_CHARS]
