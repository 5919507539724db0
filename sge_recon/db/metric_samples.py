"""The trend samples the per-minute job stores (recon.metric_samples) and their pruning."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from psycopg.types.json import Jsonb

from .connection import Database


def insert_metric_samples(db: Database, now: datetime,
                          samples: list[tuple[str, dict[str, str], Decimal]]) -> int:
    if not samples:
        return 0
    with db.transaction() as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO recon.metric_samples (sampled_at, metric, labels, value) "
                "VALUES (%s, %s, %s, %s)",
                [(now, name, Jsonb(labels), value) for name, labels, value in samples])
    return len(samples)


def prune_metric_samples(db: Database, before: datetime) -> int:
    return db.execute("DELETE FROM recon.metric_samples WHERE sampled_at < %s", (before,))
