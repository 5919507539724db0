"""What a queue store answers (DESIGN §11): counts, jobs, workers, a snapshot for the checks,
and the error a store that cannot be reached raises. Plain data returned by the data-access
implementations (sge_recon/db/bullmq.py); sge_recon.queues re-exports them with the
:class:`~sge_recon.queues.QueueSource` protocol and picks the implementation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..errors import ReconError

# Job states a user can list (BullMQ's names).
JOB_STATES = ("waiting", "prioritized", "delayed", "active", "failed", "completed")


class QueueUnavailable(ReconError):
    """The queue store cannot be reached or refused the request; the message is a sentence.
    ``no_answer``: the store stopped answering (not a refusal); ``maybe_done``: an action was
    sent and its outcome is unknown."""

    exit_code = 3

    def __init__(self, message: str, *, no_answer: bool = False, maybe_done: bool = False):
        super().__init__(message)
        self.no_answer = no_answer
        self.maybe_done = maybe_done


@dataclass(frozen=True)
class QueueCounts:
    queue: str
    waiting: int = 0
    prioritized: int = 0
    delayed: int = 0
    active: int = 0
    failed: int = 0
    completed: int = 0
    paused: bool = False
    due: int = 0           # of the delayed jobs, those whose time has come (a retry's backoff over)

    @property
    def depth(self) -> int:
        """Jobs waiting to be taken: ``waiting`` + ``prioritized`` + the delayed jobs already
        ``due`` (BullMQ moves a due job to waiting only when a worker fetches one: with the
        workers down or the queue paused, a backlog of retries stays in ``delayed``)."""
        return self.waiting + self.prioritized + self.due


@dataclass(frozen=True)
class JobInfo:
    queue: str
    id: str
    name: str
    state: str
    attempts_made: int
    attempts_allowed: int
    created_at: datetime | None
    processed_at: datetime | None = None
    finished_at: datetime | None = None
    run_at: datetime | None = None          # a delayed job: when it becomes due
    failed_reason: str | None = None
    stacktrace: str | None = None           # the last stack trace line(s) BullMQ kept
    stalled_count: int = 0                  # how often BullMQ found it stalled
    locked: bool | None = None              # an active job: whether a worker holds its lock


@dataclass(frozen=True)
class WorkerInfo:
    queue: str
    name: str              # the Redis client name BullMQ gave the worker's connection
    address: str
    age_seconds: int
    idle_seconds: int


@dataclass
class QueueSnapshot:
    """What the checks, facts and Overview need, read in a few round trips."""

    where: str                          # the queue store, credentials masked
    settlement_queue: str
    counts: dict[str, QueueCounts]
    workers: list[WorkerInfo]
    oldest_waiting_at: datetime | None  # the settlement queue's oldest waiting job
    stalled: list[JobInfo] = field(default_factory=list)  # active jobs whose lock is gone
    measured_at: datetime | None = None
    duration_ms: float = 0.0

    @property
    def settlement(self) -> QueueCounts:
        return self.counts[self.settlement_queue]

    @property
    def depth(self) -> int:
        return self.settlement.depth

    @property
    def settlement_workers(self) -> list[WorkerInfo]:
        return [w for w in self.workers if w.queue == self.settlement_queue]

    @property
    def worker_state(self) -> str:
        """down: no BullMQ worker registered on the settlement queue; degraded: workers are
        there but a job they took has stalled (its lock expired: a worker died or hangs);
        healthy otherwise."""
        if not self.settlement_workers:
            return "down"
        if self.stalled:
            return "degraded"
        return "healthy"

    def oldest_waiting_seconds(self, now: datetime) -> float | None:
        if self.oldest_waiting_at is None:
            return None
        return max(0.0, (now - self.oldest_waiting_at).total_seconds())
