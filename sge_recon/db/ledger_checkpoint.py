"""Data access for incremental reconciliation: the ledger checkpoint in ``recon`` (migration 0007).

The per-minute ``ledger_balance`` and ``transaction_balance`` read the totals and the unbalanced
transactions checkpointed at a ledger-id *watermark*, plus the entries added since (an index range
scan of the primary key), so their cost grows with the new entries, not with the ledger.

Why the watermark is safe. ``bigserial`` ids are handed out before commit, so an entry with a
smaller id can become visible after a larger one. The watermark therefore never moves to "the
largest id I can see". It moves in two steps, a minute apart:

1. *candidate*: read the sequence's last value ``L`` (``pg_sequence_last_value``), THEN the
   virtual transaction ids of every running transaction that could write this database
   (``pg_locks``, locktype ``virtualxid``; sessions of other databases and autovacuum workers
   cannot)
   and the first unassigned xid (``pg_snapshot_xmax``). Every id ``<= L`` was handed out before
   that read, by a transaction that had ended or was running then (every transaction holds the
   lock on its own virtual xid from its start to its end, before its first ``nextval``).
2. *confirm*: once none of those virtual xids is left and every xid below the recorded xmax has
   finished (``pg_snapshot_xmin`` >= xmax; this covers prepared transactions, which give up their
   virtual xid), every entry with id ``<= L`` is committed or gone for good. Only then, in a NEW
   snapshot (taken after the confirmation, so it sees those commits), are the entries in
   ``(watermark, L]`` added to the totals and the watermark set to ``L``.

Snapshot xmin and the rows' xmin alone are not enough: a transaction gets its xid lazily, at its
first write, after the INSERT has already drawn its id from the sequence, so a row with a small id
can be written by an xid that a snapshot taken in between does not know about.

This assumes ids come from the sequence with ``CACHE 1`` (the default; with a per-session cache,
ids are not handed out in time order): with a larger cache the watermark never moves and the
incremental checks read the whole ledger (exact, just not faster). A row of the past that changes
anyway is tampering: :data:`TAMPER_SQL` in the daily run (checks/ledger_tamper.sql) finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import IsolationLevel, sql

from . import ledger_order
from .connection import Database, DictConnection, expect_row
from .ledger_order import (NULL_TOUCHED, OF_TOUCHED, TOUCHED_JOURNALS,  # noqa: F401 - re-exported
                           needs_keying)
from .relations import CONTRACT_FINGERPRINT, CONTRACT_RELATIONS, PlatformRelations

if TYPE_CHECKING:
    from .snapshot import Reader

ADVANCE_LOCK_KEY = 0x5E1ED6  # one advance at a time per database (session-level, try-lock)

WATERMARK_PRELUDE = ("SELECT coalesce((SELECT watermark FROM recon.ledger_checkpoint), 0) "
                     "AS watermark")

# -- the ledger's order ---------------------------------------------------------------------------
# On the contract platform the watermark is a ledger id (bigint sequence). Under a platform
# profile the platform's ids are its own (SGE: text cuids), so entries are ordered by their time,
# as epoch microseconds (exact for timestamptz): the entry's created_at, or the time prefix of its
# cuid id (db/ledger_order.py). Why that is safe: a candidate is C = T - lag, with T read BEFORE
# the running transactions are listed; it becomes the watermark only once all of those have
# ended. A row still to commit then belongs to a transaction that started after T, and carries a
# time no earlier than its start minus `lag` (the profile's stated bound:
# LEDGER_ORDER_LAG_SECONDS, for rows stamped by clients), so its time is > C: it is above the
# watermark, never silently below it. A row that breaks the bound shows up as
# `rows_inserted_below_watermark` in ledger_tamper.


def keyed_sql(text: str, relations: PlatformRelations = CONTRACT_RELATIONS) -> str:
    """``text`` with its ledger-id comparisons and journal lookups made on the ledger's order key
    and journal key under ``relations`` (db/ledger_order.py); unchanged on the contract."""
    return ledger_order.keyed_sql(text, relations)


# -- the incremental forms of checks/ledger_balance.sql and checks/transaction_balance.sql ------
# Same columns, same order, same rounding as the full checks (tests compare them on random data).
def _checkpoint_plus_new(watermark: str) -> str:
    """Per (program, currency) debits and credits: the checkpoint's totals plus the entries above
    the watermark (``watermark`` is the placeholder of the caller's parameter style)."""
    return f"""(
        SELECT program_id, currency, total_debits AS debits, total_credits AS credits
        FROM recon.ledger_checkpoint_totals
        UNION ALL
        SELECT program_id, currency,
               coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0),
               coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0)
        FROM platform.ledger_entries
        WHERE id > {watermark}
        GROUP BY program_id, currency
    ) AS parts"""


INCREMENTAL_LEDGER_BALANCE = """
WITH merged AS (
    SELECT program_id, currency, sum(debits) AS debits, sum(credits) AS credits
    FROM """ + _checkpoint_plus_new(":watermark") + """
    GROUP BY program_id, currency
)
SELECT program_id,
       currency,
       debits + 0.000000           AS total_debits,
       credits + 0.000000          AS total_credits,
       debits - credits + 0.000000 AS difference
FROM merged
WHERE abs(debits - credits) >= :ledger_tolerance
ORDER BY abs(debits - credits) DESC, program_id, currency
"""


def _unbalanced_of(entries: str) -> str:
    """transaction_balance's logic (see checks/transaction_balance.sql) over the entries that the
    subquery ``entries`` selects (whole transactions, the one without a transaction_id included
    when it is touched): a NULL currency is one of its own, distinct from '', and the entries
    without a transaction_id are one transaction, re-checked per currency by a branch of its own
    (``IN`` never matches a NULL)."""
    return f"""
per_transaction AS (
    SELECT transaction_id,
           min(program_id) AS program_id,
           min(currency) AS currency,
           sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference,
           coalesce(min(currency) <> max(currency), false)
               OR (bool_or(currency IS NULL) AND max(currency) IS NOT NULL) AS mixed_currencies
    FROM ({entries}) AS e
    GROUP BY transaction_id
    HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
        OR min(currency) <> max(currency)
        OR (bool_or(currency IS NULL) AND max(currency) IS NOT NULL)
), unbalanced AS (
    SELECT transaction_id, program_id, currency, difference + 0.000000 AS difference
    FROM per_transaction
    WHERE NOT mixed_currencies
    UNION ALL
    SELECT e.transaction_id, min(e.program_id), e.currency,
           sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END) + 0.000000
    FROM (SELECT * FROM ({entries}) AS e
          WHERE transaction_id IN (SELECT transaction_id FROM per_transaction
                                   WHERE mixed_currencies)
          UNION ALL
          SELECT * FROM ({entries}) AS e
          WHERE transaction_id IS NULL
            AND EXISTS (SELECT 1 FROM per_transaction
                        WHERE transaction_id IS NULL AND mixed_currencies)) AS e
    GROUP BY e.transaction_id, e.currency
    HAVING sum(CASE WHEN e.type = 'debit' THEN e.amount ELSE -e.amount END) <> 0
)"""


def _touched_entries(bound: str = "") -> str:
    """The entries of the touched transactions (``touched``: TOUCHED_JOURNALS), ``bound`` (e.g.
    ``id <= %(high)s AND``) ahead of each lookup: by transaction (or the profile's journal key),
    plus, when a touched entry has no transaction_id, every entry without one (one transaction,
    which ``IN`` never matches; a branch of its own, read only then)."""
    return (f"SELECT * FROM platform.ledger_entries WHERE {bound}{OF_TOUCHED}\n"
            f"    UNION ALL\n"
            f"    SELECT * FROM platform.ledger_entries WHERE {bound}{NULL_TOUCHED}")


# The unbalanced rows the checkpoint holds for a transaction that is not touched; the one without
# a transaction_id is touched when a touched entry has none (`=` never matches a NULL).
_NOT_TOUCHED = """NOT EXISTS (SELECT 1 FROM touched t WHERE t.transaction_id = u.transaction_id)
  AND (u.transaction_id IS NOT NULL
       OR NOT EXISTS (SELECT 1 FROM touched t WHERE t.transaction_id IS NULL))"""


INCREMENTAL_TRANSACTION_BALANCE = f"""
WITH touched AS (
    {TOUCHED_JOURNALS} WHERE id > :watermark
), {_unbalanced_of(_touched_entries())}
SELECT transaction_id, program_id, currency, difference FROM unbalanced
UNION ALL
SELECT u.transaction_id, u.program_id, u.currency, u.difference
FROM recon.ledger_checkpoint_unbalanced u
WHERE {_NOT_TOUCHED}
ORDER BY transaction_id, currency
"""

# -- maintaining the checkpoint -----------------------------------------------------------------
_ADD_TOTALS = """
INSERT INTO recon.ledger_checkpoint_totals AS t
    (program_id, currency, total_debits, total_credits, entries, fingerprint)
SELECT program_id, currency,
       coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0),
       coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0),
       count(*),
       sum(recon.ledger_row_hash(id, program_id, transaction_id, intent_id, account, type, amount,
                                 currency, created_at))
FROM platform.ledger_entries
WHERE id > %(low)s AND id <= %(high)s
GROUP BY program_id, currency
ON CONFLICT (program_id, currency) DO UPDATE
SET total_debits = t.total_debits + excluded.total_debits,
    total_credits = t.total_credits + excluded.total_credits,
    entries = t.entries + excluded.entries,
    fingerprint = t.fingerprint + excluded.fingerprint
"""

_TOUCHED_BETWEEN = f"{TOUCHED_JOURNALS} WHERE id > %(low)s AND id <= %(high)s"

_FORGET_TOUCHED = f"""
WITH touched AS ({_TOUCHED_BETWEEN})
DELETE FROM recon.ledger_checkpoint_unbalanced u
WHERE u.transaction_id IN (SELECT t.transaction_id FROM touched t)  -- the checkpoint's own column
   OR (u.transaction_id IS NULL AND EXISTS (SELECT 1 FROM touched t WHERE t.transaction_id IS NULL))
"""

_REJUDGE_TOUCHED = f"""
WITH touched AS ({_TOUCHED_BETWEEN}), {_unbalanced_of(_touched_entries("id <= %(high)s AND "))}
INSERT INTO recon.ledger_checkpoint_unbalanced (transaction_id, program_id, currency, difference)
SELECT transaction_id, program_id, currency, difference FROM unbalanced
"""

_JUDGE_ALL = f"""
WITH {_unbalanced_of("SELECT * FROM platform.ledger_entries WHERE id <= %(high)s")}
INSERT INTO recon.ledger_checkpoint_unbalanced (transaction_id, program_id, currency, difference)
SELECT transaction_id, program_id, currency, difference FROM unbalanced
"""

# The note of a call that found the candidate's transactions still running: the next call
# (the scheduler's next minute) moves the watermark once they have ended.
WAITING_NOTE = "waiting for transactions older than the candidate"


@dataclass
class AdvanceReport:
    """What one :func:`advance` did (for the run's details and the benchmark)."""

    watermark: int              # after the call
    advanced_by: int = 0        # ids the watermark moved
    entries_added: int = 0
    pending: int | None = None  # the candidate waiting for its transactions to end
    note: str | None = None     # why it did not move (busy, waiting, unsafe sequence)


def sequence_problem(conn: DictConnection) -> str | None:
    """Why the ledger's ids cannot be trusted to come in time order, or None."""
    row = conn.execute(
        "SELECT seqcache FROM pg_catalog.pg_sequence "
        "WHERE seqrelid = pg_get_serial_sequence('platform.ledger_entries', 'id')::regclass"
    ).fetchone()
    if row is None:
        return "platform.ledger_entries.id has no owned sequence"
    if row["seqcache"] != 1:
        return (f"the ledger id sequence caches {row['seqcache']} values per session, so ids "
                "are not handed out in time order; ALTER SEQUENCE … CACHE 1 to enable it")
    return None


def read_checkpoint(db: Database) -> dict | None:
    return db.fetch_one("SELECT * FROM recon.ledger_checkpoint")


def checkpoint_times(reader: "Reader") -> dict | None:
    """When the watermark last moved and when the candidate still waiting was recorded (None
    while none waits), for the metrics; None before the first per-minute run."""
    return reader.fetch_one("SELECT advanced_at, pending_at FROM recon.ledger_checkpoint")


def advance(db: Database) -> AdvanceReport:
    """Move the watermark as far as is provably safe and record the next candidate.

    Never blocks: when another process is advancing, or the candidate's transactions are still
    running, it returns with a note and the watermark where it was.
    """
    conn = db.connect(autocommit=True)
    try:
        if not expect_row(conn.execute("SELECT pg_try_advisory_lock(%s) AS ok",
                                       (ADVANCE_LOCK_KEY,)).fetchone())["ok"]:
            cp = _checkpoint(conn)
            return AdvanceReport(cp["watermark"], note="another process is advancing")
        try:
            return _advance_locked(conn, db.relations)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVANCE_LOCK_KEY,))
    finally:
        conn.close()


# A checkpoint built under another ledger order or fingerprint (the profile changed) starts again:
# its watermark counts in other units, or its fingerprints sum other hashes (ledger_tamper would
# report every program as changed).
_RESET_UNLESS_BUILT_SO = """
UPDATE recon.ledger_checkpoint SET watermark = 0, entries = 0, ordered_by = %(order)s,
       fingerprinted_by = %(fingerprint)s, pending_watermark = NULL, pending_vxids = NULL,
       pending_xmax = NULL, pending_at = NULL
WHERE ordered_by <> %(order)s OR fingerprinted_by <> %(fingerprint)s
"""


def _checkpoint(conn: DictConnection,
                relations: PlatformRelations = CONTRACT_RELATIONS) -> dict:
    """The checkpoint row; one built under another ledger order or fingerprint is reset."""
    conn.execute("INSERT INTO recon.ledger_checkpoint (singleton, ordered_by, fingerprinted_by) "
                 "VALUES (true, %s, %s) ON CONFLICT DO NOTHING",
                 (relations.ledger_order, relations.row_fingerprint))
    cp = expect_row(conn.execute("SELECT * FROM recon.ledger_checkpoint").fetchone())
    if (cp["ordered_by"], cp["fingerprinted_by"]) != (relations.ledger_order,
                                                      relations.row_fingerprint):
        with conn.transaction():
            align_checkpoint_order(conn, relations.ledger_order, relations.row_fingerprint)
        cp = expect_row(conn.execute("SELECT * FROM recon.ledger_checkpoint").fetchone())
    return cp


def align_checkpoint_order(conn: DictConnection, order: str,
                           fingerprint: str = CONTRACT_FINGERPRINT) -> None:
    """At ``db init`` (and on reading a checkpoint): one counted in another order or summed over
    another fingerprint (the profile changed) is emptied, so that no reader ever compares a
    watermark of one unit with keys of the other, nor fingerprints of two definitions."""
    conn.execute(_RESET_UNLESS_BUILT_SO, {"order": order, "fingerprint": fingerprint})
    if expect_row(conn.execute("SELECT count(*) AS n FROM recon.ledger_checkpoint "
                               "WHERE watermark = 0").fetchone())["n"]:
        conn.execute("DELETE FROM recon.ledger_checkpoint_totals")
        conn.execute("DELETE FROM recon.ledger_checkpoint_unbalanced")


def _advance_locked(conn: DictConnection, relations: PlatformRelations) -> AdvanceReport:
    problem = sequence_problem(conn) if relations.ledger_order == "id" else None
    cp = _checkpoint(conn, relations)
    if problem:
        return AdvanceReport(cp["watermark"], note=problem)
    report = AdvanceReport(cp["watermark"])
    pending = cp["pending_watermark"]
    if pending is not None:
        if not _pending_settled(conn, cp):
            report.pending = pending
            report.note = WAITING_NOTE
            return report
        report = _move_to(conn, cp["watermark"], pending, relations)
    _record_candidate(conn, report, relations)
    return report


def _pending_settled(conn: DictConnection, cp: dict) -> bool:
    """Every transaction running when the candidate was read has ended (run in its own
    statement, BEFORE the snapshot that reads the entries is taken)."""
    return expect_row(conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'virtualxid' "
        "                   AND virtualxid = ANY(%(vxids)s)) "
        "   AND pg_snapshot_xmin(pg_current_snapshot()) >= %(xmax)s AS settled",
        {"vxids": cp["pending_vxids"] or [], "xmax": cp["pending_xmax"]}).fetchone())["settled"]


def _move_to(conn: DictConnection, low: int, high: int,
             relations: PlatformRelations = CONTRACT_RELATIONS) -> AdvanceReport:
    """Add the entries in (low, high] to the checkpoint, in one REPEATABLE READ transaction."""
    bounds = {"low": low, "high": high}
    k = lambda text: keyed_sql(text, relations)  # noqa: E731 - the order key of every statement
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    try:
        with conn.transaction():
            current = expect_row(conn.execute("SELECT watermark FROM recon.ledger_checkpoint "
                                              "FOR UPDATE").fetchone())["watermark"]
            if current != low:  # moved by someone else meanwhile (cannot happen under the lock)
                return AdvanceReport(current, note="the checkpoint moved meanwhile")
            added = expect_row(conn.execute(k(
                "SELECT count(*) AS n FROM platform.ledger_entries "
                "WHERE id > %(low)s AND id <= %(high)s"), bounds).fetchone())["n"]
            conn.execute(k(_ADD_TOTALS), bounds)
            if low == 0:
                conn.execute("DELETE FROM recon.ledger_checkpoint_unbalanced")
                conn.execute(k(_JUDGE_ALL), bounds)
            else:
                conn.execute(k(_FORGET_TOUCHED), bounds)
                conn.execute(k(_REJUDGE_TOUCHED), bounds)
            conn.execute(
                "UPDATE recon.ledger_checkpoint SET watermark = %(high)s, "
                "entries = entries + %(added)s, advanced_at = now(), pending_watermark = NULL, "
                "pending_vxids = NULL, pending_xmax = NULL, pending_at = NULL",
                {**bounds, "added": added})
    finally:
        conn.isolation_level = None
    return AdvanceReport(high, advanced_by=high - low, entries_added=added)


# The transactions a candidate waits for: every running one that could still write this
# database's ledger. Sessions of other databases (a shared cluster, the tests' many databases)
# cannot, nor can an autovacuum worker; waiting for them only held the watermark back (an
# autovacuum of a large table runs for minutes). What pg_stat_activity hides from an unprivileged
# role (another role's backend_type) reads as NULL and is waited for, as is a lock whose backend
# has no row (yet): the filter only ever drops what it knows cannot write here. datid is shown
# to every role. The xmax stays cluster-wide: xids are.
_RUNNING_WRITERS = """
SELECT coalesce(array_agg(l.virtualxid), '{}') AS vxids,
       pg_snapshot_xmax(pg_current_snapshot()) AS xmax
FROM pg_locks l
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'virtualxid' AND l.pid IS DISTINCT FROM pg_backend_pid()
  AND (a.datid IS NULL
       OR a.datid = (SELECT oid FROM pg_database WHERE datname = current_database()))
  AND a.backend_type IS DISTINCT FROM 'autovacuum worker'
"""


def _record_candidate(conn: DictConnection, report: AdvanceReport,
                      relations: PlatformRelations = CONTRACT_RELATIONS) -> None:
    # Order matters: the sequence value (or the clock) first, then who is running (see the module
    # docstring and ORDER_KEYS).
    last = _last_handed_out(conn) if relations.ledger_order == "id" else \
        _time_candidate(conn, relations.ledger_order_lag_seconds)
    if last is None or last <= report.watermark:
        return
    running = expect_row(conn.execute(_RUNNING_WRITERS).fetchone())
    conn.execute("UPDATE recon.ledger_checkpoint SET pending_watermark = %s, pending_vxids = %s, "
                 "pending_xmax = %s, pending_at = now()",
                 (last, running["vxids"], running["xmax"]))
    report.pending = last


def _last_handed_out(conn: DictConnection) -> int | None:
    """The largest id the sequence has handed out (a ``setval(x, false)`` — as after a bulk load
    — means x - 1: the next nextval returns x)."""
    row = conn.execute("SELECT n.nspname AS schema, c.relname AS name FROM pg_class c "
                       "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = "
                       "pg_get_serial_sequence('platform.ledger_entries', 'id')::regclass"
                       ).fetchone()
    if row is None:
        return None
    seq = expect_row(conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(
        sql.Identifier(row["schema"], row["name"]))).fetchone())
    return seq["last_value"] if seq["is_called"] else seq["last_value"] - 1


def _time_candidate(conn: DictConnection, lag_seconds: int) -> int:
    """Now (the server's clock, read before the running transactions are listed) less the lag,
    as epoch microseconds."""
    return expect_row(conn.execute(
        "SELECT floor(extract(epoch FROM clock_timestamp() - make_interval(secs => %s)) "
        "* 1000000)::bigint AS c", (lag_seconds,)).fetchone())["c"]


def rebase(db: Database, reason: str) -> AdvanceReport:
    """Rebuild the totals and the unbalanced set from the rows as they are now, up to the current
    watermark: after tampering has been investigated (the daily ledger_tamper check keeps failing
    until then). The reason is recorded."""
    conn = db.connect(autocommit=True)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVANCE_LOCK_KEY,))
        try:
            relations = db.relations
            cp = _checkpoint(conn, relations)
            high = cp["watermark"]
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                conn.execute("SELECT 1 FROM recon.ledger_checkpoint FOR UPDATE")
                conn.execute("DELETE FROM recon.ledger_checkpoint_totals")
                conn.execute("DELETE FROM recon.ledger_checkpoint_unbalanced")
                conn.execute(keyed_sql(_ADD_TOTALS, relations),
                             {"low": 0, "high": high})
                conn.execute(keyed_sql(_JUDGE_ALL, relations),
                             {"high": high})
                n = expect_row(conn.execute("SELECT coalesce(sum(entries), 0) AS n "
                                            "FROM recon.ledger_checkpoint_totals").fetchone())["n"]
                conn.execute("UPDATE recon.ledger_checkpoint SET entries = %s, rebased_at = now(),"
                             " rebase_reason = %s", (n, reason))
            conn.isolation_level = None
            return AdvanceReport(high, entries_added=int(n), note="rebased")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVANCE_LOCK_KEY,))
    finally:
        conn.close()



# -- the stored tamper findings (alerts read the check result) -----------------------------------
def latest_tamper_findings(reader) -> list[dict]:
    """The failing rows of the newest ledger_tamper result that ran (pass or fail; an errored run
    says nothing about history), as stored JSON (money as decimal strings)."""
    row = reader.fetch_one(
        "SELECT status, rows FROM recon.check_results WHERE name = 'ledger_tamper' "
        "AND status IN ('pass', 'warn', 'fail') ORDER BY created_at DESC LIMIT 1")
    return list(row["rows"] or []) if row and row["status"] == "fail" else []


def maintenance_statements(low: int, high: int) -> list[tuple[str, str, dict]]:
    """The statements an advance runs for (low, high], for the plan guard (tests, benchmark)."""
    bounds = {"low": low, "high": high}
    return [("checkpoint: add totals", _ADD_TOTALS, bounds),
            ("checkpoint: forget touched", _FORGET_TOUCHED, bounds),
            ("checkpoint: re-judge touched", _REJUDGE_TOUCHED, bounds)]
