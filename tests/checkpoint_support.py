"""Advancing the ledger checkpoint in tests, as the scheduler does: call after call until the
watermark has moved over its candidate.

The first call records a candidate; a later one moves over it once every transaction that was
running at the candidate (and could write this database) has ended. Another test's transaction
can still hold it for a moment, since the xids it must see settled are cluster-wide: two calls in
a row are not enough, and asserting that they are made a CI run fail once ("waiting for
transactions older than the candidate")."""

from __future__ import annotations

import time

from sge_recon.db import Database
from sge_recon.db import ledger_checkpoint as checkpoint

WAIT_SECONDS = 20.0


def advance_while_waiting(db: Database, seconds: float = WAIT_SECONDS) -> checkpoint.AdvanceReport:
    """Advance until a call no longer waits for older transactions; fail naming the
    transactions that are still open when ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    report = checkpoint.advance(db)
    while report.note == checkpoint.WAITING_NOTE and time.monotonic() < deadline:
        time.sleep(0.2)
        report = checkpoint.advance(db)
    if report.note == checkpoint.WAITING_NOTE:
        raise AssertionError(f"the watermark did not move in {seconds:.0f} s: {report}; "
                             f"open transactions: {_open_transactions(db)}")
    return report


def settle_checkpoint(db: Database, seconds: float = WAIT_SECONDS) -> checkpoint.AdvanceReport:
    """A candidate, then the call that moves over it (see :func:`advance_while_waiting`)."""
    checkpoint.advance(db)  # records a candidate (or moves over an earlier one)
    return advance_while_waiting(db, seconds)


def repeat_until_watermark(step, db: Database, reached, seconds: float = WAIT_SECONDS) -> int:
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
            raise AssertionError(f"the watermark stayed at {watermark} for {seconds:.0f} s; "
                                 f"open transactions: {_open_transactions(db)}")
        time.sleep(0.2)


def _open_transactions(db: Database) -> list[dict]:
    """Who could be holding the watermark, for a failure's message."""
    return db.fetch_all(
        "SELECT datname, backend_type, state, backend_xid::text, left(query, 60) AS query "
        "FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()")
