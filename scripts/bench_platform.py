"""Benchmark the reference platform and print the figures.

    .venv/bin/python scripts/bench_platform.py [--intents 2000] [--requests 300]

Uses a scratch database on the server of DATABASE_URL (it is created and dropped), or, when
DATABASE_URL is unset, on a private embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recon_bench.platform_bench import run_benchmark  # noqa: E402
from sge_recon.db.embedded import start_embedded, stop_embedded  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    root = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        root = Path(tempfile.mkdtemp(prefix="sgr-bench-", dir="/tmp"))
        root.chmod(0o755)
        url = start_embedded(root / "pg")
    try:
        r = run_benchmark(url, intents=args.intents, requests=args.requests)
    finally:
        if root is not None:
            stop_embedded(root / "pg")
            shutil.rmtree(root, ignore_errors=True)
    print(f"worker: {r.intents} intents in {r.worker_seconds:.2f} s = "
          f"{r.intents_per_second:.1f} intents/s (one worker)")
    print(f"GET  /admin/queue/status      p50 {r.status_p50_ms:.1f} ms  p95 {r.status_p95_ms:.1f} ms"
          f"  ({r.requests} requests)")
    print(f"POST /admin/queue/pause|resume p50 {r.action_p50_ms:.1f} ms  p95 {r.action_p95_ms:.1f} ms"
          f"  ({r.requests} requests)")


if __name__ == "__main__":
    main()
