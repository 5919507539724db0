"""SGE-shaped BullMQ traffic for the demo: producers and a worker on the platform's queues
(``intents``, ``payouts``, ``reconciler``), made with BullMQ's own Python package on REDIS_URL.

A stand-in of the platform's Node workers (``packages/api/src/workers``): intents are settled
with retries (2^attempts s backoff, up to 5 attempts, as SGE does), a share of them fail (an RPC
timeout) and end in ``failed`` after their attempts, payouts are scheduled with a delay, and the
reconciler runs every minute. Only the demo runs it (``sge-recon sge-queues``).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass

from bullmq import Queue, Worker

QUEUES = ("intents", "payouts", "reconciler")


@dataclass
class QueueTrafficStats:
    added: int = 0
    processed: int = 0
    failed_attempts: int = 0


class SgeQueueTraffic:
    def __init__(self, redis_url: str, *, rate: float = 1.0, fault_rate: float = 0.1,
                 prefix: str = "bull", seed: int | None = None, concurrency: int = 2):
        self.url = redis_url
        self.rate = rate
        self.fault_rate = fault_rate
        self.prefix = prefix
        self.random = random.Random(seed)
        self.concurrency = concurrency
        self.stats = QueueTrafficStats()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self, duration: float | None = None) -> QueueTrafficStats:
        asyncio.run(self._main(duration))
        return self.stats

    def stop(self) -> None:
        if self._stop is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def _main(self, duration: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._loop.add_signal_handler(sig, self._stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread (tests)
                pass
        opts = {"connection": self.url, "prefix": self.prefix}
        queues = {name: Queue(name, opts) for name in QUEUES}
        workers = [Worker(name, self._process, {**opts, "name": f"sge-{name}-worker",
                                                "concurrency": self.concurrency})
                   for name in QUEUES]
        started = time.monotonic()
        n = 0
        try:
            while not self._stop.is_set():
                if duration is not None and time.monotonic() - started >= duration:
                    break
                n += 1
                poison = self.random.random() < self.fault_rate / 4  # fails every attempt
                await queues["intents"].add("process-intent", {"intentId": f"demo-{n}",
                                                               "poison": poison}, {
                    "attempts": 5, "backoff": {"type": "exponential", "delay": 1000},
                    "removeOnComplete": 1000, "removeOnFail": 5000})
                self.stats.added += 1
                if n % 20 == 0:
                    await queues["payouts"].add("execute-batch", {"batch": n}, {
                        "delay": 60_000, "attempts": 3, "removeOnComplete": 100})
                if n % max(1, int(60 * self.rate)) == 0:
                    await queues["reconciler"].add("reconcile", {}, {"removeOnComplete": 100})
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=1 / self.rate)
                except asyncio.TimeoutError:
                    pass
        finally:
            for w in workers:
                await w.close()
            for q in queues.values():
                await q.close()

    async def _process(self, job, token):
        await asyncio.sleep(self.random.uniform(0.05, 0.4))
        if job.name == "process-intent" and (job.data.get("poison")
                                             or self.random.random() < self.fault_rate):
            self.stats.failed_attempts += 1
            raise RuntimeError("RPC timeout: the chain node did not answer within 10 s")
        self.stats.processed += 1
        return {"ok": True}
