"""A running job's heartbeat: proof that its runner is alive, and what keeps its lock.

While a job runs, a thread of its own beats every ``seconds`` through the run's
:class:`~sge_recon.db.job_runs.JobLock`: it refreshes ``recon.job_runs.heartbeat_at`` on the
lock's connection (so that session is never idle: idle_session_timeout does not end it), and if
that session was ended anyway (a pooler restart, a network blip) it takes the lock again on a new
connection. Another scheduler takes over a slot left 'running' only when the job's lock is free
AND this heartbeat is stale, i.e. when the runner is gone.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..db.job_runs import JobLock

log = logging.getLogger(__name__)


class RunHeartbeat:
    """``with RunHeartbeat(lock, run_id, runner, seconds):`` beats while the block runs.

    ``fenced`` turns True when a beat finds the run no longer this runner's (its slot was taken
    over after the heartbeat went stale): the scheduler then records nothing for it."""

    def __init__(self, lock: "JobLock", run_id: int, runner: str, seconds: float):
        self.lock, self.run_id, self.runner, self.seconds = lock, run_id, runner, seconds
        self.fenced = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{lock.job}",
                                        daemon=True)

    def __enter__(self) -> "RunHeartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        # a beat in progress ends within the connect timeout or the TCP keepalives' minute
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                owned = self.lock.beat(self.run_id, self.runner)
            except Exception as exc:  # noqa: BLE001 - a beat that failed is retried at the next
                log.warning("job %s: heartbeat of run %s failed: %s", self.lock.job, self.run_id,
                            exc)
                continue
            if not owned and not self.fenced:
                self.fenced = True
                log.error("job %s: run %s is no longer this runner's (taken over by another "
                          "scheduler after its heartbeat went stale, or recorded interrupted by "
                          "a stop); its end will not be recorded", self.lock.job, self.run_id)
