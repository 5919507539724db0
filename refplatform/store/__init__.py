"""All SQL of the reference platform (refplatform/): the admin API, the worker, the webhook
dispatcher and the traffic generator.

Every state change locks the row it decides on (``SELECT … FOR UPDATE``) and checks the state in the
same transaction, so that concurrent calls serialise on the row: a batch is executed once, an intent
gets one waiting job. The job queue is taken with ``FOR UPDATE SKIP LOCKED``. Functions take an open
connection (inside a transaction) and return plain values; times come from the caller's clock so that
tests can move time without sleeping.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from sge_recon.db import describe_url
from sge_recon.errors import ConflictError, DatabaseUnavailable, NotFoundError

QUEUE = "settlement"
LIVE_STATUSES = ("created", "payment_pending", "verifying", "processing")
WORKER_LOCK_CLASS = 0x5E6E  # advisory lock class: a live worker holds (class, hashtext(worker_id))

Conn = psycopg.Connection


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


# ---------------------------------------------------------------------------------------------
# connections
# ---------------------------------------------------------------------------------------------
class PlatformPool:
    """A connection pool for the admin API (many short transactions from a thread pool)."""

    def __init__(self, url: str, *, max_size: int = 10, application_name: str = "sge-platform-api"):
        self.where = describe_url(url)
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, check=ConnectionPool.check_connection,
            kwargs={"row_factory": dict_row, "application_name": application_name,
                    "connect_timeout": 5})

    def open(self) -> None:
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close()

    @contextlib.contextmanager
    def transaction(self, timeout: float = 15) -> Iterator[Conn]:
        try:
            with self.pool.connection(timeout=timeout) as conn:
                with conn.transaction():
                    yield conn
        except PoolTimeout:
            raise DatabaseUnavailable(
                f"the platform database at {self.where} did not answer within {timeout:g} s; "
                "check that PostgreSQL is running and DATABASE_URL is right") from None
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                f"lost the connection to the platform database at {self.where} "
                f"({type(exc).__name__}); check that PostgreSQL is running") from None


def connect(url: str, application_name: str) -> Conn:
    """One long-lived connection (a worker, the dispatcher, traffic)."""
    try:
        return psycopg.connect(url, row_factory=dict_row, application_name=application_name,
                               connect_timeout=5)
    except psycopg.OperationalError:
        raise DatabaseUnavailable(
            f"cannot connect to the platform database at {describe_url(url)}; check that "
            "PostgreSQL is running and DATABASE_URL is right") from None


def ping(conn: Conn) -> None:
    conn.execute("SELECT 1")


# ---------------------------------------------------------------------------------------------
# audit log
# ---------------------------------------------------------------------------------------------
def write_audit(conn: Conn, *, actor: str, method: str, path: str, target: str | None,
                body: Any, status_code: int, result: str, message: str | None) -> None:
    conn.execute(
        "INSERT INTO public.admin_audit_log (actor, method, path, target, body, status_code, "
        "result, message) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (actor, method, path, target, Jsonb(body) if body is not None else None, status_code,
         result, message))


def audit_entries(conn: Conn, limit: int = 100) -> list[dict]:
    return conn.execute("SELECT * FROM public.admin_audit_log ORDER BY id DESC LIMIT %s",
                        (limit,)).fetchall()


# ---------------------------------------------------------------------------------------------
# reconciliation (force-reconcile): the two ledger checks of DESIGN §5, for one program
# ---------------------------------------------------------------------------------------------
def get_program(conn: Conn, program_id: str) -> dict | None:
    return conn.execute("SELECT * FROM public.programs WHERE id = %s", (program_id,)).fetchone()


def program_balances(conn: Conn, program_id: str) -> list[dict]:
    """Debits and credits per currency of one program (all of them, balanced or not)."""
    return conn.execute(
        "SELECT currency,"
        " coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0) AS total_debits,"
        " coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0) AS total_credits,"
        " count(*) AS entries"
        " FROM public.ledger_entries WHERE program_id = %s GROUP BY currency ORDER BY currency",
        (program_id,)).fetchall()


def program_unbalanced_transactions(conn: Conn, program_id: str, limit: int) -> tuple[int, list[dict]]:
    rows = conn.execute(
        "SELECT transaction_id, program_id, difference, count(*) OVER () AS total FROM ("
        " SELECT transaction_id, program_id,"
        "  sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference"
        " FROM public.ledger_entries WHERE program_id = %s"
        " GROUP BY transaction_id, program_id) t WHERE difference <> 0"
        " ORDER BY abs(difference) DESC, transaction_id LIMIT %s", (program_id, limit)).fetchall()
    total = rows[0]["total"] if rows else 0
    return total, [{k: v for k, v in r.items() if k != "total"} for r in rows]


def record_reconcile_run(conn: Conn, *, run_id: str, program_id: str, started_at: datetime,
                         finished_at: datetime, status: str, results: list[dict]) -> None:
    """Keep a force-reconcile run in the platform's own public.reconcile_runs (never in sge-recon's
    schema: sge-recon records the answer it receives)."""
    conn.execute(
        "INSERT INTO public.reconcile_runs (run_id, program_id, started_at, finished_at, status,"
        " checks) VALUES (%s, %s, %s, %s, %s, %s)",
        (run_id, program_id, started_at, finished_at, status,
         Jsonb(json.loads(json.dumps(results, default=str)))))


# ---------------------------------------------------------------------------------------------
# intents and the job queue
# ---------------------------------------------------------------------------------------------
def lock_intent(conn: Conn, intent_id: str) -> dict | None:
    return conn.execute("SELECT * FROM public.settlement_intents WHERE id = %s FOR UPDATE",
                        (intent_id,)).fetchone()


def open_jobs(conn: Conn, intent_id: str) -> list[dict]:
    """The intent's jobs that are not finished, with whether their worker still lives."""
    return conn.execute(
        "SELECT j.id, j.status, j.worker_id, j.run_at,"
        " (j.status = 'active' AND j.worker_id IS NOT NULL"
        "  AND NOT pg_try_advisory_xact_lock(%s, hashtext(j.worker_id))) AS worker_alive"
        " FROM public.jobs j WHERE j.intent_id = %s AND j.queue = %s"
        " AND j.status IN ('waiting', 'delayed', 'active') ORDER BY j.id FOR UPDATE",
        (WORKER_LOCK_CLASS, intent_id, QUEUE)).fetchall()


def enqueue_job(conn: Conn, intent_id: str, now: datetime) -> int:
    row = conn.execute(
        "INSERT INTO public.jobs (queue, intent_id, status, attempts, run_at, created_at)"
        " VALUES (%s, %s, 'waiting', 0, %s, %s) RETURNING id", (QUEUE, intent_id, now, now)).fetchone()
    return row["id"]


def run_job_now(conn: Conn, job_id: int, now: datetime) -> None:
    conn.execute("UPDATE public.jobs SET status = 'waiting', run_at = %s WHERE id = %s",
                 (now, job_id))


def abandon_job(conn: Conn, job_id: int, now: datetime, reason: str) -> None:
    conn.execute("UPDATE public.jobs SET status = 'failed', finished_at = %s, last_error = %s"
                 " WHERE id = %s", (now, reason, job_id))


def reopen_failed_intent(conn: Conn, intent_id: str, now: datetime) -> None:
    conn.execute("UPDATE public.settlement_intents SET status = 'created', status_changed_at = %s"
                 " WHERE id = %s AND status = 'failed'", (now, intent_id))


def pipeline(conn: Conn):
    """Send the statements of a block without waiting for each answer (fewer round trips)."""
    return conn.pipeline()


def relax_commit(conn: Conn) -> None:
    """This transaction only records progress (a claim, a status step): if the server crashed
    right after its commit it could be lost, which is harmless (the job is taken again, the
    intent resumes from its previous step), so it need not wait for the disk flush. The money
    transaction never does this."""
    conn.execute("SET LOCAL synchronous_commit = off")


def claim_job(conn: Conn, worker_id: str, now: datetime) -> dict | None:
    """Take the next due job (skipping those other workers hold), unless the queue is paused."""
    return conn.execute(
        "WITH next AS ("
        " SELECT j.id FROM public.jobs j"
        " WHERE j.queue = %(queue)s AND j.status IN ('waiting', 'delayed') AND j.run_at <= %(now)s"
        "  AND NOT coalesce((SELECT paused FROM public.queue_control WHERE queue = %(queue)s), false)"
        " ORDER BY j.run_at, j.id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " UPDATE public.jobs j SET status = 'active', attempts = j.attempts + 1, started_at = %(now)s,"
        "  finished_at = NULL, worker_id = %(worker)s FROM next WHERE j.id = next.id"
        " RETURNING j.id, j.intent_id, j.attempts",
        {"queue": QUEUE, "now": now, "worker": worker_id}).fetchone()


def intent_for_processing(conn: Conn, intent_id: str, *, lock: bool) -> dict | None:
    return conn.execute(
        "SELECT i.id, i.program_id, i.user_id, i.amount, i.currency, i.status, i.attempts,"
        " p.id IS NOT NULL AS program_exists,"
        " p.treasury_address, p.direct_commission_rate, p.parent_commission_rate,"
        " u.wallet, u.referred_by, f.kind AS fault, f.remaining AS fault_remaining"
        " FROM public.settlement_intents i"
        " LEFT JOIN public.programs p ON p.id = i.program_id"
        " LEFT JOIN public.users u ON u.id = i.user_id"
        " LEFT JOIN public.platform_faults f ON f.intent_id = i.id AND f.remaining > 0"
        " WHERE i.id = %s" + (" FOR UPDATE OF i" if lock else ""), (intent_id,)).fetchone()


def set_intent_status(conn: Conn, intent_id: str, status: str, now: datetime, *,
                      count_attempt: bool = False) -> None:
    conn.execute(
        "UPDATE public.settlement_intents SET status = %s, status_changed_at = %s,"
        " attempts = attempts + %s WHERE id = %s AND status <> 'completed'",
        (status, now, 1 if count_attempt else 0, intent_id))


def consume_fault(conn: Conn, intent_id: str) -> None:
    conn.execute("UPDATE public.platform_faults SET remaining = remaining - 1"
                 " WHERE intent_id = %s AND remaining > 0", (intent_id,))


def affiliate_chain(conn: Conn, affiliate_id: str) -> list[dict]:
    """The referring affiliate and its parent (levels 1 and 2), those that exist."""
    first = conn.execute("SELECT id, program_id, parent_id FROM public.affiliates WHERE id = %s",
                         (affiliate_id,)).fetchone()
    if first is None:
        return []
    chain = [first]
    if first["parent_id"]:
        parent = conn.execute("SELECT id, program_id, parent_id FROM public.affiliates"
                              " WHERE id = %s", (first["parent_id"],)).fetchone()
        if parent is not None and parent["id"] != first["id"]:
            chain.append(parent)
    return chain


def write_settlement(conn: Conn, *, intent: dict, settlement_id: str, tx_hash: str,
                     block_number: int, now: datetime) -> None:
    """The on-chain transfer as the RPC observes it, and the settlement that claims it."""
    conn.execute(
        "INSERT INTO public.chain_transactions (tx_hash, block_number, from_address, to_address,"
        " amount, observed_at) VALUES (%s, %s, %s, %s, %s, %s)",
        (tx_hash, block_number, intent["wallet"] or f"0x{intent['user_id']}",
         intent["treasury_address"], intent["amount"], now))
    conn.execute(
        "INSERT INTO public.settlements (id, intent_id, program_id, tx_hash, block_number, amount,"
        " confirmed_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (settlement_id, intent["id"], intent["program_id"], tx_hash, block_number,
         intent["amount"], now))


def write_journal(conn: Conn, *, program_id: str, transaction_id: str, intent_id: str | None,
                  entries: list[tuple[str, str, Decimal, str]], now: datetime) -> None:
    """One journal transaction: entries are (account, 'debit'|'credit', amount, currency)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO public.ledger_entries (program_id, transaction_id, intent_id, account,"
            " type, amount, currency, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(program_id, transaction_id, intent_id, account, kind, amount, currency, now)
             for account, kind, amount, currency in entries])


def write_commission(conn: Conn, *, commission_id: str, program_id: str, affiliate_id: str,
                     intent_id: str, level: int, rate: Decimal, base: Decimal, amount: Decimal,
                     now: datetime) -> None:
    conn.execute(
        "INSERT INTO public.commissions (id, program_id, affiliate_id, intent_id, level, rate,"
        " base_amount, amount, status, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
        " 'accrued', %s)",
        (commission_id, program_id, affiliate_id, intent_id, level, rate, base, amount, now))


def record_rpc_call(conn: Conn, *, provider: str, method: str, latency_ms: Decimal, ok: bool,
                    now: datetime) -> None:
    conn.execute("INSERT INTO public.rpc_calls (provider, method, latency_ms, ok, called_at)"
                 " VALUES (%s, %s, %s, %s, %s)", (provider, method, latency_ms, ok, now))


def emit_settlement_webhooks(conn: Conn, *, program_id: str, payload: dict, now: datetime) -> int:
    """A `settlement.completed` delivery to every enabled endpoint of the program."""
    return conn.execute(
        "INSERT INTO public.webhook_deliveries (id, endpoint_id, event_type, payload, status,"
        " attempt_count, next_retry_at, created_at)"
        " SELECT 'dlv_' || substr(md5(random()::text || e.id || clock_timestamp()::text), 1, 16),"
        "  e.id, 'settlement.completed', %s, 'pending', 0, %s, %s"
        " FROM public.webhook_endpoints e WHERE e.program_id = %s AND e.enabled",
        (Jsonb(payload), now, now, program_id)).rowcount


def complete_intent(conn: Conn, intent_id: str, job_id: int, now: datetime) -> None:
    conn.execute("UPDATE public.settlement_intents SET status = 'completed', completed_at = %s,"
                 " status_changed_at = %s, last_error = NULL WHERE id = %s", (now, now, intent_id))
    finish_job(conn, job_id, now)


def finish_job(conn: Conn, job_id: int, now: datetime) -> None:
    conn.execute("UPDATE public.jobs SET status = 'completed', finished_at = %s WHERE id = %s",
                 (now, job_id))


def delay_job(conn: Conn, *, job_id: int, intent_id: str, error: str, run_at: datetime) -> None:
    conn.execute("UPDATE public.jobs SET status = 'delayed', run_at = %s, last_error = %s,"
                 " worker_id = NULL WHERE id = %s", (run_at, error, job_id))
    conn.execute("UPDATE public.settlement_intents SET last_error = %s WHERE id = %s",
                 (error, intent_id))


def fail_job(conn: Conn, *, job_id: int, intent_id: str, error: str, now: datetime) -> None:
    conn.execute("UPDATE public.jobs SET status = 'failed', finished_at = %s, last_error = %s"
                 " WHERE id = %s", (now, error, job_id))
    conn.execute("UPDATE public.settlement_intents SET status = 'failed', status_changed_at = %s,"
                 " last_error = %s WHERE id = %s AND status <> 'completed'", (now, error, intent_id))


def requeue_abandoned_jobs(conn: Conn, now: datetime) -> int:
    """Active jobs whose worker is gone (its advisory lock is free) go back to waiting."""
    return conn.execute(
        "UPDATE public.jobs SET status = 'waiting', run_at = %(now)s, worker_id = NULL,"
        " last_error = 'its worker stopped while processing it; requeued'"
        " WHERE id IN (SELECT id FROM public.jobs WHERE queue = %(queue)s AND status = 'active'"
        "  AND (worker_id IS NULL OR pg_try_advisory_xact_lock(%(cls)s, hashtext(worker_id))))",
        {"now": now, "queue": QUEUE, "cls": WORKER_LOCK_CLASS}).rowcount


def requeue_jobs_of(conn: Conn, worker_id: str, now: datetime) -> int:
    """At start-up: active jobs under our own id belong to a dead predecessor of the same id."""
    return conn.execute(
        "UPDATE public.jobs SET status = 'waiting', run_at = %s, worker_id = NULL,"
        " last_error = 'its worker stopped while processing it; requeued'"
        " WHERE queue = %s AND status = 'active' AND worker_id = %s",
        (now, QUEUE, worker_id)).rowcount


def hold_worker_lock(conn: Conn, worker_id: str) -> bool:
    """Session lock that says "this worker lives" until its connection closes (even on SIGKILL)."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS ok",
                       (WORKER_LOCK_CLASS, worker_id)).fetchone()
    return bool(row["ok"])


def jobs_completed_before(conn: Conn, worker_id: str) -> int:
    """What an earlier process of the same worker id had completed (the count is cumulative)."""
    row = conn.execute("SELECT jobs_completed FROM public.worker_heartbeats WHERE worker_id = %s",
                       (worker_id,)).fetchone()
    return row["jobs_completed"] if row else 0


def heartbeat(conn: Conn, *, worker_id: str, started_at: datetime, jobs_completed: int,
              now: datetime) -> None:
    conn.execute(
        "INSERT INTO public.worker_heartbeats (worker_id, started_at, last_seen_at, jobs_completed)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (worker_id) DO UPDATE"
        " SET started_at = excluded.started_at, last_seen_at = excluded.last_seen_at,"
        " jobs_completed = excluded.jobs_completed",
        (worker_id, started_at, now, jobs_completed))


# ---------------------------------------------------------------------------------------------
# queue status and control
# ---------------------------------------------------------------------------------------------
def queue_control(conn: Conn, *, lock: bool = False) -> dict:
    row = conn.execute("SELECT queue, paused, changed_at, changed_by FROM public.queue_control"
                       " WHERE queue = %s" + (" FOR UPDATE" if lock else ""), (QUEUE,)).fetchone()
    return row or {"queue": QUEUE, "paused": False, "changed_at": None, "changed_by": None}


def set_paused(conn: Conn, *, paused: bool, actor: str, now: datetime) -> bool:
    """Set the pause flag; returns whether it changed."""
    current = queue_control(conn, lock=True)
    if current["changed_at"] is not None and current["paused"] == paused:
        return False
    conn.execute(
        "INSERT INTO public.queue_control (queue, paused, changed_at, changed_by)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (queue) DO UPDATE"
        " SET paused = excluded.paused, changed_at = excluded.changed_at,"
        " changed_by = excluded.changed_by", (QUEUE, paused, now, actor))
    return current["paused"] != paused


def queue_depth(conn: Conn, now: datetime) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) AS n FROM public.jobs WHERE queue = %s"
        " AND status IN ('waiting', 'delayed', 'active') GROUP BY status", (QUEUE,)).fetchall()
    depth = {"waiting": 0, "delayed": 0, "active": 0}
    depth.update({r["status"]: r["n"] for r in rows})
    failed = conn.execute("SELECT count(*) AS n FROM public.jobs WHERE queue = %s AND status = 'failed'"
                          " AND finished_at > %s", (QUEUE, now - timedelta(hours=24))).fetchone()
    done = conn.execute("SELECT count(*) AS n FROM public.jobs WHERE status = 'completed'"
                        " AND finished_at > %s AND queue = %s",
                        (now - timedelta(hours=1), QUEUE)).fetchone()
    depth["failedLast24h"] = failed["n"]
    depth["completedLastHour"] = done["n"]
    return depth


def workers(conn: Conn, now: datetime, down_seconds: int) -> list[dict]:
    return conn.execute(
        "SELECT worker_id, started_at, last_seen_at, jobs_completed,"
        " CASE WHEN last_seen_at >= %s THEN 'live' ELSE 'down' END AS status"
        " FROM public.worker_heartbeats WHERE last_seen_at >= %s ORDER BY worker_id",
        (now - timedelta(seconds=down_seconds), now - timedelta(hours=24))).fetchall()


# ---------------------------------------------------------------------------------------------
# payouts
# ---------------------------------------------------------------------------------------------
def lock_batch(conn: Conn, batch_id: str) -> dict:
    row = conn.execute("SELECT * FROM public.payout_batches WHERE id = %s FOR UPDATE",
                       (batch_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"payout batch {batch_id} does not exist; check the id "
                            "(the console's Payouts page lists the batches)")
    return row


def approvals(conn: Conn, batch_id: str) -> list[dict]:
    return conn.execute("SELECT approver, approved_at FROM public.payout_approvals"
                        " WHERE batch_id = %s ORDER BY approved_at, approver", (batch_id,)).fetchall()


def approver_key(recorded: str) -> str:
    """The part of a recorded approver that names the person: the key's fingerprint when there
    is one (``approver_1@<fp>`` and ``approver_2@<fp>`` are the same key), else the whole text."""
    return recorded.rpartition("@")[2] if "@" in recorded else recorded


def same_approver(a: str, b: str) -> bool:
    """Two recorded approvals by the same person: the same key fingerprint when both carry one;
    else (an approval recorded before fingerprints) the same config slot."""
    slot_a, _, fp_a = a.rpartition("@") if "@" in a else (a, "", "")
    slot_b, _, fp_b = b.rpartition("@") if "@" in b else (b, "", "")
    return fp_a == fp_b if fp_a and fp_b else slot_a == slot_b


def approve_batch(conn: Conn, batch_id: str, approver: str, now: datetime) -> dict:
    """Record one approval; the second distinct approver makes the batch `approved`."""
    batch = lock_batch(conn, batch_id)
    existing = approvals(conn, batch_id)
    same = [a["approver"] for a in existing if same_approver(a["approver"], approver)]
    if same:
        raise ConflictError(f"this approver key has already approved batch {batch_id} (as "
                            f"{same[0]}); the second approval must come from a different key")
    if batch["status"] != "pending_approval":
        raise ConflictError(f"batch {batch_id} is {batch['status']}, not pending_approval; only a "
                            "batch pending approval can be approved")
    conn.execute("INSERT INTO public.payout_approvals (batch_id, approver, approved_at)"
                 " VALUES (%s, %s, %s)", (batch_id, approver, now))
    approvers = sorted({a["approver"] for a in existing} | {approver})
    status = batch["status"]
    distinct: list[str] = []
    for a in approvers:
        if not any(same_approver(a, d) for d in distinct):
            distinct.append(a)
    if len(distinct) >= 2:
        status = "approved"
        conn.execute("UPDATE public.payout_batches SET status = 'approved', approved_at = %s"
                     " WHERE id = %s", (now, batch_id))
    return {"batch_id": batch_id, "status": status, "approvers": approvers,
            "approved_at": now if status == "approved" else None}


def execute_batch(conn: Conn, batch_id: str, now: datetime) -> dict:
    """Pay an approved batch once: per affiliate debit affiliate:<id> / credit treasury, in one
    balanced journal transaction; its commissions become paid; the batch executed."""
    batch = lock_batch(conn, batch_id)
    if batch["status"] == "executed":
        raise ConflictError(f"batch {batch_id} was already executed at {batch['executed_at']}; "
                            "it is never paid twice")
    if batch["status"] != "approved":
        raise ConflictError(f"batch {batch_id} is {batch['status']}; it can be executed only once "
                            "two distinct approvers have approved it")
    program = get_program(conn, batch["program_id"])
    currency = program["currency"] if program else "USD"
    per_affiliate = conn.execute(
        "SELECT affiliate_id, sum(amount) AS amount, count(*) AS commissions"
        " FROM public.commissions WHERE payout_batch_id = %s AND status <> 'paid'"
        " GROUP BY affiliate_id HAVING sum(amount) > 0 ORDER BY affiliate_id",
        (batch_id,)).fetchall()
    transaction_id = f"txn_payout_{batch_id}"
    entries: list[tuple[str, str, Decimal, str]] = []
    for row in per_affiliate:
        entries.append((f"affiliate:{row['affiliate_id']}", "debit", row["amount"], currency))
        entries.append(("treasury", "credit", row["amount"], currency))
    if entries:
        write_journal(conn, program_id=batch["program_id"], transaction_id=transaction_id,
                      intent_id=None, entries=entries, now=now)
    paid = conn.execute("UPDATE public.commissions SET status = 'paid' WHERE payout_batch_id = %s"
                        " AND status <> 'paid'", (batch_id,)).rowcount
    conn.execute("UPDATE public.payout_batches SET status = 'executed', executed_at = %s"
                 " WHERE id = %s", (now, batch_id))
    total = sum((r["amount"] for r in per_affiliate), Decimal("0"))
    return {"batch_id": batch_id, "status": "executed", "executed_at": now,
            "transaction_id": transaction_id if entries else None, "affiliates": len(per_affiliate),
            "commissions_paid": paid, "total_paid": total, "currency": currency,
            "batch_total_amount": batch["total_amount"]}


def create_payout_batch(conn: Conn, program_id: str, now: datetime) -> dict | None:
    """Gather a program's accrued commissions into a new batch pending approval (traffic)."""
    batch_id = new_id("batch")
    rows = conn.execute(
        "UPDATE public.commissions SET status = 'payable', payout_batch_id = %s"
        " WHERE id IN (SELECT id FROM public.commissions WHERE program_id = %s"
        "  AND status = 'accrued' AND payout_batch_id IS NULL FOR UPDATE SKIP LOCKED)"
        " RETURNING affiliate_id, amount", (batch_id, program_id)).fetchall()
    if not rows:
        return None
    total = sum((r["amount"] for r in rows), Decimal("0"))
    affiliates = len({r["affiliate_id"] for r in rows})
    conn.execute("INSERT INTO public.payout_batches (id, program_id, status, affiliate_count,"
                 " total_amount, created_at) VALUES (%s, %s, 'pending_approval', %s, %s, %s)",
                 (batch_id, program_id, affiliates, total, now))
    return {"batch_id": batch_id, "affiliates": affiliates, "total_amount": total}


# ---------------------------------------------------------------------------------------------
# webhooks
# ---------------------------------------------------------------------------------------------
def lock_delivery(conn: Conn, delivery_id: str) -> dict:
    row = conn.execute(
        "SELECT d.*, e.enabled AS endpoint_enabled, e.disabled_at AS endpoint_disabled_at"
        " FROM public.webhook_deliveries d LEFT JOIN public.webhook_endpoints e"
        " ON e.id = d.endpoint_id WHERE d.id = %s FOR UPDATE OF d", (delivery_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"webhook delivery {delivery_id} does not exist; check the id "
                            "(the console's Webhooks page lists the deliveries)")
    return row


def schedule_immediate_attempt(conn: Conn, delivery_id: str, now: datetime) -> dict:
    d = lock_delivery(conn, delivery_id)
    if d["status"] == "delivered":
        raise ConflictError(f"webhook delivery {delivery_id} was already delivered; there is "
                            "nothing to retry")
    if d["endpoint_enabled"] is False:
        raise ConflictError(f"the endpoint {d['endpoint_id']} of delivery {delivery_id} is "
                            f"disabled (since {d['endpoint_disabled_at']}); re-enable the endpoint "
                            "on the platform before retrying")
    if d["endpoint_enabled"] is None:
        raise ConflictError(f"delivery {delivery_id} points at endpoint {d['endpoint_id']}, which "
                            "does not exist; it cannot be delivered")
    conn.execute("UPDATE public.webhook_deliveries SET status = 'retry_scheduled',"
                 " next_retry_at = %s WHERE id = %s", (now, delivery_id))
    return {"delivery_id": delivery_id, "status": "retry_scheduled", "next_retry_at": now,
            "attempt_count": d["attempt_count"], "previous_status": d["status"]}


def claim_due_deliveries(conn: Conn, now: datetime, limit: int) -> list[dict]:
    return conn.execute(
        "SELECT d.id, d.endpoint_id, d.event_type, d.payload, d.attempt_count, d.created_at,"
        " e.url, e.secret FROM public.webhook_deliveries d"
        " JOIN public.webhook_endpoints e ON e.id = d.endpoint_id"
        " WHERE d.status IN ('pending', 'retry_scheduled') AND e.enabled"
        "  AND coalesce(d.next_retry_at, d.created_at) <= %s"
        " ORDER BY coalesce(d.next_retry_at, d.created_at), d.id"
        " LIMIT %s FOR UPDATE OF d SKIP LOCKED", (now, limit)).fetchall()


def record_attempt(conn: Conn, *, delivery: dict, ok: bool, status_code: int | None,
                   error: str | None, next_retry_at: datetime | None, now: datetime) -> str:
    attempt = delivery["attempt_count"] + 1
    status = "delivered" if ok else ("retry_scheduled" if next_retry_at else "failed")
    conn.execute(
        "UPDATE public.webhook_deliveries SET status = %s, attempt_count = %s, last_error = %s,"
        " last_attempt_at = %s, next_retry_at = %s WHERE id = %s",
        (status, attempt, None if ok else error, now, next_retry_at, delivery["id"]))
    conn.execute(
        "INSERT INTO public.webhook_attempts (delivery_id, endpoint_id, attempt, attempted_at, ok,"
        " status_code, error) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (delivery["id"], delivery["endpoint_id"], attempt, now, ok, status_code, error))
    return status


def update_endpoint_health(conn: Conn, *, endpoint_id: str, ok: bool, now: datetime,
                           disable_after: timedelta) -> bool:
    """Track failing_since; disable the endpoint once it has failed for `disable_after`.
    Returns whether the endpoint was disabled now."""
    if ok:
        conn.execute(
            "INSERT INTO public.webhook_endpoint_health (endpoint_id, failing_since,"
            " consecutive_failures, last_success_at, updated_at) VALUES (%s, NULL, 0, %s, %s)"
            " ON CONFLICT (endpoint_id) DO UPDATE SET failing_since = NULL,"
            " consecutive_failures = 0, last_success_at = excluded.last_success_at,"
            " updated_at = excluded.updated_at", (endpoint_id, now, now))
        return False
    row = conn.execute(
        "INSERT INTO public.webhook_endpoint_health (endpoint_id, failing_since,"
        " consecutive_failures, updated_at) VALUES (%s, %s, 1, %s)"
        " ON CONFLICT (endpoint_id) DO UPDATE SET"
        " failing_since = coalesce(webhook_endpoint_health.failing_since, excluded.failing_since),"
        " consecutive_failures = webhook_endpoint_health.consecutive_failures + 1,"
        " updated_at = excluded.updated_at RETURNING failing_since",
        (endpoint_id, now, now)).fetchone()
    if now - row["failing_since"] >= disable_after:
        return conn.execute("UPDATE public.webhook_endpoints SET enabled = false, disabled_at = %s"
                            " WHERE id = %s AND enabled", (now, endpoint_id)).rowcount > 0
    return False


# ---------------------------------------------------------------------------------------------
# ledger corrections
# ---------------------------------------------------------------------------------------------
def write_correction(conn: Conn, *, program_id: str, reason: str, actor: str,
                     entries: list[tuple[str, str, Decimal, str]], now: datetime) -> str:
    transaction_id = new_id("corr")
    write_journal(conn, program_id=program_id, transaction_id=transaction_id, intent_id=None,
                  entries=entries, now=now)
    conn.execute("INSERT INTO public.ledger_corrections (transaction_id, program_id, reason, actor,"
                 " entry_count, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                 (transaction_id, program_id, reason, actor, len(entries), now))
    return transaction_id


# ---------------------------------------------------------------------------------------------
# traffic
# ---------------------------------------------------------------------------------------------
def programs(conn: Conn) -> list[dict]:
    return conn.execute("SELECT id, currency FROM public.programs ORDER BY id").fetchall()


def insert_program(conn: Conn, *, program_id: str, name: str, currency: str, treasury: str,
                   direct_rate: Decimal, parent_rate: Decimal, now: datetime) -> None:
    conn.execute(
        "INSERT INTO public.programs (id, name, currency, treasury_address, direct_commission_rate,"
        " parent_commission_rate, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO NOTHING", (program_id, name, currency, treasury, direct_rate,
                                         parent_rate, now))


def insert_affiliate(conn: Conn, *, affiliate_id: str, program_id: str, parent_id: str | None,
                     now: datetime) -> None:
    conn.execute("INSERT INTO public.affiliates (id, program_id, code, parent_id, created_at)"
                 " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                 (affiliate_id, program_id, affiliate_id.upper(), parent_id, now))


def program_affiliates(conn: Conn, program_id: str, limit: int = 200) -> list[str]:
    rows = conn.execute("SELECT id FROM public.affiliates WHERE program_id = %s ORDER BY id"
                        " LIMIT %s", (program_id, limit)).fetchall()
    return [r["id"] for r in rows]


def program_users(conn: Conn, program_id: str, limit: int = 500) -> list[str]:
    rows = conn.execute("SELECT id FROM public.users WHERE program_id = %s ORDER BY id LIMIT %s",
                        (program_id, limit)).fetchall()
    return [r["id"] for r in rows]


def insert_user(conn: Conn, *, user_id: str, program_id: str, referred_by: str | None,
                now: datetime) -> None:
    conn.execute("INSERT INTO public.users (id, program_id, wallet, referred_by, created_at)"
                 " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                 (user_id, program_id, "0x" + uuid.uuid4().hex + uuid.uuid4().hex[:8],
                  referred_by, now))


def insert_intent_with_job(conn: Conn, *, intent_id: str, program_id: str, user_id: str,
                           amount: Decimal, currency: str, fault: str | None,
                           fault_repeats: int, now: datetime) -> int:
    conn.execute(
        "INSERT INTO public.settlement_intents (id, program_id, user_id, amount, currency, status,"
        " idempotency_key, attempts, created_at, status_changed_at)"
        " VALUES (%s, %s, %s, %s, %s, 'created', %s, 0, %s, %s)",
        (intent_id, program_id, user_id, amount, currency, f"idem-{intent_id}", now, now))
    if fault:
        conn.execute("INSERT INTO public.platform_faults (intent_id, kind, remaining, created_at)"
                     " VALUES (%s, %s, %s, %s)", (intent_id, fault, fault_repeats, now))
    return enqueue_job(conn, intent_id, now)


def adoptable_endpoints(conn: Conn, program_id: str, keep_prefix: str) -> list[dict]:
    """Enabled endpoints of a program, other than traffic's own, that do not point at the
    current receiver yet (customers' servers, or a receiver of an earlier traffic run)."""
    return conn.execute(
        "SELECT id, secret FROM public.webhook_endpoints WHERE program_id = %s AND enabled"
        " AND id NOT LIKE 'ep\\_live\\_%%' AND left(url, length(%s)) <> %s ORDER BY id",
        (program_id, keep_prefix, keep_prefix)).fetchall()


def point_endpoint(conn: Conn, endpoint_id: str, url: str, secret: str) -> None:
    conn.execute("UPDATE public.webhook_endpoints SET url = %s, secret = %s WHERE id = %s",
                 (url, secret, endpoint_id))


def upsert_endpoint(conn: Conn, *, endpoint_id: str, program_id: str, url: str, secret: str,
                    now: datetime) -> None:
    conn.execute(
        "INSERT INTO public.webhook_endpoints (id, program_id, url, enabled, created_at, secret)"
        " VALUES (%s, %s, %s, true, %s, %s) ON CONFLICT (id) DO UPDATE SET url = excluded.url,"
        " secret = excluded.secret", (endpoint_id, program_id, url, now, secret))
