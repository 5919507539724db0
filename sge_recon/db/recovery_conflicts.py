"""Why a standby ended a session when the session itself could not say.

A hot standby ends a reader's session whose snapshot or locks stand in the way of replay (past
``max_standby_streaming_delay``): it sends "terminating connection due to conflict with recovery"
with a DETAIL naming the cause, then closes. When the client writes its next statement after the
backend has gone, the kernel answers with a reset and the unread message is lost: libpq reports
only "server closed the connection unexpectedly". The standby counts each such ending per database
(``pg_stat_database_conflicts``), so comparing the counts from before with those after names the
cause in the server's own words.
"""

from __future__ import annotations

import time

from .connection import Database, DictConnection

# pg_stat_database_conflicts' columns and the DETAIL PostgreSQL gives for each (postgres.c)
CAUSES = {
    "confl_lock": "User was holding a relation lock for too long.",
    "confl_snapshot": "User query might have needed to see row versions that must be removed.",
    "confl_bufferpin": "User was holding shared buffer pin for too long.",
    "confl_deadlock": "User transaction caused buffer deadlock with recovery.",
    "confl_tablespace": "User was or might have been using tablespace that must be dropped.",
}
_COUNTS = ("SELECT " + ", ".join(CAUSES) + " FROM pg_stat_database_conflicts "
           "WHERE datname = current_database() AND pg_is_in_recovery()")


def conflict_counts(conn: DictConnection) -> dict[str, int] | None:
    """The standby's recovery-conflict counts for this database (None: not a standby)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")  # the counts as they are now, not cached
    row = conn.execute(_COUNTS).fetchone()
    return {k: int(v) for k, v in row.items()} if row else None


def lost_to_recovery_conflict(db: Database, before: dict[str, int] | None,
                              wait_seconds: float = 2.0) -> str | None:
    """The server's sentence for a session the standby ended since ``before`` (its counts), or
    None (not a standby, no new conflict, or the standby cannot be asked)."""
    if before is None:
        return None
    deadline = time.monotonic() + wait_seconds
    try:
        with db.connect(autocommit=True) as conn:
            while True:  # the ended backend's counts reach the statistics as it exits
                now = conflict_counts(conn) or before
                grown = [k for k in CAUSES if now.get(k, 0) > before.get(k, 0)]
                if grown or time.monotonic() >= deadline:
                    break
                time.sleep(0.1)
    except Exception:  # noqa: BLE001 - the standby cannot be asked: only the reason is lost
        return None
    if not grown:
        return None
    return f"terminating connection due to conflict with recovery ({CAUSES[grown[0]]})"
