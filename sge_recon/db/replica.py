"""Data access for platform reads on a streaming standby (``PLATFORM_READ_URL``): how far behind
the primary the standby is.

Lag is measured on the standby as ``now() - pg_last_xact_replay_timestamp()``, but only when there
is something left to replay: an idle primary writes no WAL and commits nothing, so a standby that
has replayed everything the primary has flushed is current however old its last replayed commit
is. "Everything" is judged against the primary's own ``pg_current_wal_flush_lsn()`` (read first,
on DATABASE_URL, when both servers are the same cluster: same ``system_identifier``), else against
what the standby has received (``pg_last_wal_receive_lsn()``). A standby whose replay is paused
(``pg_is_wal_replay_paused()``) is reported as such whatever its lag.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .connection import Database, DriverError, expect_row

_PRIMARY = ("SELECT pg_is_in_recovery() AS in_recovery, current_database() AS dbname, "
            "(SELECT system_identifier FROM pg_control_system())::text AS system_id, "
            "pg_postmaster_start_time() AS started_at, "
            "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_flush_lsn()::text END "
            "AS flush_lsn")

_STANDBY = """
SELECT pg_is_in_recovery() AS in_recovery, current_database() AS dbname,
       (SELECT system_identifier FROM pg_control_system())::text AS system_id,
       pg_postmaster_start_time() AS started_at,
       now() AS now,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_last_xact_replay_timestamp() AS last_replay_at,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused,
       (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver,
       EXISTS (SELECT 1 FROM pg_stat_wal_receiver) AS receiver_running,
       CASE WHEN %(target)s::pg_lsn IS NULL OR NOT pg_is_in_recovery() THEN NULL
            ELSE pg_last_wal_replay_lsn() >= %(target)s::pg_lsn END AS caught_up,
       CASE WHEN %(target)s::pg_lsn IS NULL OR NOT pg_is_in_recovery() THEN NULL
            ELSE greatest(pg_wal_lsn_diff(%(target)s::pg_lsn, pg_last_wal_replay_lsn()), 0)::bigint
       END AS behind_bytes,
       CASE WHEN pg_is_in_recovery() AND pg_last_wal_receive_lsn() IS NOT NULL
            THEN pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() END AS replayed_received
"""


@dataclass(frozen=True)
class ReplicaReading:
    """One measurement of the platform-read server against the primary."""

    where: str                      # the standby, without password
    standby: bool                   # in recovery (a standby); False: a primary (no lag)
    lag_seconds: Decimal | None     # 0 when caught up; None when it cannot be told
    paused: bool
    behind_bytes: int | None        # primary's flushed WAL not yet replayed (same cluster only)
    last_replay_at: datetime | None
    receiver: str | None            # pg_stat_wal_receiver.status (streaming, ...) or None
    same_cluster: bool | None       # same system_identifier as DATABASE_URL's server
    compared_with_primary: bool
    # not a standby, but DATABASE_URL's own server under another URL (same cluster, same
    # postmaster start): level by definition. A promoted standby keeps the cluster's system
    # identifier, so the identifier alone would take it for the primary.
    same_server: bool | None = None
    # (the standby's database, DATABASE_URL's) when they differ: another database of the cluster
    # is other data, never the platform's, however level it is
    other_database: tuple[str, str] | None = None


def measure(read_db: Database, primary_db: Database | None, *,
            settle_seconds: float = 1.0) -> ReplicaReading:
    """How far ``read_db`` is behind ``primary_db``. Raises DriverError/DatabaseUnavailable when
    the standby cannot be reached (the caller reports that, never a pass).

    When the standby is behind the primary's flushed WAL but replaying, it is given up to
    ``settle_seconds`` to catch up before the lag is read: right after an idle period the first
    new commit would otherwise show the whole idle time as lag for the milliseconds its replay
    takes.
    """
    primary = None
    if primary_db is not None:
        try:
            primary = primary_db.fetch_one(_PRIMARY)
        except DriverError:
            primary = None
    target = primary["flush_lsn"] if primary else None
    deadline = time.monotonic() + settle_seconds
    with read_db.connect(autocommit=True) as conn:
        while True:
            row = expect_row(conn.execute(_STANDBY, {"target": target}).fetchone())
            same = None if primary is None else primary["system_id"] == row["system_id"]
            if not same:
                row["caught_up"], row["behind_bytes"] = None, None
            if (row["in_recovery"] and same and row["caught_up"] is False
                    and not row["paused"] and time.monotonic() < deadline):
                time.sleep(0.05)
                continue
            break
    other = None if primary is None or primary["dbname"] == row["dbname"] else \
        (row["dbname"], primary["dbname"])
    if not row["in_recovery"]:
        itself = bool(same and primary and not primary["in_recovery"]
                      and primary["started_at"] == row["started_at"])
        return ReplicaReading(read_db.where, False, Decimal(0), False, None, None, None, same,
                              bool(same), same_server=itself, other_database=other)
    # Without the primary to compare with: caught up when it has replayed all it received and its
    # WAL receiver runs and streams (the status is NULL for a role without pg_read_all_stats).
    caught_up = row["caught_up"] if same else (
        row["replayed_received"] and row["receiver_running"]
        and row["receiver"] in ("streaming", None))
    if caught_up:
        lag = Decimal(0)
    elif row["last_replay_at"] is None:
        lag = None  # nothing replayed since it started and behind: cannot tell how far
    else:
        lag = Decimal(str(round(max((row["now"] - row["last_replay_at"]).total_seconds(), 0),
                                3)))
    return ReplicaReading(read_db.where, True, lag, bool(row["paused"]), row["behind_bytes"],
                          row["last_replay_at"], row["receiver"], same, bool(same),
                          other_database=other)
