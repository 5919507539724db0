"""Benchmark of checks/affiliate_tree.sql on deep and wide referral trees (issue 14).

Builds each shape in a scratch schema (``bench_affiliate_tree``, dropped at the end; the platform's
own tables are never touched), runs the catalogue's SQL against it with EXPLAIN (ANALYZE, BUFFERS)
in a read-only transaction, and prints wall time, temp space written and the rows found.

    .venv/bin/python scripts/bench_affiliate_tree.py                 # the issue's shapes
    .venv/bin/python scripts/bench_affiliate_tree.py --depth 2000 --forest 0

Uses DATABASE_URL (or the embedded PostgreSQL, like every sge-recon command).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sge_recon.config import Settings  # noqa: E402
from sge_recon.context import Recon  # noqa: E402

SCHEMA = "bench_affiliate_tree"
BLOCK = 8192

SHAPES = {
    # one chain: aff_1 <- aff_2 <- ... <- aff_n (depth n)
    "chain": "SELECT 'aff_' || i, 'prog_1', CASE WHEN i > 1 THEN 'aff_' || (i - 1) END "
             "FROM generate_series(1, %(n)s) i",
    # a forest of 1000 trees over 10 programs; each affiliate's parent is one of the three
    # affiliates 1000-3000 places before it in its tree (depth ~ n / 2000)
    "forest": "SELECT 'aff_' || i, 'prog_' || (i %% 1000) %% 10, "
              "CASE WHEN i > 3000 THEN 'aff_' || (i - 1000 * (1 + (hashint4(i) & 3) %% 3)) "
              "WHEN i > 1000 THEN 'aff_' || (i - 1000) END "
              "FROM generate_series(1, %(n)s) i",
    # the worst case for the cycle part: a chain hanging below a 2-cycle (everything loose)
    "chain_into_cycle": "SELECT 'aff_' || i, 'prog_1', 'aff_' || CASE WHEN i = 1 THEN 2 "
                        "ELSE i - 1 END FROM generate_series(1, %(n)s) i",
}


def build(db, shape: str, n: int) -> None:
    with db.transaction() as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"CREATE TABLE {SCHEMA}.affiliates (id text PRIMARY KEY, program_id text, "
                     "code text, parent_id text, created_at timestamptz DEFAULT now())")
        conn.execute(f"INSERT INTO {SCHEMA}.affiliates (id, program_id, parent_id) "
                     + SHAPES[shape], {"n": n})
        conn.execute(f"CREATE INDEX ON {SCHEMA}.affiliates (parent_id)")
        conn.execute(f"ANALYZE {SCHEMA}.affiliates")


def measure(db, sql: str) -> dict:
    text = sql.replace("platform.affiliates", f"{SCHEMA}.affiliates")
    with db.transaction(read_only=True) as conn:
        conn.execute("SET LOCAL statement_timeout = '600s'")
        started = time.perf_counter()
        plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + text).fetchone()
        wall = time.perf_counter() - started
        counts = conn.execute(f"SELECT problem, count(*) AS n FROM ({text}) r GROUP BY problem "
                              "ORDER BY problem").fetchall()
    top = (plan["QUERY PLAN"] if isinstance(plan["QUERY PLAN"], list)
           else json.loads(plan["QUERY PLAN"]))[0]["Plan"]
    return {"seconds": round(wall, 2),
            "temp_written_mb": round(top.get("Temp Written Blocks", 0) * BLOCK / 2**20, 1),
            "problems": {r["problem"]: r["n"] for r in counts}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=100_000, help="chain depth (0: skip)")
    parser.add_argument("--forest", type=int, default=1_000_000, help="forest size (0: skip)")
    parser.add_argument("--loose", type=int, default=100_000,
                        help="chain hanging below a cycle (0: skip)")
    args = parser.parse_args()
    recon = Recon(Settings.load())
    sql = (ROOT / "checks" / "affiliate_tree.sql").read_text()
    print(f"PostgreSQL {recon.db.server_version()} at {recon.db.where}")
    try:
        for shape, n in (("chain", args.depth), ("forest", args.forest),
                         ("chain_into_cycle", args.loose)):
            if n <= 0:
                continue
            started = time.perf_counter()
            build(recon.db, shape, n)
            loaded = time.perf_counter() - started
            m = measure(recon.db, sql)
            print(f"affiliate_tree  {shape:<17} {n:>10,} affiliates: {m['seconds']:7.2f} s, "
                  f"temp written {m['temp_written_mb']:7.1f} MB, problems {m['problems']} "
                  f"(loaded in {loaded:.1f} s)", flush=True)
    finally:
        recon.db.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
