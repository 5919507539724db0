"""BullMQ on Redis: the data-access module for a platform whose queues are BullMQ (SGE).

The only module that imports ``redis`` and ``bullmq``. It reads through BullMQ's own Python
package (the same keys and Lua scripts the platform's Node workers use), never by parsing Redis
keys by hand; the exceptions, with keys built by BullMQ's own ``toKey``: the lock key of an active
job (``<prefix>:<queue>:<id>:lock``), which is how a stalled job is told from a running one, and
the delayed set's scores (BullMQ's ``due time in ms * 0x1000 + counter``), which say which delayed
jobs are already due: BullMQ moves those to waiting only when a worker fetches, so with the
workers down or the queue paused they wait in ``delayed``.

BullMQ's Python API is asyncio; each public method here runs one short event loop (in a helper
thread when the caller already runs one, e.g. inside Streamlit or FastAPI) on a fresh connection
with a short timeout and no retries, so a Redis that is down is an error sentence within
``REDIS_TIMEOUT_SECONDS``, never a hang.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, TypeVar

import redis.asyncio as aioredis
from bullmq import Queue
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (AuthenticationError, NoPermissionError, RedisError,
                              ResponseError)

from ..errors import first_line
from .queue_model import (JOB_STATES, JobInfo, QueueCounts, QueueSnapshot, QueueUnavailable,
                          WorkerInfo)
from .relations import QueueDeclaration

T = TypeVar("T")
# The Redis ACL a REDIS_URL user needs (docs/profiles.md quotes these; tests apply them to a
# real Redis): the reads run BullMQ's Lua scripts (EVALSHA, SCRIPT LOAD when Redis does not hold
# them yet), one MULTI, CLIENT LIST (workers) and name the connection; pause, resume and retry
# write the queue's keys, and BullMQ asks INFO for the server's version before a retry.
ACL_READ = "+@read +evalsha +script|load +multi +exec +client|list +client|setname"
ACL_ACTIONS = "+@write +info"
LATE = (" (Redis answered too late to say whether this request did it, so the state was read "
        "again afterwards).")
COUNT_TYPES = ("waiting", "prioritized", "delayed", "active", "failed", "completed", "paused")
STALLED_SCAN = 200   # active jobs looked at for a lost lock (a settlement queue has few active)


class BullMQSource:
    """:class:`~sge_recon.queues.QueueSource` over BullMQ (``REDIS_URL``)."""

    def __init__(self, url: str, declaration: QueueDeclaration, timeout: float = 3.0):
        self.url = url
        self.declaration = declaration
        self.timeout = timeout
        self.where = f"Redis at {_where(url)}"

    # -- reads -----------------------------------------------------------------------------------
    def depth(self) -> QueueSnapshot:
        """Counts of every declared queue, the workers, the settlement queue's oldest waiting
        job and its stalled jobs. Round trips: 1 per queue (counts) + 1 per queue (paused flag)
        + 1 (CLIENT LIST) + 2 (oldest waiting, active jobs) + 1 (their locks)."""
        started = time.perf_counter()
        snapshot = self._run(self._depth)
        snapshot.duration_ms = (time.perf_counter() - started) * 1000
        return snapshot

    def jobs(self, queue: str, state: str, limit: int = 50) -> list[JobInfo]:
        self._known(queue)
        if state not in JOB_STATES:
            raise QueueUnavailable(f"unknown job state {state!r}; use one of "
                                   f"{', '.join(JOB_STATES)}")
        return self._run(lambda c: self._jobs(c, queue, state, limit))

    def job_lists(self, states: tuple[str, ...], limit: int = 50,
                  counts: dict | None = None) -> dict[str, dict[str, list[JobInfo]]]:
        """Queue -> state -> jobs, for every declared queue, on one connection (the Queue page).
        With ``counts`` (a snapshot's), empty states are not asked for."""
        unknown = [s for s in states if s not in JOB_STATES]
        if unknown:
            raise QueueUnavailable(f"unknown job state(s) {', '.join(unknown)}")

        async def go(client):
            out: dict[str, dict[str, list[JobInfo]]] = {}
            for name in self.declaration.queues:
                out[name] = {}
                for state in states:
                    if counts is not None and not getattr(counts[name], state, 1):
                        out[name][state] = []
                        continue
                    out[name][state] = await self._jobs(client, name, state, limit)
            return out
        return self._run(go)

    def workers(self) -> list[WorkerInfo]:
        return self._run(self._workers)

    # -- actions ---------------------------------------------------------------------------------
    def pause(self, queue: str) -> str:
        self._known(queue)

        async def go(client):
            q = self._queue(client, queue)
            if await q.isPaused():
                return f"Queue {queue} was already paused; nothing changed."
            await q.pause()
            return (f"Queue {queue} paused in BullMQ: workers take no new jobs (jobs in flight "
                    "finish).")

        async def check(client):
            if await self._queue(client, queue).isPaused():
                return f"Queue {queue} is paused in BullMQ now{LATE}"
            return None
        return self._act(go, check)

    def resume(self, queue: str) -> str:
        self._known(queue)

        async def go(client):
            q = self._queue(client, queue)
            if not await q.isPaused():
                return f"Queue {queue} was not paused; nothing changed."
            await q.resume()
            return f"Queue {queue} resumed in BullMQ: workers take jobs again."

        async def check(client):
            if not await self._queue(client, queue).isPaused():
                return f"Queue {queue} is running in BullMQ now{LATE}"
            return None
        return self._act(go, check)

    def retry(self, queue: str, job_id: str) -> str:
        self._known(queue)
        # the id exactly as listed: BullMQ accepts custom ids with spaces, and 'job-y ' and
        # 'job-y' are two jobs (stripping it retried the other one, and the log named the first)
        job_id = job_id or ""
        if not job_id.strip():
            raise QueueUnavailable("name the failed job to retry (its id)")

        async def go(client):
            q = self._queue(client, queue)
            job = await q.getJob(job_id)
            if job is None:
                raise QueueUnavailable(f"queue {queue} has no job {job_id!r} (removed, or a "
                                       "wrong id)")
            state = await q.getJobState(job_id)
            if state != "failed":
                raise QueueUnavailable(f"job {job_id} of queue {queue} is {state}, not failed; "
                                       "only a failed job can be retried")
            try:
                await job.retry("failed")
            except (RedisError, OSError, asyncio.TimeoutError):
                raise  # no answer: the retry may have been done (_act reads the state again)
            except Exception as exc:  # noqa: BLE001 - BullMQ raises TypeError when it lost a race
                now = await q.getJobState(job_id)
                if now != "failed":
                    raise QueueUnavailable(
                        f"job {job_id} of queue {queue} is not failed any more (someone retried "
                        f"it at the same moment; it is {now}); nothing changed") from None
                raise QueueUnavailable(f"BullMQ could not retry job {job_id} of queue {queue} "
                                       f"({first_line(exc)})") from None
            taken = ("the queue is paused, so no worker takes it until the queue is resumed"
                     if await q.isPaused() else "a worker will take it")
            return (f"Job {job_id} ({job.name}) of queue {queue} moved from failed back to "
                    f"waiting after {job.attemptsMade} attempt(s); {taken}.")

        async def check(client):
            now = await self._queue(client, queue).getJobState(job_id)
            if now in ("waiting", "prioritized", "delayed", "active", "completed"):
                return f"Job {job_id} of queue {queue} is {now} now, no longer failed{LATE}"
            return None
        return self._act(go, check)

    # -- the mechanics ---------------------------------------------------------------------------
    def _act(self, work: Callable[[aioredis.Redis], Awaitable[str]],
             check: Callable[[aioredis.Redis], Awaitable[str | None]]) -> str:
        """Run an action. When Redis stops answering midway, the request may have reached it
        (a script that ran, its answer lost): the state is read again on a new connection, and
        the action is done when the state says so, failed when it says not; when that read
        fails too, the outcome is unknown (``maybe_done``), never "nothing changed"."""
        try:
            return self._run(work)
        except QueueUnavailable as exc:
            if not exc.no_answer:
                raise
            failure = exc
        try:
            done = self._run(check)
        except QueueUnavailable as again:
            raise QueueUnavailable(
                f"{self.where} took the request but gave no answer ({failure.message}), and "
                f"the state could not be read again ({again.message}): it may have been done; "
                "the Queue page shows the queue's state once Redis answers — look before "
                "trying again", maybe_done=True) from None
        if done is None:
            raise failure
        return done

    def _known(self, queue: str) -> None:
        if queue not in self.declaration.queues:
            raise QueueUnavailable(f"queue {queue!r} is not one of the platform's queues "
                                   f"({', '.join(self.declaration.queues)})")

    def _client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(
            self.url, decode_responses=True, socket_connect_timeout=self.timeout,
            socket_timeout=self.timeout, retry=Retry(NoBackoff(), 0),
            client_name="sge-recon")

    def _queue(self, client: aioredis.Redis, name: str) -> Queue:
        return Queue(name, {"connection": client, "prefix": self.declaration.prefix})

    def _run(self, work: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        async def main() -> T:
            try:
                client = self._client()
            except (ValueError, TypeError) as exc:  # redis-py's reading of the URL's options
                raise self._bad_option(exc) from None
            try:
                return await asyncio.wait_for(work(client), timeout=self.timeout * 4)
            finally:
                try:
                    await client.aclose()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
        try:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(main())
            with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop already runs here
                return pool.submit(asyncio.run, main()).result()
        except QueueUnavailable:
            raise
        except ResponseError as exc:  # Redis is up and answered: not an outage
            raise self._refused(exc) from None
        except AuthenticationError as exc:  # up, and refuses REDIS_URL's user or password
            raise QueueUnavailable(
                f"the platform's queues could not be read: {self.where} refused the user or "
                f"password in REDIS_URL ({first_line(exc)}); check them") from None
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            raise QueueUnavailable(
                f"the platform's queues could not be read: {self.where} did not answer "
                f"({first_line(exc)}); check that Redis is up and REDIS_URL points at it",
                no_answer=True) from None
        except TypeError as exc:
            if "keyword argument" in str(exc):  # an option the connection does not take
                raise self._bad_option(exc) from None
            raise self._unreadable(exc) from None
        except (ValueError, KeyError, AttributeError) as exc:
            raise self._unreadable(exc) from None

    def _refused(self, exc: ResponseError) -> QueueUnavailable:
        text = str(exc)
        # the ACL of REDIS_URL's user: a command it may not send, or one a script may not run
        if isinstance(exc, NoPermissionError) or "can't run this command" in text:
            prefix = self.declaration.prefix
            return QueueUnavailable(
                f"{self.where} refused the request: REDIS_URL's user may not do it "
                f"({first_line(exc)}); give that user the ACL `~{prefix}:* {ACL_READ}` to "
                f"read the queues, plus `{ACL_ACTIONS}` to pause, resume and retry "
                "(docs/profiles.md); nothing changed")
        hint = (": the queue's keys are not what BullMQ expects here (e.g. a job id that "
                "names one of BullMQ's own keys)") if "WRONGTYPE" in text else ""
        return QueueUnavailable(f"{self.where} refused the request ({first_line(exc)}){hint}; "
                                "nothing changed")

    def _bad_option(self, exc: Exception) -> QueueUnavailable:
        return QueueUnavailable(
            f"REDIS_URL ({self.where}) has an option the Redis client cannot use "
            f"({first_line(exc)}); fix or remove it (the options are redis-py's URL "
            "parameters, e.g. ?ssl_ca_certs=/path/ca.pem with rediss://)")

    def _unreadable(self, exc: Exception) -> QueueUnavailable:
        # BullMQ reading a job hash it did not write (a field that is not JSON or not a
        # number): that read fails, never the whole check run around it
        return QueueUnavailable(
            f"BullMQ could not read a job on {self.where} ({type(exc).__name__}: "
            f"{first_line(exc)}): a job's hash is not what BullMQ writes (made or changed by "
            "another tool?); nothing changed")

    async def _depth(self, client: aioredis.Redis) -> QueueSnapshot:
        decl = self.declaration
        await self._some_queue_exists(client)
        counts = {}
        now_ms = int(time.time() * 1000)
        first_due: datetime | None = None
        for name in decl.queues:
            q = self._queue(client, name)
            raw = await q.getJobCounts(*COUNT_TYPES)
            paused = await q.isPaused()
            due = 0
            if int(raw.get("delayed", 0)):
                # delayed jobs whose time has come (BullMQ's own bound when it promotes them)
                async with client.pipeline(transaction=False) as pipe:
                    pipe.zcount(q.toKey("delayed"), 0, (now_ms + 1) * 0x1000 - 1)
                    pipe.zrange(q.toKey("delayed"), 0, 0, withscores=True)
                    due, earliest = await pipe.execute()
                if due and name == decl.settlement_queue and earliest:
                    first_due = _ms(int(earliest[0][1]) // 0x1000)
            # BullMQ counts a paused queue's waiting jobs under "paused"
            counts[name] = QueueCounts(
                queue=name, waiting=int(raw.get("waiting", 0)) + int(raw.get("paused", 0)),
                prioritized=int(raw.get("prioritized", 0)), delayed=int(raw.get("delayed", 0)),
                due=int(due), active=int(raw.get("active", 0)),
                failed=int(raw.get("failed", 0)), completed=int(raw.get("completed", 0)),
                paused=paused)
        workers = await self._workers(client)
        q = self._queue(client, decl.settlement_queue)
        oldest = first_due  # a due delayed job has waited since it became due
        s = counts[decl.settlement_queue]
        if s.waiting or s.prioritized:
            first = await q.getJobs(["waiting", "paused"], 0, 0, True)  # asc: oldest first
            waiting_since = _ms(first[0].timestamp) if first else None
            if waiting_since is not None and (oldest is None or waiting_since < oldest):
                oldest = waiting_since
        stalled = []
        if counts[decl.settlement_queue].active:
            active = await self._jobs(client, decl.settlement_queue, "active", STALLED_SCAN)
            stalled = [j for j in active if j.locked is False]
        return QueueSnapshot(where=self.where, settlement_queue=decl.settlement_queue,
                             counts=counts, workers=workers, oldest_waiting_at=oldest,
                             stalled=stalled, measured_at=datetime.now(timezone.utc))

    async def _some_queue_exists(self, client: aioredis.Redis) -> None:
        """Refuse to measure a database where none of the declared queues exists (BullMQ
        writes ``<prefix>:<queue>:meta`` when a queue is made or gets a job): REDIS_URL on
        another database, or a prefix or queue names not the platform's, read as an empty,
        unpaused queue (depth 0: no backlog alert, however long the real one)."""
        decl = self.declaration
        async with client.pipeline(transaction=False) as pipe:
            for name in decl.queues:
                pipe.exists(self._queue(client, name).toKey("meta"))
            found = await pipe.execute()
        if not any(found):
            database = int(client.connection_pool.connection_kwargs.get("db") or 0)
            raise QueueUnavailable(
                f"none of the platform's BullMQ queues ({', '.join(decl.queues)}) exists in "
                f"database {database} of {self.where} under the prefix {decl.prefix!r} (no "
                f"{decl.prefix}:<queue>:meta key): REDIS_URL names another database than the "
                "platform's workers use, or the profile's queues.prefix or queue names are not "
                "the platform's; an empty queue would read as depth 0")

    async def _workers(self, client: aioredis.Redis) -> list[WorkerInfo]:
        """The workers BullMQ registers on each queue: connections to REDIS_URL's database
        whose client name is ``<prefix>:<queue>`` or ``<prefix>:<queue>:w:<name>`` (CLIENT
        LIST, read once)."""
        listing = await client.client_list()
        # CLIENT LIST is the whole server's: a worker of the same queue name in another
        # database (staging on /1 beside production on /0) serves another platform
        database = int(client.connection_pool.connection_kwargs.get("db") or 0)
        listing = [c for c in listing if int(c.get("db") or 0) == database]
        out = []
        for name in self.declaration.queues:
            # BullMQ for Python names a worker's connections <prefix>:<queue>[:w:<name>]; BullMQ
            # for Node (the SGE workers) <prefix>:<base64 of queue>[:w:<name>]: accept both.
            bases = {f"{self.declaration.prefix}:{name}",
                     f"{self.declaration.prefix}:{base64.b64encode(name.encode()).decode()}"}
            for c in listing:
                cname = c.get("name") or ""
                if cname in bases or any(cname.startswith(f"{b}:w:") for b in bases):
                    out.append(WorkerInfo(queue=name, name=cname, address=c.get("addr", ""),
                                          age_seconds=int(c.get("age", 0)),
                                          idle_seconds=int(c.get("idle", 0))))
        return out

    async def _jobs(self, client: aioredis.Redis, queue: str, state: str,
                    limit: int) -> list[JobInfo]:
        q = self._queue(client, queue)
        types = ["waiting", "paused"] if state == "waiting" else [state]
        asc = state in ("waiting", "prioritized", "delayed", "active")
        jobs = await q.getJobs(types, 0, max(0, limit - 1), asc)
        locks: list[Any] = []
        if state == "active" and jobs:
            # a job's lock and its place in the active list, read at one instant (MULTI): a
            # job that finished after the list was read has lost its lock because it left
            # the active list, not because its worker died (BullMQ removes both in one step)
            async with client.pipeline(transaction=True) as pipe:
                for j in jobs:
                    pipe.exists(q.toKey(f"{j.id}:lock"))
                    pipe.lpos(q.toKey("active"), str(j.id))
                answers = await pipe.execute()
            still = [answers[2 * i + 1] is not None for i in range(len(jobs))]
            locks = [answers[2 * i] for i in range(len(jobs)) if still[i]]
            jobs = [j for i, j in enumerate(jobs) if still[i]]
        due_at: list[Any] = []
        if state == "delayed" and jobs:
            # when each runs: its score in the delayed set (ms * 0x1000 + counter); the job's
            # timestamp + delay is its creation + the last delay, wrong for a retry backing off
            async with client.pipeline(transaction=False) as pipe:
                for j in jobs:
                    pipe.zscore(q.toKey("delayed"), str(j.id))
                due_at = await pipe.execute()
        out = []
        for i, j in enumerate(jobs):
            trace = j.stacktrace[-1] if getattr(j, "stacktrace", None) else None
            run_at = None
            if state == "delayed":
                score = due_at[i] if due_at else None
                run_at = _ms(int(score) // 0x1000) if score is not None else \
                    _ms(j.timestamp + j.delay) if j.delay else None
            out.append(JobInfo(
                queue=queue, id=str(j.id), name=str(j.name), state=state,
                attempts_made=int(j.attemptsMade or 0),
                attempts_allowed=int(j.opts.get("attempts", 1) or 1),
                created_at=_ms(j.timestamp), processed_at=_ms(j.processedOn),
                finished_at=_ms(j.finishedOn), run_at=run_at,
                failed_reason=j.failedReason or None,
                stacktrace=trace, stalled_count=int(j.stalledCounter or 0),
                locked=bool(locks[i]) if locks else None))
        return out


def _where(url: str) -> str:
    """The Redis URL without its credentials (scheme, host, port, database)."""
    from urllib.parse import urlparse

    p = urlparse(url)
    if p.scheme == "unix":
        return f"unix://{p.path}"
    auth = "***@" if p.password or p.username else ""
    try:
        port: int | str = p.port or 6379
    except ValueError:
        port = "?"
    return f"{p.scheme}://{auth}{p.hostname}:{port}{p.path or ''}"


def _ms(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
