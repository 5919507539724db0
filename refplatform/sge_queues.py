"""SGE-shaped BullMQ traffic for the demo: producers and a worker on the platform's queues
(``intents``, ``payouts``, ``reconciler``), made with BullMQ's own Python package on REDIS_URL.

A stand-in of the platform's Node workers (``packages/api/src/workers``): intents are settled
with retries (2^attempts s backoff, up to 5 attempts, as SGE does), a share of them fail (an RPC
timeout) and end in ``failed`` after their attempts, payouts are scheduled with a delay, and the
reconciler runs every minute. Only the demo runs it (``sge-recon sge-queues``).
"""

from __future__ import annotations

import asyncio
import base64
import random
import signal
import time
from dataclasses import dataclass

from bullmq import Queue, Worker
from redis.asyncio import Redis
from redis.exceptions import RedisError

from sge_recon.config_checks import mask
from sge_recon.errors import ReconError

QUEUES = ("intents", "payouts", "reconciler")
ADD_TIMEOUT = 5.0  # seconds one job's add may take: longer, and Redis counts as lost


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
        self._lost: BaseException | None = None  # why Redis was lost during the run

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
        await self._check_redis()
        # a worker's task that loses Redis: stop the run and say so, instead of asyncio
        # printing "Task exception was never retrieved" tracebacks while traffic carries on
        self._loop.set_exception_handler(self._on_task_error)
        opts = {"connection": self.url, "prefix": self.prefix}
        queues = {name: Queue(name, opts) for name in QUEUES}
        workers = [Worker(name, self._process, {**opts, "name": f"sge-{name}-worker",
                                                "concurrency": self.concurrency})
                   for name in QUEUES]
        started = time.monotonic()
        try:
            await self._traffic(queues, duration, started)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            self._lost = self._lost or exc
        finally:
            await self._close(workers, list(queues.values()))
        if self._lost is not None:
            raise self._redis_error(self._lost, "lost the connection to")

    async def _close(self, workers: list[Worker], queues: list[Queue]) -> None:
        """Close everything, all at once and bounded: a worker's close waits for its jobs, which
        without Redis never finish, so those are then force-closed (their jobs cancelled)."""
        closing = [asyncio.ensure_future(w.close(force=self._lost is not None)) for w in workers]
        closing += [asyncio.ensure_future(q.close()) for q in queues]
        done, pending = await asyncio.wait(closing, timeout=10 if self._lost is None else 2)
        if pending:
            forced = [asyncio.ensure_future(w.close(force=True)) for w in workers]
            done2, pending = await asyncio.wait([*pending, *forced], timeout=3)
            done |= done2
        for task in done:
            task.exception()  # retrieved: a close that failed on a lost Redis says nothing more
        for task in pending:
            task.cancel()

    async def _check_redis(self) -> None:
        """Redis answers, and its queues are the demo's: a Redis whose intents/payouts/
        reconciler already hold jobs, or are served by workers, that this traffic did not make
        is a real platform's, and the demo's workers would take its jobs and complete them
        without doing them (a settlement or payout marked done, never made). Refused."""
        client = Redis.from_url(self.url, socket_connect_timeout=5, socket_timeout=5,
                                decode_responses=True)
        try:
            await client.ping()
            foreign = await self._foreign_use(client)
            if foreign:
                raise ReconError(
                    f"REDIS_URL: Redis at {mask(self.url)} already holds a platform's BullMQ "
                    f"queues ({'; '.join(foreign)}) that sge-recon's demo traffic did not make; "
                    "its workers would take those jobs and complete them without doing them. "
                    "Point REDIS_URL at a Redis of its own for the demo (or unset it: "
                    "`sge-recon demo --profile sge` starts a private one)")
            await client.set(self._mark_key, "sge-recon demo traffic (sge-recon sge-queues)")
            for name in QUEUES:  # as the platform's Node Queue objects do when they are made
                await client.hsetnx(f"{self.prefix}:{name}:meta", "opts.maxLenEvents", 10000)
        except (RedisError, OSError) as exc:
            raise self._redis_error(exc, "cannot connect to") from None
        finally:
            await client.aclose()

    @property
    def _mark_key(self) -> str:
        return f"{self.prefix}:sge-recon-demo-traffic"

    async def _foreign_use(self, client: Redis) -> list[str]:
        """What on this Redis is not the demo's: jobs in its queues (when it carries no mark
        of an earlier demo run) and workers of those queues not named as the demo names
        them. Empty: the Redis is the demo's to use."""
        found = []
        if not await client.exists(self._mark_key):
            for name in QUEUES:
                queue = Queue(name, {"connection": client, "prefix": self.prefix})
                counts = await queue.getJobCounts()
                jobs = sum(int(v or 0) for v in counts.values())
                if jobs:
                    found.append(f"{name}: {jobs} job(s)")
        ours = {f"{self.prefix}:{name}:w:sge-{name}-worker" for name in QUEUES}
        workers = [c.get("name") or "" for c in await client.client_list()]
        for name in QUEUES:
            # BullMQ for Python names a worker's connection <prefix>:<queue>[:w:<name>], for
            # Node (the SGE workers) <prefix>:<base64 of the queue>[:w:<name>]
            bases = {f"{self.prefix}:{name}",
                     f"{self.prefix}:{base64.b64encode(name.encode()).decode()}"}
            theirs = [w for w in workers if w not in ours
                      and (w in bases or any(w.startswith(f"{b}:w:") for b in bases))]
            if theirs:
                found.append(f"{name}: {len(theirs)} worker(s) not the demo's")
        return found

    def _redis_error(self, exc: BaseException, what: str) -> ReconError:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else \
            f"no answer within {ADD_TIMEOUT:g} s" if isinstance(exc, asyncio.TimeoutError) else \
            type(exc).__name__
        return ReconError(f"REDIS_URL: {what} Redis at {mask(self.url)} ({reason[:200]}); start "
                          "Redis or point REDIS_URL at it")

    def _on_task_error(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        if isinstance(exc, (RedisError, OSError)):
            self._lost = self._lost or exc
            if self._stop is not None:
                self._stop.set()
        else:
            loop.default_exception_handler(context)

    async def _traffic(self, queues: dict[str, Queue], duration: float | None,
                       started: float) -> None:
        assert self._stop is not None
        n = 0
        while not self._stop.is_set():
            if duration is not None and time.monotonic() - started >= duration:
                break
            n += 1
            poison = self.random.random() < self.fault_rate / 4  # fails every attempt
            await self._add(queues["intents"], "process-intent",
                            {"intentId": f"demo-{n}", "poison": poison}, {
                "attempts": 5, "backoff": {"type": "exponential", "delay": 1000},
                "removeOnComplete": 1000, "removeOnFail": 5000})
            self.stats.added += 1
            if n % 20 == 0:
                await self._add(queues["payouts"], "execute-batch", {"batch": n}, {
                    "delay": 60_000, "attempts": 3, "removeOnComplete": 100})
            if n % max(1, int(60 * self.rate)) == 0:
                await self._add(queues["reconciler"], "reconcile", {}, {"removeOnComplete": 100})
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=1 / self.rate)
            except asyncio.TimeoutError:
                pass

    @staticmethod
    async def _add(queue: Queue, *args) -> None:
        await asyncio.wait_for(queue.add(*args), timeout=ADD_TIMEOUT)  # Redis gone: no hang

    async def _process(self, job, token):
        await asyncio.sleep(self.random.uniform(0.05, 0.4))
        if job.name == "process-intent" and (job.data.get("poison")
                                             or self.random.random() < self.fault_rate):
            self.stats.failed_attempts += 1
            raise RuntimeError("RPC timeout: the chain node did not answer within 10 s")
        self.stats.processed += 1
        return {"ok": True}
