"""The platform's job queues when they are not a PostgreSQL table (DESIGN §11).

On SGE the settlement queue is BullMQ on Redis: the profile's ``queues:`` entry says so
(:class:`~sge_recon.db.relations.QueueDeclaration`) and ``REDIS_URL`` says where. A
:class:`QueueSource` is what the checks (``queue_depth``, ``worker_status``), the live facts behind
alerts and ``/metrics``, the Overview and the Queue page read, and what the queue actions (pause,
resume, retry a failed job) go through. The BullMQ implementation is the data-access module
``sge_recon/db/bullmq.py`` (the only module that imports ``redis``/``bullmq``); a PostgreSQL one
can wrap today's jobs-table queries later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ..errors import ReconError
from .. import check_names

if TYPE_CHECKING:
    from ..config import Settings
    from ..db.relations import PlatformRelations, QueueDeclaration

# The checks measured from the queue source instead of PostgreSQL when the profile declares one.
QUEUE_CHECKS = (check_names.QUEUE_PAUSED, check_names.QUEUE_DEPTH, check_names.WORKER_STATUS)
# Job states a user can list (BullMQ's names).
JOB_STATES = ("waiting", "prioritized", "delayed", "active", "failed", "completed")


class QueueUnavailable(ReconError):
    """The queue store cannot be reached or refused the request; the message is a sentence."""

    exit_code = 3


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

    @property
    def depth(self) -> int:
        """Jobs waiting to be taken: ``waiting`` + ``prioritized`` (delayed ones are not due)."""
        return self.waiting + self.prioritized


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


class QueueSource(Protocol):
    """The platform's queues, read and acted on. Every method raises QueueUnavailable with a
    sentence when the store cannot be reached."""

    where: str
    declaration: "QueueDeclaration"

    def depth(self) -> QueueSnapshot: ...
    def jobs(self, queue: str, state: str, limit: int = 50) -> list[JobInfo]: ...
    def job_lists(self, states: tuple[str, ...], limit: int = 50,
                  counts: dict | None = None) -> dict[str, dict[str, list[JobInfo]]]: ...
    def workers(self) -> list[WorkerInfo]: ...
    def pause(self, queue: str) -> str: ...
    def resume(self, queue: str) -> str: ...
    def retry(self, queue: str, job_id: str) -> str: ...


def queue_source(settings: "Settings", relations: "PlatformRelations") -> QueueSource | None:
    """The connected platform's queue source, or None when its profile declares none (the
    contract's ``jobs`` table) or REDIS_URL is unset (see :func:`missing_source_reason`)."""
    decl = relations.queues
    if decl is None or not settings.REDIS_URL:
        return None
    if decl.kind == "bullmq":
        from ..db.bullmq import BullMQSource

        return BullMQSource(settings.REDIS_URL, decl, float(settings.REDIS_TIMEOUT_SECONDS))
    raise ReconError(f"queue kind {decl.kind!r} has no reader")  # the profile loader refuses it


def missing_source_reason(settings: "Settings", relations: "PlatformRelations") -> str | None:
    """Why the declared queue source cannot be read (REDIS_URL unset), or None."""
    decl = relations.queues
    if decl is None or settings.REDIS_URL:
        return None
    return (f"the {relations.profile} platform's queue is BullMQ on Redis (queue "
            f"{decl.settlement_queue!r}); set REDIS_URL to the platform's Redis to measure it")
