"""Advancing the ledger checkpoint in tests, as the scheduler does: call after call until the
watermark has moved over its candidate.

The first call records a candidate; a later one moves over it once every transaction that was
running at the candidate has ended. Transaction ids and snapshots are cluster-wide, so another
test's open transaction on the shared server (an API, a worker, autovacuum) can hold the
watermark for a moment: two calls in a row are not enough, and asserting that they are made a
CI run fail once ("waiting for transactions older than the candidate")."""

from __future__ import annotations

import time

from sge_recon.db import Database
from sge_recon.db import ledger_checkpoint as checkpoint


def settle_checkpoint(db: Database, seconds: float = 20.0) -> checkpoint.AdvanceReport:
    """Advance until the call no longer waits for older transactions; fail naming the
    transactions that are still open when ``seconds`` have passed."""
    checkpoint.advance(db)  # records a candidate (or moves over an earlier one)
    deadline = time.monotonic() + seconds
    report = checkpoint.advance(db)
    while report.note == checkpoint.WAITING_NOTE and time.monotonic() < deadline:
        time.sleep(0.2)
        report = checkpoint.advance(db)
    if report.note == checkpoint.WAITING_NOTE:
        others = db.fetch_all(
            "SELECT datname, state, backend_xid::text, left(query, 60) AS query "
            "FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()")
        raise AssertionError(f"the watermark did not move in {seconds:.0f} s: {report}; "
                             f"open transactions: {others}")
    return report


def repeat_until_watermark(step, db: Database, reached, seconds: float = 20.0) -> int:
    """Call ``step`` (a run that advances the checkpoint, e.g. the per-minute run) until
    ``reached(watermark)`` holds, as the scheduler's minutes would; fail with the last watermark
    and the open transactions when ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        step()
        watermark = checkpoint.read_checkpoint(db)["watermark"]
        if reached(watermark):
            return watermark
        if time.monotonic() >= deadline:
            others = db.fetch_all(
                "SELECT datname, state, left(query, 60) AS query FROM pg_stat_activity "
                "WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()")
            raise AssertionError(f"the watermark stayed at {watermark} for {seconds:.0f} s; "
                                 f"open transactions: {others}")
        time.sleep(0.2)
