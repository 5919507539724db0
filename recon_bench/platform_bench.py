"""Benchmark of the reference platform: worker throughput (intents/s, one worker) and admin API
latency (p50/p95) for the queue status and an action endpoint. Returns figures; the script in
scripts/bench_platform.py prints them.

It runs against a scratch database (created and dropped on the server of ``url``), never against
the data it is pointed at.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import httpx

from refplatform.setup import ddl_files
from refplatform.traffic import Traffic
from refplatform.worker import Worker
from sge_recon.config import Settings
from sge_recon.db import Database, init_db

BENCH_KEYS = {"ADMIN_API_KEY": "bench-admin-key-000000", "PAYOUT_APPROVER_1": "bench-approver-1",
              "PAYOUT_APPROVER_2": "bench-approver-2"}


@dataclass
class BenchResult:
    intents: int
    worker_seconds: float
    intents_per_second: float
    requests: int
    status_p50_ms: float
    status_p95_ms: float
    action_p50_ms: float
    action_p95_ms: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_benchmark(admin_url: str, *, intents: int = 2000, requests: int = 300) -> BenchResult:
    """`admin_url`: a URL of a maintenance database on the server to use (e.g. .../postgres)."""
    name = f"sge_bench_{uuid.uuid4().hex[:8]}"
    admin_db = Database(admin_url)
    with admin_db.connect(autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # name is generated here, never user input
    url = _with_dbname(admin_url, name)
    try:
        init_db(Database(url), platform_ddl=ddl_files())
        _load_intents(url, intents)
        seconds = _time_worker(url, intents)
        status, action = _time_api(url, requests)
    finally:
        with admin_db.connect(autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return BenchResult(intents, seconds, intents / seconds, requests,
                       percentile(status, 0.5), percentile(status, 0.95),
                       percentile(action, 0.5), percentile(action, 0.95))


def _with_dbname(url: str, dbname: str) -> str:
    from urllib.parse import urlparse, urlunparse

    return urlunparse(urlparse(url)._replace(path=f"/{dbname}"))


def _load_intents(url: str, n: int) -> None:
    traffic = Traffic(url, rate=1, fault_rate=0, receiver_port=-1, seed=7)
    traffic.setup()  # the live demo program: an affiliate tree, users referred by affiliates
    try:
        done = 0
        while done < n:
            done += traffic.create_intents(min(500, n - done))
    finally:
        traffic.close()


def _time_worker(url: str, n: int) -> float:
    worker = Worker(url, worker_id="bench-worker", poll_interval=0.01)
    started = time.perf_counter()
    stats = worker.run(max_jobs=n, idle_exit=True)
    seconds = time.perf_counter() - started
    if stats.completed != n:
        raise RuntimeError(f"the worker completed {stats.completed} of {n} intents")
    return seconds


def _time_api(url: str, n: int) -> tuple[list[float], list[float]]:
    import uvicorn

    from refplatform.api import create_app

    settings = Settings.load(env={"DATABASE_URL": url, **BENCH_KEYS})
    app = create_app(settings, database_url=url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    headers = {"Authorization": f"Bearer {BENCH_KEYS['ADMIN_API_KEY']}"}
    status, action = [], []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            client.get("/admin/queue/status")  # warm the pool
            for i in range(n):
                t0 = time.perf_counter()
                client.get("/admin/queue/status").raise_for_status()
                status.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                client.post("/admin/queue/pause" if i % 2 == 0 else "/admin/queue/resume"
                            ).raise_for_status()
                action.append((time.perf_counter() - t0) * 1000)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return status, action

