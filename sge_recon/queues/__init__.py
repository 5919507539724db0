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

from typing import TYPE_CHECKING, Protocol

from .. import check_names
from ..db.queue_model import (JOB_STATES, JobInfo, QueueCounts, QueueSnapshot, QueueUnavailable,
                              WorkerInfo)
from ..errors import ReconError

if TYPE_CHECKING:
    from ..config import Settings
    from ..db.relations import PlatformRelations, QueueDeclaration

__all__ = ["JOB_STATES", "QUEUE_CHECKS", "JobInfo", "QueueCounts", "QueueSnapshot", "QueueSource",
           "QueueUnavailable", "WorkerInfo", "missing_source_reason", "queue_source"]

# The checks measured from the queue source instead of PostgreSQL when the profile declares one.
QUEUE_CHECKS = (check_names.QUEUE_PAUSED, check_names.QUEUE_DEPTH, check_names.WORKER_STATUS)


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
