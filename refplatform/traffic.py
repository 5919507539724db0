"""Live traffic for the demo: users create settlement intents (with their jobs) at a steady rate,
with occasional faults — payments that arrive late, RPC errors, a webhook endpoint that always
fails — and the accrued commissions are gathered into payout batches now and then.

The traffic process also hosts the webhook receiver its endpoints point at (127.0.0.1), which
checks every signature, so the demo shows deliveries arriving, failing and being retried.
"""

from __future__ import annotations

import http.server
import logging
import random
import secrets
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from refplatform import store
from refplatform.dispatcher import SIGNATURE_HEADER, verify
from refplatform.schedules import Clock, utc_now
from sge_recon.db import DriverError
from sge_recon.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

LIVE_PROGRAM = "prog_live"


@dataclass
class TrafficStats:
    intents: int = 0
    faults: int = 0
    users: int = 0
    batches: int = 0
    webhooks_received: int = 0
    bad_signatures: int = 0
    outages: int = 0


def in_outage(now: float) -> bool:
    """The outage endpoint is down 5 minutes in every 30: its deliveries are retried (+1, +5
    min) and then go through, so the demo shows retries and a failing endpoint, and exhaustion
    stays rare, as with a real customer's short outage."""
    return (now // 60) % 30 < 5


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the dispatcher posts a batch at once; 5 (the default) refuses some
    daemon_threads = True


class WebhookReceiver:
    """A local HTTP endpoint: paths ending in /ok accept, /flaky fail at `flaky_rate`, /outage
    fail during its outage windows, /fail always fail. Every request's signature is checked
    against the secret registered for its path (a bad one gets 401)."""

    def __init__(self, port: int = 0, flaky_rate: float = 0.33, rng: random.Random | None = None):
        self.secrets: dict[str, str] = {}
        self.received = 0
        self.bad_signatures = 0
        self._lock = threading.Lock()
        receiver = self
        rng = rng or random.Random()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.rstrip("/")
                secret = receiver.secrets.get(path)
                good = secret is not None and verify(secret, body, self.headers.get(SIGNATURE_HEADER))
                with receiver._lock:
                    receiver.received += 1
                    receiver.bad_signatures += 0 if good else 1
                if not good:
                    code = 401
                elif (path.endswith("/fail")
                      or (path.endswith("/flaky") and rng.random() < flaky_rate)
                      or (path.endswith("/outage") and in_outage(time.time()))):
                    code = 500
                else:
                    code = 204
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet: the demo's log is for the platform
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="receiver",
                                        daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Traffic:
    def __init__(self, database_url: str, *, rate: float = 2.0, fault_rate: float = 0.05,
                 batch_every: float = 120.0, receiver_port: int = 0, clock: Clock = utc_now,
                 seed: int | None = None, max_programs: int = 3, adopt_endpoints: bool = True,
                 notify=None):
        self.database_url = database_url
        self.notify = notify or log.warning  # the CLI passes a printer: outages are said aloud
        self.rate = rate
        self.fault_rate = fault_rate
        self.batch_every = batch_every
        self.clock = clock
        self.rng = random.Random(seed)
        self.max_programs = max_programs
        self.adopt_endpoints = adopt_endpoints
        self.stats = TrafficStats()
        self.stop_event = threading.Event()
        self.receiver = (WebhookReceiver(receiver_port, flaky_rate=min(1.0, 2 * fault_rate),
                                         rng=random.Random(seed))
                         if receiver_port >= 0 else None)
        self._conn = None
        self._programs: list[dict] = []
        self._users: dict[str, list[str]] = {}
        self._affiliates: dict[str, list[str]] = {}

    # -- set-up ----------------------------------------------------------------------------------
    def setup(self) -> None:
        self._conn = store.connect(self.database_url, "sge-traffic")
        if self.receiver:
            self.receiver.start()
        with self._conn.transaction():
            now = self.clock()
            if not store.programs(self._conn):
                self._create_live_program(now)
            self._programs = store.programs(self._conn)[: self.max_programs]
            for program in self._programs:
                pid = program["id"]
                self._affiliates[pid] = store.program_affiliates(self._conn, pid)
                self._users[pid] = store.program_users(self._conn, pid)
                if self.receiver:
                    self._register_endpoints(pid, now)

    def _create_live_program(self, now) -> None:
        store.insert_program(self._conn, program_id=LIVE_PROGRAM, name="Live demo program",
                             currency="USD", treasury="0x" + secrets.token_hex(20),
                             direct_rate=Decimal("0.01"), parent_rate=Decimal("0.005"), now=now)
        parents: list[str | None] = [None]
        for n in range(1, 13):
            aid = f"aff_live_{n:03d}"
            store.insert_affiliate(self._conn, affiliate_id=aid, program_id=LIVE_PROGRAM,
                                   parent_id=self.rng.choice(parents), now=now)
            parents.append(aid)

    def _register_endpoints(self, program_id: str, now) -> None:
        paths = {"ok": f"/{program_id}/ok"}
        if self.fault_rate > 0:
            paths["flaky"] = f"/{program_id}/flaky"
            paths["outage"] = f"/{program_id}/outage"
        for name, path in paths.items():
            secret = secrets.token_hex(16)
            self.receiver.secrets[path] = secret
            store.upsert_endpoint(self._conn, endpoint_id=f"ep_live_{name}_{program_id}",
                                  program_id=program_id, url=self.receiver.url(path),
                                  secret=secret, now=now)
        if self.adopt_endpoints:
            # The program's other endpoints stand for customers' servers, which do not exist on
            # this machine: the receiver plays them (with their own secrets), so that deliveries
            # succeed unless a fault says otherwise.
            for endpoint in store.adoptable_endpoints(self._conn, program_id,
                                                      keep_prefix=self.receiver.url("/")):
                path = f"/adopted/{endpoint['id']}"
                secret = endpoint["secret"] or secrets.token_hex(16)
                self.receiver.secrets[path] = secret
                store.point_endpoint(self._conn, endpoint["id"], self.receiver.url(path), secret)

    # -- running --------------------------------------------------------------------------------
    def run(self, duration: float | None = None) -> TrafficStats:
        """Create intents at `rate` per second until stopped (or `duration` seconds)."""
        self.setup()
        started = last_batch = time.monotonic()
        made = 0
        try:
            while not self.stop_event.is_set():
                elapsed = time.monotonic() - started
                if duration is not None and elapsed >= duration:
                    break
                try:
                    due = int(elapsed * self.rate) - made
                    if due > 0:
                        self.create_intents(min(due, 500))
                        made += min(due, 500)
                    if self.batch_every and time.monotonic() - last_batch >= self.batch_every:
                        self.create_batches()
                        last_batch = time.monotonic()
                except (DriverError, DatabaseUnavailable) as exc:
                    # PostgreSQL stopped or restarted: say so, wait, reconnect; the intents that
                    # fell due meanwhile are skipped (a steady rate, not a burst on return).
                    self._wait_for_database(exc)
                    made = int((time.monotonic() - started) * self.rate)
                    continue
                self.stop_event.wait(0.1)
        finally:
            self.close()
        return self.stats

    def _wait_for_database(self, exc: Exception) -> None:
        """Report the outage once, then retry the connection with back-off until it is back."""
        self.stats.outages += 1
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        self.notify(f"Traffic: the database is unavailable ({reason}); retrying until it is "
                    "back (Ctrl-C stops).")
        delay = 1.0
        while not self.stop_event.is_set():
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:  # noqa: BLE001 - a broken connection may not close cleanly
                    pass
                self._conn = None
            try:
                self._conn = store.connect(self.database_url, "sge-traffic")
                self.notify("Traffic: the database is back; continuing.")
                return
            except DatabaseUnavailable:
                self.stop_event.wait(delay)
                delay = min(delay * 2, 15.0)

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        if self.receiver:
            self.stats.webhooks_received = self.receiver.received
            self.stats.bad_signatures = self.receiver.bad_signatures
            self.receiver.stop()
            self.receiver = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def create_intents(self, n: int) -> int:
        if not self._programs:
            return 0
        with self._conn.transaction():
            now = self.clock()
            for _ in range(n):
                program = self.rng.choice(self._programs)
                user_id = self._pick_user(program["id"], now)
                fault, repeats = self._pick_fault()
                store.insert_intent_with_job(
                    self._conn, intent_id=store.new_id("int"), program_id=program["id"],
                    user_id=user_id, amount=self._amount(), currency=program["currency"],
                    fault=fault, fault_repeats=repeats, now=now)
                self.stats.intents += 1
                self.stats.faults += 1 if fault else 0
        return n

    def create_batches(self) -> int:
        made = 0
        with self._conn.transaction():
            for program in self._programs:
                if store.create_payout_batch(self._conn, program["id"], self.clock()):
                    made += 1
        self.stats.batches += made
        return made

    def _pick_user(self, program_id: str, now) -> str:
        users = self._users.setdefault(program_id, [])
        if users and self.rng.random() > 0.1:
            return self.rng.choice(users)
        affiliates = self._affiliates.get(program_id) or []
        referred_by = self.rng.choice(affiliates) if affiliates and self.rng.random() < 0.8 else None
        user_id = store.new_id("user")
        store.insert_user(self._conn, user_id=user_id, program_id=program_id,
                          referred_by=referred_by, now=now)
        users.append(user_id)
        self.stats.users += 1
        return user_id

    def _pick_fault(self) -> tuple[str | None, int]:
        if self.rng.random() >= self.fault_rate:
            return None, 0
        kind = self.rng.choice(("payment_delay", "rpc_error"))
        # Most faults clear after a retry or two; a few outlast the whole backoff and fail.
        repeats = 5 if self.rng.random() < 0.05 else self.rng.randint(1, 2)
        return kind, repeats

    def _amount(self) -> Decimal:
        return Decimal(self.rng.randint(1_000, 200_000)) / 100
