"""The webhook dispatcher: real HTTP POSTs of due deliveries to their endpoints.

The body is the delivery's payload as compact JSON; ``X-SGE-Signature: sha256=<hex>`` is the
HMAC-SHA256 of exactly those bytes with the endpoint's secret. Attempts happen at 0, then +1, +5,
+15 and +60 min after each failure; after the fifth failed attempt the delivery is `failed`. An
endpoint that has failed continuously for 24 h is disabled. Each delivery is locked
(``FOR UPDATE SKIP LOCKED``) while it is attempted, so two dispatchers never send it twice at once.
Endpoint URLs are secrets: they never appear in errors or logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from refplatform import store
from refplatform.schedules import ENDPOINT_DISABLE_AFTER, Clock, utc_now, webhook_retry_delay

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-SGE-Signature"


def body_bytes(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header)


@dataclass
class DispatchStats:
    delivered: int = 0
    retry_scheduled: int = 0
    failed: int = 0
    endpoints_disabled: int = 0

    @property
    def attempts(self) -> int:
        return self.delivered + self.retry_scheduled + self.failed


class WebhookDispatcher:
    def __init__(self, database_url: str, *, clock: Clock = utc_now, timeout: float = 5.0,
                 poll_interval: float = 1.0, batch_size: int = 32):
        self.database_url = database_url
        self.clock = clock
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.http = httpx.Client(timeout=timeout, follow_redirects=False,
                                 limits=httpx.Limits(max_connections=batch_size))
        self._posters = ThreadPoolExecutor(batch_size, thread_name_prefix="webhook-post")
        self.stats = DispatchStats()
        self.stop_event = threading.Event()
        self._conn = None

    def _connection(self):
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = store.connect(self.database_url, "sge-webhook-dispatcher")
        return self._conn

    def close(self) -> None:
        self._posters.shutdown(wait=True)
        self.http.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self) -> DispatchStats:
        """Dispatch until stopped."""
        try:
            while not self.stop_event.is_set():
                try:
                    sent = self.run_due()
                except Exception as exc:  # database away: wait and try again
                    log.warning("dispatcher error (%s); retrying", type(exc).__name__)
                    self._conn = None
                    sent = 0
                if not sent:
                    self.stop_event.wait(self.poll_interval)
        finally:
            self.close()
        return self.stats

    def stop(self) -> None:
        self.stop_event.set()

    def run_due(self, limit: int = 100) -> int:
        """Attempt every delivery due now (up to `limit`); returns how many were attempted."""
        done = 0
        while done < limit and not self.stop_event.is_set():
            attempted = self.attempt_batch(min(self.batch_size, limit - done))
            if not attempted:
                break
            done += attempted
        return done

    def attempt_batch(self, size: int) -> int:
        """Take up to `size` due deliveries (locked), POST them in parallel, record the results
        in the same transaction. A slow endpoint delays its batch by at most the timeout."""
        conn = self._connection()
        with conn.transaction():
            now = self.clock()
            deliveries = store.claim_due_deliveries(conn, now, size)
            if not deliveries:
                return 0
            if len(deliveries) == 1:
                outcomes = [self._post(deliveries[0])]
            else:
                outcomes = list(self._posters.map(self._post, deliveries))
            for delivery, (ok, status_code, error) in zip(deliveries, outcomes):
                self._record(conn, delivery, ok, status_code, error, now)
        return len(deliveries)

    def attempt_next(self) -> bool:
        return self.attempt_batch(1) == 1

    def _record(self, conn, delivery: dict, ok: bool, status_code, error, now) -> None:
        attempts = delivery["attempt_count"] + 1
        delay = None if ok else webhook_retry_delay(attempts)
        status = store.record_attempt(conn, delivery=delivery, ok=ok, status_code=status_code,
                                      error=error, now=now,
                                      next_retry_at=now + delay if delay else None)
        disabled = store.update_endpoint_health(conn, endpoint_id=delivery["endpoint_id"], ok=ok,
                                                now=now, disable_after=ENDPOINT_DISABLE_AFTER)
        if status == "delivered":
            self.stats.delivered += 1
        elif status == "failed":
            self.stats.failed += 1
        else:
            self.stats.retry_scheduled += 1
        if disabled:
            self.stats.endpoints_disabled += 1
            log.warning("endpoint %s disabled after failing for 24 h", delivery["endpoint_id"])

    def _post(self, delivery: dict) -> tuple[bool, int | None, str | None]:
        body = body_bytes(delivery["payload"])
        headers = {"Content-Type": "application/json", "User-Agent": "sge-platform-webhooks/1",
                   "X-SGE-Event": delivery["event_type"], "X-SGE-Delivery": delivery["id"],
                   "X-SGE-Attempt": str(delivery["attempt_count"] + 1)}
        if delivery["secret"]:
            headers[SIGNATURE_HEADER] = sign(delivery["secret"], body)
        try:
            response = self.http.post(delivery["url"], content=body, headers=headers)
        except httpx.TimeoutException:
            return False, None, "timed out waiting for the endpoint"
        except httpx.HTTPError as exc:
            # The exception text may carry the URL, which is a secret: keep only its kind.
            return False, None, f"could not reach the endpoint ({type(exc).__name__})"
        if 200 <= response.status_code < 300:
            return True, response.status_code, None
        return False, response.status_code, f"endpoint answered HTTP {response.status_code}"
