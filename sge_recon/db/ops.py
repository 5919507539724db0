"""Data access for operations: scheduled job runs, incidents, alert deliveries, metric samples,
the scheduler's advisory locks, and sge-recon's own state behind ``/metrics``. The health signals
themselves (ledger, workers, queue, intents, webhooks) are the checks' (checks/*.sql): no second
SQL for them here (tests/test_signals.py).

Functions that take ``conn`` run inside the caller's transaction (``with db.transaction() as
conn``), so that an incident and the alerts it enqueues are written together or not at all.
Every time-dependent query takes ``now`` as a parameter instead of calling ``now()``: the
scheduler's clock is injectable and the facts must agree with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

from psycopg import IsolationLevel
from psycopg.types.json import Jsonb

from .connection import DriverError, Database, expect_row

# Advisory-lock namespace (first key of the two-key form); the second key is hashtext(job name).
JOB_LOCK_NAMESPACE = 0x5C4ED
ALERTS_LOCK_KEY = 0x5C4EE  # one incident evaluation at a time per database


def require_recon_schema(db: Database, minimum: int) -> None:
    """Stop with advice when the recon schema is missing or older than this code needs."""
    from ..errors import SchemaMismatch

    row = db.fetch_one("SELECT to_regclass('recon.schema_version') IS NOT NULL AS present")
    version = 0
    if row and row["present"]:
        version = expect_row(db.fetch_one("SELECT coalesce(max(version), 0) AS v "
                                          "FROM recon.schema_version"))["v"]
    if version < minimum:
        raise SchemaMismatch(f"the recon schema in {db.where} is at version {version}, the "
                             f"scheduler needs {minimum}; run `sge-recon db init` first")


# -- job runs ------------------------------------------------------------------------------------
def claim_slot(db: Database, job: str, scheduled_for: datetime, host: str,
               now: datetime) -> int | None:
    """Record the start of ``job``'s run for ``scheduled_for``; None if another scheduler has it.

    The UNIQUE (job, scheduled_for) constraint is what makes a slot run once across schedulers.
    """
    with db.transaction() as conn:
        row = conn.execute(
            "INSERT INTO recon.job_runs (job, scheduled_for, started_at, status, host) "
            "VALUES (%s, %s, %s, 'running', %s) ON CONFLICT (job, scheduled_for) DO NOTHING "
            "RETURNING id", (job, scheduled_for, now, host)).fetchone()
    return row["id"] if row else None


def record_skipped(db: Database, job: str, scheduled_for: datetime, host: str, now: datetime,
                   reason: str) -> None:
    db.execute(
        "INSERT INTO recon.job_runs (job, scheduled_for, started_at, finished_at, status, error, "
        "host) VALUES (%s, %s, %s, %s, 'skipped', %s, %s) "
        "ON CONFLICT (job, scheduled_for) DO NOTHING",
        (job, scheduled_for, now, now, reason, host))


def finish_run(db: Database, run_id: int, status: str, now: datetime, error: str | None = None,
               details: dict[str, Any] | None = None) -> None:
    db.execute(
        "UPDATE recon.job_runs SET status = %s, finished_at = %s, error = %s, details = %s "
        "WHERE id = %s", (status, now, error, Jsonb(details) if details is not None else None,
                          run_id))


def fail_orphaned_runs(db: Database, job: str, except_id: int, now: datetime) -> int:
    """Runs left 'running' by a scheduler that died. Only call while holding the job's lock."""
    return db.execute(
        "UPDATE recon.job_runs SET status = 'failed', finished_at = %s, "
        "error = 'the scheduler stopped during this run' "
        "WHERE job = %s AND status = 'running' AND id <> %s", (now, job, except_id))


def job_runs(db: Database, job: str | None = None, limit: int = 100) -> list[dict]:
    return db.fetch_all(
        "SELECT id, job, scheduled_for, started_at, finished_at, status, error, details, host "
        "FROM recon.job_runs WHERE (%(job)s::text IS NULL OR job = %(job)s) "
        "ORDER BY scheduled_for DESC, id DESC LIMIT %(limit)s", {"job": job, "limit": limit})


def succeeded_details(db: Database, job: str) -> list[dict]:
    rows = db.fetch_all("SELECT details FROM recon.job_runs "
                        "WHERE job = %s AND status = 'succeeded'", (job,))
    return [r["details"] or {} for r in rows]


def last_success_per_job(db: "Reader") -> list[dict]:
    return db.fetch_all(
        "SELECT job, max(finished_at) AS finished_at FROM recon.job_runs "
        "WHERE status = 'succeeded' GROUP BY job ORDER BY job")


@contextlib.contextmanager
def job_lock(db: Database, job: str) -> Iterator[bool]:
    """Try to take the session advisory lock of ``job``; yields whether it was taken.

    The lock lives as long as this connection, so a scheduler that dies mid-run releases it.
    """
    conn = db.connect(autocommit=True)
    got = False
    try:
        got = expect_row(conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS got",
                                      (JOB_LOCK_NAMESPACE, job)).fetchone())["got"]
        yield bool(got)
    finally:
        # Unlock explicitly: a closed connection's backend may hold the lock a moment longer (it
        # exits asynchronously), and the next slot would then find the job "busy".
        if got and not conn.closed and not conn.broken:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                             (JOB_LOCK_NAMESPACE, job))
            except DriverError:
                pass  # the connection is gone: so is its lock
        conn.close()


# -- incidents -----------------------------------------------------------------------------------
def lock_alerts(conn) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (ALERTS_LOCK_KEY,))


def unresolved_incidents(conn) -> list[dict]:
    return conn.execute(
        "SELECT * FROM recon.incidents WHERE status <> 'resolved' ORDER BY opened_at, id"
    ).fetchall()


def insert_incident(conn, *, kind: str, key: str, priority: str, title: str,
                    details: dict[str, Any], money_at_stake: Decimal | None, now: datetime,
                    check_run_id: str | None = None) -> dict | None:
    return conn.execute(
        "INSERT INTO recon.incidents (kind, key, priority, status, title, details, money_at_stake,"
        " opened_at, last_seen_at, last_notified_at, check_run_id) "
        "VALUES (%s, %s, %s, 'open', %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (kind, key) WHERE status <> 'resolved' DO NOTHING RETURNING *",
        (kind, key, priority, title, Jsonb(details), money_at_stake, now, now, now,
         check_run_id)).fetchone()


def refresh_incident(conn, incident_id: int, *, title: str, details: dict[str, Any],
                     money_at_stake: Decimal | None, now: datetime, notified: bool,
                     key: str | None = None) -> None:
    conn.execute(
        "UPDATE recon.incidents SET title = %s, details = %s, money_at_stake = %s, "
        "last_seen_at = %s, last_notified_at = CASE WHEN %s THEN %s ELSE last_notified_at END, "
        "key = coalesce(%s, key) WHERE id = %s",
        (title, Jsonb(details), money_at_stake, now, notified, now, key, incident_id))


def resolve_incident(conn, incident_id: int, now: datetime) -> dict:
    return conn.execute(
        "UPDATE recon.incidents SET status = 'resolved', resolved_at = %s, last_notified_at = %s "
        "WHERE id = %s RETURNING *", (now, now, incident_id)).fetchone()


def incidents(db: Database, status: str | None = None, limit: int = 200) -> list[dict]:
    return db.fetch_all(
        "SELECT * FROM recon.incidents WHERE (%(status)s::text IS NULL OR status = %(status)s) "
        "ORDER BY opened_at DESC, id DESC LIMIT %(limit)s", {"status": status, "limit": limit})


def acknowledge_incident(db: Database, incident_id: int, who: str, now: datetime) -> dict | None:
    with db.transaction() as conn:
        return conn.execute(
            "UPDATE recon.incidents SET status = 'acknowledged', acknowledged_at = %s, "
            "acknowledged_by = %s WHERE id = %s AND status = 'open' RETURNING *",
            (now, who, incident_id)).fetchone()


# -- alert deliveries ----------------------------------------------------------------------------
def enqueue_alert(conn, *, incident_id: int | None, channel: str, event: str,
                  payload: dict[str, Any], now: datetime) -> int:
    return conn.execute(
        "INSERT INTO recon.alert_deliveries (incident_id, channel, event, payload, status, "
        "created_at, next_attempt_at) VALUES (%s, %s, %s, %s, 'pending', %s, %s) RETURNING id",
        (incident_id, channel, event, Jsonb(payload), now, now)).fetchone()["id"]


def claim_due_alert(conn, now: datetime, exclude_ids: list[int],
                    exclude_channels: list[str]) -> dict | None:
    """The oldest pending alert of a channel, if it is due, locked so that a second scheduler
    skips it. Alerts of one channel go out in order: an incident's resolution never overtakes its
    opening message that is waiting for a retry."""
    return conn.execute(
        "SELECT * FROM recon.alert_deliveries d WHERE status = 'pending' "
        "AND coalesce(next_attempt_at, created_at) <= %s AND NOT (id = ANY(%s)) "
        "AND NOT (channel = ANY(%s)) AND NOT EXISTS (SELECT 1 FROM recon.alert_deliveries o "
        "  WHERE o.status = 'pending' AND o.channel = d.channel "
        "  AND (o.created_at, o.id) < (d.created_at, d.id)) "
        "ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        (now, exclude_ids, exclude_channels)).fetchone()


def mark_alert_sent(conn, alert_id: int, now: datetime) -> None:
    conn.execute("UPDATE recon.alert_deliveries SET status = 'sent', sent_at = %s, "
                 "attempts = attempts + 1, last_error = NULL WHERE id = %s", (now, alert_id))


def mark_alert_attempt_failed(conn, alert_id: int, error: str, next_attempt_at: datetime | None
                              ) -> None:
    """A failed attempt: retried at ``next_attempt_at``, or given up (``failed``) when None."""
    conn.execute(
        "UPDATE recon.alert_deliveries SET attempts = attempts + 1, last_error = %s, "
        "next_attempt_at = %s, status = CASE WHEN %s::timestamptz IS NULL THEN 'failed' "
        "ELSE 'pending' END WHERE id = %s", (error, next_attempt_at, next_attempt_at, alert_id))


def alert_deliveries(db: Database, incident_id: int | None = None, limit: int = 200) -> list[dict]:
    return db.fetch_all(
        "SELECT * FROM recon.alert_deliveries "
        "WHERE (%(incident)s::bigint IS NULL OR incident_id = %(incident)s) "
        "ORDER BY created_at, id LIMIT %(limit)s", {"incident": incident_id, "limit": limit})


def alert_delivery_counts(db: "Reader") -> list[dict]:
    return db.fetch_all("SELECT channel, status, count(*) AS n FROM recon.alert_deliveries "
                        "GROUP BY channel, status ORDER BY channel, status")


# -- metric samples ------------------------------------------------------------------------------
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


def metric_series(db: Database, metric: str, since: datetime) -> list[dict]:
    return db.fetch_all(
        "SELECT sampled_at, labels, value FROM recon.metric_samples "
        "WHERE metric = %s AND sampled_at >= %s ORDER BY sampled_at", (metric, since))


# -- one-snapshot reads (/metrics) ---------------------------------------------------------------
class Snapshot:
    """Reads on one connection in one REPEATABLE READ transaction: every fact of a round comes
    from the same moment, and a round costs one connection instead of one per query."""

    def __init__(self, conn):
        self._conn = conn

    def fetch_all(self, sql: str, params: Any = None) -> list[dict]:
        return self._conn.execute(sql, params).fetchall()

    def fetch_one(self, sql: str, params: Any = None) -> dict | None:
        return self._conn.execute(sql, params).fetchone()


Reader: TypeAlias = "Database | Snapshot"  # what the read-only functions below accept


@contextlib.contextmanager
def snapshot(db: Database) -> Iterator[Snapshot]:
    conn = db.connect()
    try:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            yield Snapshot(conn)
    finally:
        conn.close()


def processing_histogram(db: Reader, since: datetime, until: datetime,
                         bounds: tuple[float, ...]) -> list[dict]:
    """Intents completed in (since, until]: per upper bound ``le`` the cumulative count of those
    that took at most ``le`` seconds from creation to completion, with the overall count ``n`` and
    sum ``total`` on every row (the ``completed_at`` index bounds the scan)."""
    return db.fetch_all(
        "WITH done AS (SELECT extract(epoch FROM completed_at - created_at)::float8 AS d "
        "FROM platform.settlement_intents WHERE status = 'completed' "
        "AND completed_at > %(since)s AND completed_at <= %(until)s) "
        "SELECT b.le, (SELECT count(*) FROM done WHERE d <= b.le) AS le_count, "
        "(SELECT count(*) FROM done) AS n, (SELECT coalesce(sum(d), 0) FROM done) AS total "
        "FROM unnest(%(bounds)s::float8[]) AS b(le) ORDER BY b.le",
        {"since": since, "until": until, "bounds": list(bounds)})


def latest_check_statuses(db: Reader) -> list[dict]:
    """The standing result of each check (any engine, any trigger): the newest that covers the
    whole platform; a force-reconcile of one program never replaces it (DESIGN §5)."""
    return db.fetch_all(
        "SELECT DISTINCT ON (name) name, status, priority, failing_rows, value, created_at "
        "FROM recon.check_results WHERE NOT (coalesce(details, '{}'::jsonb) ? 'program_id') "
        "ORDER BY name, created_at DESC")


def open_incident_counts(db: Reader) -> list[dict]:
    return db.fetch_all(
        "SELECT priority, kind, count(*) AS n FROM recon.incidents WHERE status <> 'resolved' "
        "GROUP BY priority, kind ORDER BY priority, kind")


def open_payout_batches(db: Reader, now: datetime) -> list[dict]:
    return db.fetch_all(
        "SELECT b.id AS batch_id, b.program_id, p.currency, b.status, b.affiliate_count, "
        "b.total_amount, b.created_at, b.approved_at, "
        "round(extract(epoch FROM %s - b.created_at) / 3600, 1) AS age_hours "
        "FROM platform.payout_batches b LEFT JOIN platform.programs p ON p.id = b.program_id "
        "WHERE b.status IN ('pending_approval', 'approved') ORDER BY b.created_at, b.id", (now,))


def first_ledger_entry_at(db: Reader) -> datetime | None:
    row = db.fetch_one("SELECT min(created_at) AS at FROM platform.ledger_entries")
    return row["at"] if row else None


# -- silences ------------------------------------------------------------------------------------
def active_silences(conn, now: datetime) -> list[dict]:
    """Silences started and neither expired nor ended (a weekly one may be outside its window:
    sge_recon/alerts/silences.py decides)."""
    return conn.execute(
        "SELECT * FROM recon.silences WHERE starts_at <= %(now)s AND ends_at > %(now)s "
        "AND ended_at IS NULL ORDER BY id", {"now": now}).fetchall()


def silences_to_remind(conn, now: datetime, before: datetime) -> list[dict]:
    """Silences about to expire, not reminded yet (marked now): within ``before`` of the expiry,
    or the last quarter of a shorter silence."""
    return conn.execute(
        "UPDATE recon.silences SET expiry_reminded_at = %(now)s WHERE ended_at IS NULL "
        "AND expiry_reminded_at IS NULL AND ends_at > %(now)s "
        "AND ends_at - %(now)s <= least(%(before)s::timestamptz - %(now)s, "
        "(ends_at - starts_at) / 4) RETURNING *", {"now": now, "before": before}).fetchall()


def insert_silence(conn, *, kind: str | None, program_id: str | None, reason: str, owner: str,
                   created_by: str, starts_at: datetime, ends_at: datetime,
                   weekly: tuple[int, Any, int] | None = None) -> dict:
    day, start, minutes = weekly or (None, None, None)
    return conn.execute(
        "INSERT INTO recon.silences (kind, program_id, reason, owner, created_by, starts_at, "
        "ends_at, weekly_day, weekly_start, weekly_minutes) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (kind, program_id, reason, owner, created_by, starts_at, ends_at, day, start,
         minutes)).fetchone()


def end_silence(conn, silence_id: int, who: str, now: datetime) -> dict | None:
    return conn.execute(
        "UPDATE recon.silences SET ended_at = %s, ended_by = %s "
        "WHERE id = %s AND ended_at IS NULL AND ends_at > %s RETURNING *",
        (now, who, silence_id, now)).fetchone()


def silences(db: Database, now: datetime, limit: int = 100) -> list[dict]:
    """Active and upcoming first, then the expired ones (newest first)."""
    return db.fetch_all(
        "SELECT *, (ended_at IS NULL AND starts_at <= %(now)s AND ends_at > %(now)s) AS active "
        "FROM recon.silences ORDER BY (ended_at IS NULL AND ends_at > %(now)s) DESC, ends_at DESC "
        "LIMIT %(limit)s", {"now": now, "limit": limit})
