"""Redis round trips and time of one Overview refresh (and one Queue page load) on BullMQ.

    .venv/bin/python scripts/bullmq_bench.py [--waiting 10000] [--failed 200] [--delayed 200]

Starts a private redis-server, fills the SGE queues with real BullMQ jobs (BullMQ's Python
package) and one live worker, then reads them the way the console does and reports, per read,
the Redis commands the server processed (INFO commandstats delta) and the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from bullmq import Queue, Worker  # noqa: E402

from sge_recon.db.bullmq import BullMQSource  # noqa: E402
from sge_recon.db.relations import QueueDeclaration  # noqa: E402
from refplatform.redis_server import PrivateRedis  # noqa: E402

DECL = QueueDeclaration(settlement_queue="intents", queues=("intents", "payouts", "reconciler"))


async def fill(url: str, waiting: int, failed: int, delayed: int) -> Worker:
    q = Queue("intents", {"connection": url})
    for start in range(0, failed, 500):
        await q.addBulk([{"name": "fail", "data": {"i": i}, "opts": {"attempts": 1}}
                         for i in range(start, min(failed, start + 500))])

    async def process(job, token):
        if job.name == "fail":
            raise RuntimeError("RPC timeout")
        await asyncio.sleep(3600)
    worker = Worker("intents", process, {"connection": url, "name": "bench", "concurrency": 1})
    while (await q.getJobCounts("failed"))["failed"] < failed:
        await asyncio.sleep(0.05)
    await q.add("slow", {}, {})
    for start in range(0, waiting, 1000):
        await q.addBulk([{"name": "settle", "data": {"i": i}}
                         for i in range(start, min(waiting, start + 1000))])
    for start in range(0, delayed, 500):
        await q.addBulk([{"name": "settle", "data": {"i": i}, "opts": {"delay": 3_600_000}}
                         for i in range(start, min(delayed, start + 500))])
    await q.close()
    return worker


SENT = [0]


def count_round_trips() -> None:
    """Count what the client sends (a pipeline is one send): the round trips."""
    from redis.asyncio.connection import AbstractConnection

    original = AbstractConnection.send_packed_command

    async def counted(self, command, check_health=True):
        SENT[0] += 1
        return await original(self, command, check_health)
    AbstractConnection.send_packed_command = counted


def commands(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")


def measure(label: str, fn, client: redis.Redis, repeat: int = 20) -> None:
    fn()  # warm
    times, counts, trips = [], [], []
    for _ in range(repeat):
        client.config_resetstat()
        SENT[0] = 0
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
        trips.append(SENT[0])
        counts.append(commands(client))
    print(f"{label}: {statistics.median(trips):.0f} round trips (connection set-up included), "
          f"{statistics.median(counts):.0f} Redis commands (with those inside BullMQ's Lua "
          f"scripts), median "
          f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms ({repeat} runs)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--failed", type=int, default=200)
    parser.add_argument("--delayed", type=int, default=200)
    args = parser.parse_args()
    count_round_trips()
    server = PrivateRedis.start()
    loop = asyncio.new_event_loop()
    try:
        worker = loop.run_until_complete(fill(server.url, args.waiting, args.failed, args.delayed))
        client = redis.Redis.from_url(server.url)
        source = BullMQSource(server.url, DECL)
        print(f"queues: {source.depth().counts['intents']}")
        measure("Overview refresh (queue_depth + worker_status snapshot)", source.depth, client)

        def page():  # what ConsoleService.bullmq_queues reads
            snap = source.depth()
            source.job_lists(("failed", "delayed"), 50, counts=snap.counts)
        measure("Queue page (snapshot + failed/delayed lists of 3 queues, 50 each)", page,
                client, repeat=10)
        loop.run_until_complete(worker.close(force=True))
    finally:
        loop.close()
        server.close()


if __name__ == "__main__":
    main()
