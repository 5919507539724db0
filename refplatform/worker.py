"""The settlement worker: takes jobs of the `settlement` queue and moves intents through
created → payment_pending → verifying → processing → completed.

Each status step is its own short commit (so that the console sees where an intent is), but
everything that moves money — the settlement, the chain transaction the RPC observes, the payment
journal, the commissions up the affiliate tree with their journals, the outgoing webhooks, the
intent's and job's completion — is written in ONE transaction: a crash leaves either all of it or
none of it. A worker holds an advisory lock for its lifetime; when it dies (even by SIGKILL) its
lock goes with its connection, and any live worker requeues the job it held.

Transient failures (payment not received yet, RPC errors, database hiccups) are retried with the
backoff 1 min, 5 min, 15 min, 1 h; after that the intent fails.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from refplatform import store
from refplatform.schedules import Clock, intent_retry_delay, utc_now
from sge_recon.errors import ReconError

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
BLOCK_ZERO = datetime(2024, 1, 1).timestamp()
RPC_PROVIDER = "reference-rpc"
IDENTITY_WAIT_SECONDS = 5.0  # how long a restarted worker waits for its id's lock


class WorkerIdInUse(ReconError):
    """Another live worker holds this id."""


class TransientError(Exception):
    """A failure worth retrying later (payment not there yet, RPC error)."""


def commission_amount(base: Decimal, rate: Decimal) -> Decimal:
    """round(base × rate, 2), half away from zero like PostgreSQL's round()."""
    return (base * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def block_number_at(now: datetime) -> int:
    """A plausible block height: one block every 12 s since 2024."""
    return 19_000_000 + int((now.timestamp() - BLOCK_ZERO) // 12)


@dataclass
class WorkerStats:
    completed: int = 0
    retried: int = 0
    failed: int = 0
    requeued: int = 0
    errors: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, database_url: str, *, worker_id: str | None = None, clock: Clock = utc_now,
                 poll_interval: float = 0.5, heartbeat_interval: float = 2.0,
                 rng: random.Random | None = None):
        self.database_url = database_url
        self.worker_id = worker_id  # None: the first free slot, worker-1, worker-2, ...
        self.clock = clock
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.rng = rng or random.Random()
        self.stats = WorkerStats()
        self.stop_event = threading.Event()
        self.started_at = clock()
        self._conn = None
        self._life_conn = None
        self._jobs_before = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect, take the liveness lock, requeue the jobs of dead workers, say hello."""
        self._life_conn = store.connect(self.database_url, "sge-worker-life")
        self._life_conn.autocommit = True
        self._take_identity()
        self._conn = store.connect(self.database_url, f"sge-worker:{self.worker_id}")
        with self._life_conn.transaction():
            self._jobs_before = store.jobs_completed_before(self._life_conn, self.worker_id)
        self.beat()
        with self._conn.transaction():
            self.stats.requeued += store.requeue_jobs_of(self._conn, self.worker_id, self.clock())
        self.requeue_abandoned()

    def _take_identity(self) -> None:
        """Hold this worker's liveness lock. Without an explicit id, take the first free slot
        (worker-1, worker-2, ...), so that a restarted worker keeps its name and heartbeat row."""
        candidates = [self.worker_id] if self.worker_id else [f"worker-{n}" for n in range(1, 257)]
        for candidate in candidates:
            if store.hold_worker_lock(self._life_conn, candidate):
                self.worker_id = candidate
                return
        if self.worker_id:
            # A worker restarted at once after a crash: the dead one's backend lets go of the
            # lock only when it notices the closed socket, a moment later. Wait that moment
            # before calling the id taken.
            deadline = time.monotonic() + IDENTITY_WAIT_SECONDS
            while time.monotonic() < deadline:
                time.sleep(0.1)
                if store.hold_worker_lock(self._life_conn, self.worker_id):
                    return
        raise WorkerIdInUse(f"worker id {candidates[0]} is already used by a live worker; choose "
                            "another --worker-id" if self.worker_id else
                            "256 workers are already running against this database")

    def close(self) -> None:
        for conn in (self._conn, self._life_conn):
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # closing a broken connection must not mask the real error
                    pass
        self._conn = self._life_conn = None

    def run(self, *, max_jobs: int | None = None, idle_exit: bool = False) -> WorkerStats:
        """Process jobs until stopped (or `max_jobs` done, or the queue is empty with idle_exit)."""
        self.start()
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        try:
            done = 0
            lost_job = False
            last_requeue = self.clock()
            while not self.stop_event.is_set():
                if max_jobs is not None and done >= max_jobs:
                    break
                try:
                    worked = self.run_one()
                    if lost_job:
                        # The job that was in flight when the database went away is still
                        # 'active' under our own (live) id: nobody else may take it. Jobs run one
                        # at a time, so between jobs any active job of ours is that one.
                        with self._conn.transaction():
                            self.stats.requeued += store.requeue_jobs_of(
                                self._conn, self.worker_id, self.clock())
                        lost_job = False
                except Exception as exc:  # the database went away: wait, reconnect, go on
                    log.warning("worker loop error (%s); retrying in a moment", type(exc).__name__)
                    lost_job = True
                    self.stop_event.wait(max(self.poll_interval, 1.0))
                    self._reconnect()
                    continue
                done += worked
                if (self.clock() - last_requeue).total_seconds() >= 5:
                    self.requeue_abandoned()
                    last_requeue = self.clock()
                if not worked:
                    if idle_exit:
                        break
                    self.stop_event.wait(self.poll_interval)
        finally:
            self.stop_event.set()
            beat.join(timeout=5)
            try:
                self.beat()
            except Exception:
                pass
            self.close()
        return self.stats

    def _reconnect(self) -> None:
        for attr, name in (("_conn", "sge-worker"), ("_life_conn", "sge-worker-life")):
            conn = getattr(self, attr)
            if conn is not None and not conn.closed and not conn.broken:
                continue
            try:
                fresh = store.connect(self.database_url, f"{name}:{self.worker_id}")
            except Exception:
                return
            if attr == "_life_conn":
                fresh.autocommit = True
                store.hold_worker_lock(fresh, self.worker_id)  # ours again: nobody took the slot
            setattr(self, attr, fresh)

    def stop(self) -> None:
        self.stop_event.set()

    # -- liveness ------------------------------------------------------------------------------
    def beat(self) -> None:
        with self._life_conn.transaction():
            store.heartbeat(self._life_conn, worker_id=self.worker_id, started_at=self.started_at,
                            jobs_completed=self._jobs_before + self.stats.completed,
                            now=self.clock())

    def _heartbeat_loop(self) -> None:
        while not self.stop_event.wait(self.heartbeat_interval):
            try:
                self.beat()
            except Exception as exc:  # keep beating: the database may come back
                log.warning("heartbeat failed: %s", type(exc).__name__)

    def requeue_abandoned(self) -> int:
        with self._conn.transaction():
            n = store.requeue_abandoned_jobs(self._conn, self.clock())
        if n:
            log.warning("requeued %d job(s) whose worker stopped", n)
            self.stats.requeued += n
        return n

    # -- one job -------------------------------------------------------------------------------
    def run_one(self) -> int:
        """Take and process one due job; returns 1 if there was one, 0 otherwise."""
        conn = self._conn
        with conn.transaction():
            store.relax_commit(conn)
            job = store.claim_job(conn, self.worker_id, self.clock())
            if job is None:
                return 0
            intent = store.intent_for_processing(conn, job["intent_id"], lock=True)
            if intent is None or intent["status"] == "completed":
                # Nothing to do (already settled, or the intent vanished): close the job.
                store.finish_job(conn, job["id"], self.clock())
                return 1
            if not intent["program_exists"]:
                # Not transient: retrying cannot make the program appear. Fail it visibly.
                store.fail_job(conn, job_id=job["id"], intent_id=intent["id"], now=self.clock(),
                               error=f"program {intent['program_id']} does not exist; the intent "
                                     "cannot be settled")
                self.stats.failed += 1
                return 1
            if intent["status"] in ("created", "failed"):
                store.set_intent_status(conn, intent["id"], "payment_pending", self.clock(),
                                        count_attempt=True)
                intent["status"] = "payment_pending"
            else:
                store.set_intent_status(conn, intent["id"], intent["status"], self.clock(),
                                        count_attempt=True)
        try:
            self._advance(intent)
            self._settle(job)
        except TransientError as exc:
            self._retry_later(job, str(exc))
        except Exception as exc:  # a database hiccup or a bug: retried like a transient failure
            log.exception("job %s (intent %s) failed", job["id"], job["intent_id"])
            self._retry_later(job, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                              if str(exc) else type(exc).__name__)
        return 1

    def _advance(self, intent: dict) -> None:
        """payment_pending → verifying → processing, one short commit each."""
        conn = self._conn
        if intent["status"] == "payment_pending":
            if intent["fault"] == "payment_delay":
                self._consume_fault(intent["id"])
                raise TransientError("payment not received yet (bank transfer delayed)")
            with conn.transaction():
                store.relax_commit(conn)
                store.set_intent_status(conn, intent["id"], "verifying", self.clock())
            intent["status"] = "verifying"
        if intent["status"] == "verifying":
            if intent["fault"] == "rpc_error":
                with conn.transaction():
                    store.record_rpc_call(conn, provider=RPC_PROVIDER, method="eth_getTransactionReceipt",
                                          latency_ms=Decimal("5000"), ok=False, now=self.clock())
                    store.consume_fault(conn, intent["id"])
                raise TransientError("RPC error: eth_getTransactionReceipt timed out after 5 s")
            with conn.transaction():
                store.relax_commit(conn)
                store.set_intent_status(conn, intent["id"], "processing", self.clock())
            intent["status"] = "processing"

    def _consume_fault(self, intent_id: str) -> None:
        with self._conn.transaction():
            store.consume_fault(self._conn, intent_id)

    def _settle(self, job: dict) -> None:
        """Everything that moves money, in one transaction."""
        conn = self._conn
        with store.pipeline(conn), conn.transaction():
            intent = store.intent_for_processing(conn, job["intent_id"], lock=True)
            now = self.clock()
            if intent is None or intent["status"] == "completed":
                store.finish_job(conn, job["id"], now)
                return
            tx_hash = "0x" + self.rng.getrandbits(256).to_bytes(32, "big").hex()
            block = block_number_at(now)
            settlement_id = f"set_{intent['id']}"
            store.record_rpc_call(conn, provider=RPC_PROVIDER, method="eth_getTransactionReceipt",
                                  latency_ms=Decimal(self.rng.randint(40, 250)), ok=True, now=now)
            store.write_settlement(conn, intent=intent, settlement_id=settlement_id,
                                   tx_hash=tx_hash, block_number=block, now=now)
            amount, currency = intent["amount"], intent["currency"]
            store.write_journal(conn, program_id=intent["program_id"],
                                transaction_id=f"txn_pay_{intent['id']}", intent_id=intent["id"],
                                entries=[("treasury", "debit", amount, currency),
                                         (f"user:{intent['user_id']}", "credit", amount, currency)],
                                now=now)
            commissions = self._write_commissions(conn, intent, now)
            store.emit_settlement_webhooks(conn, program_id=intent["program_id"], now=now, payload={
                "event": "settlement.completed", "intentId": intent["id"],
                "settlementId": settlement_id, "programId": intent["program_id"],
                "userId": intent["user_id"], "amount": format(amount, "f"), "currency": currency,
                "txHash": tx_hash, "blockNumber": block, "commissions": commissions,
                "completedAt": now.isoformat()})
            store.complete_intent(conn, intent["id"], job["id"], now)
        self.stats.completed += 1

    def _write_commissions(self, conn, intent: dict, now: datetime) -> int:
        """Level 1 to the referring affiliate at the direct rate, level 2 to its parent at the
        parent rate; each with its journal: debit treasury / credit affiliate:<id>."""
        if not intent["referred_by"]:
            return 0
        rates = (intent["direct_commission_rate"], intent["parent_commission_rate"])
        written = 0
        for level, affiliate in enumerate(store.affiliate_chain(conn, intent["referred_by"]), 1):
            rate = rates[level - 1]
            amount = commission_amount(intent["amount"], rate)
            if amount <= 0:
                continue
            commission_id = f"com_{intent['id']}_l{level}"
            store.write_commission(conn, commission_id=commission_id,
                                   program_id=intent["program_id"], affiliate_id=affiliate["id"],
                                   intent_id=intent["id"], level=level, rate=rate,
                                   base=intent["amount"], amount=amount, now=now)
            store.write_journal(conn, program_id=intent["program_id"],
                                transaction_id=f"txn_{commission_id}", intent_id=intent["id"],
                                entries=[("treasury", "debit", amount, intent["currency"]),
                                         (f"affiliate:{affiliate['id']}", "credit", amount,
                                          intent["currency"])], now=now)
            written += 1
        return written

    def _retry_later(self, job: dict, error: str) -> None:
        conn = self._conn
        if not conn.closed and conn.info.transaction_status != 0:  # leave a failed transaction
            conn.rollback()
        now = self.clock()
        delay = intent_retry_delay(job["attempts"])
        with conn.transaction():
            if delay is None:
                store.fail_job(conn, job_id=job["id"], intent_id=job["intent_id"],
                               error=f"gave up after {job['attempts']} attempts: {error}", now=now)
                self.stats.failed += 1
            else:
                store.delay_job(conn, job_id=job["id"], intent_id=job["intent_id"],
                                error=error, run_at=now + delay)
                self.stats.retried += 1
