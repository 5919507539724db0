"""Real BullMQ traffic for the tests: jobs and workers made by BullMQ's own Python package on the
session's private redis-server (conftest.py ``redis_server``).

:class:`BullMQWorld` runs one asyncio loop in a thread, so synchronous tests can drive real
``bullmq.Queue`` and ``bullmq.Worker`` objects: add jobs in each state, run a worker that fails
or holds jobs, and leave a job stalled (taken by a worker that never renews its lock).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from bullmq import Queue, Worker


class BullMQWorld:
    def __init__(self, url: str, prefix: str = "bull"):
        self.url = url
        self.prefix = prefix
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.queues: dict[str, Queue] = {}
        self.workers: list[Worker] = []
        self.release = None  # asyncio.Event: lets the "slow" jobs finish

    def call(self, coro, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def queue(self, name: str) -> Queue:
        if name not in self.queues:
            async def make():
                return Queue(name, {"connection": self.url, "prefix": self.prefix})
            self.queues[name] = self.call(make())
        return self.queues[name]

    def add(self, queue: str, name: str, data: dict, **opts) -> str:
        job = self.call(self.queue(queue).add(name, data, opts))
        return str(job.id)

    def counts(self, queue: str) -> dict:
        return self.call(self.queue(queue).getJobCounts())

    def start_worker(self, queue: str, name: str = "settler", concurrency: int = 1) -> Worker:
        """A worker that fails jobs named ``fail`` (with an RPC-like error), holds jobs named
        ``slow`` until :meth:`release_slow`, and completes everything else."""
        async def make():
            if self.release is None:
                self.release = asyncio.Event()

            async def process(job, token):
                if job.name == "fail":
                    raise RuntimeError(f"RPC timeout: chain node did not answer for "
                                       f"{job.data.get('intentId')}")
                if job.name == "slow":
                    await self.release.wait()
                return {"ok": True}
            return Worker(queue, process, {"connection": self.url, "prefix": self.prefix,
                                           "name": name, "concurrency": concurrency})
        worker = self.call(make())
        self.workers.append(worker)
        return worker

    def stall_one(self, queue: str, lock_ms: int = 300) -> str:
        """Take the next job as a worker that dies holding it: the job stays active and its lock
        expires (BullMQ's definition of a stalled job). Returns the job id."""
        async def take():
            w = Worker(queue, None, {"connection": self.url, "prefix": self.prefix,
                                     "lockDuration": lock_ms, "autorun": False})
            job = await w.getNextJob("dead-worker-token")
            # the worker "dies": its connections go away without releasing the job
            await w.close(force=True)
            return str(job.id) if job else None
        job_id = self.call(take())
        time.sleep(lock_ms / 1000 + 0.3)
        return job_id

    def release_slow(self) -> None:
        async def go():
            if self.release is not None:
                self.release.set()
        self.call(go())

    def close_workers(self) -> None:
        self.release_slow()
        for w in self.workers:
            try:
                self.call(w.close(force=True), timeout=15)
            except Exception:  # noqa: BLE001 - a worker whose Redis is gone
                pass
        self.workers.clear()

    def obliterate(self, queue: str) -> None:
        self.call(self.queue(queue).obliterate(force=True))

    def wait_for(self, queue: str, timeout: float = 15, **expected: int) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts(queue)
            if all(counts.get(k, 0) == v for k, v in expected.items()):
                return counts
            if time.monotonic() > deadline:
                raise AssertionError(f"BullMQ queue {queue}: expected {expected}, have {counts}")
            time.sleep(0.05)

    def close(self) -> None:
        self.close_workers()
        for q in self.queues.values():
            try:
                self.call(q.close(), timeout=10)
            except Exception:  # noqa: BLE001
                pass
        async def cancel_rest():
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)
        try:
            self.call(cancel_rest(), timeout=10)
        except Exception:  # noqa: BLE001
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
