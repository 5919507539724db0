"""The settlement job queue: intents, jobs, workers, queue status and control."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from psycopg.types.json import Jsonb

from .base import QUEUE, WORKER_LOCK_CLASS, Conn


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
