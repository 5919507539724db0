"""Posting the alert outbox (recon.alert_deliveries): ``Recon.incidents.deliver_pending``.

Each message is one POST with an overall deadline (sge_recon/alerts/transport.py). Whatever goes
wrong with one POST is a failed attempt of that message and channel only: it is recorded, the
channel is left alone for the rest of this pass, and the other channels are still tried.

* a transient failure (refused, timeout, 5xx, 408, 429, a malformed answer) is retried with
  back-off (1, 2, 4 … 60 min; a 429's Retry-After is honoured for the whole channel), and
  given up after ``GIVE_UP_AFTER``;
* a permanent 4xx (``transport.PERMANENT_STATUSES``: the message is refused, or the webhook is
  wrong or gone) gives that message up at once (``failed``, with the answer in last_error,
  counted in sge_alert_deliveries_total{status="failed"}), and later messages flow;
* a message waiting out a back-off holds back only the later messages of its own incident
  (sge_recon/db/alert_outbox.py ``claim_due_alert``);
* the channels are delivered side by side (one thread each), each for at most
  ``CHANNEL_PASS_SECONDS`` per pass: a channel that answers slowly (but within the deadline,
  so it is never "down") never delays another channel's page, and the rest of its backlog
  waits for the next pass instead of holding the monitor.

Delivery is at-least-once: every attempt carries the row id (``X-SGE-Delivery``; the webhook's
``delivery_id``), so receivers can drop a repeat after a lost answer.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..db import alert_outbox
from . import channels as ch

if TYPE_CHECKING:
    from ..config import Settings
    from ..db import Database

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 3600
GIVE_UP_AFTER = timedelta(hours=24)  # an alert older than this is not worth sending any more
POST_TIMEOUT_SECONDS = 5.0           # the whole of one POST (connect, send, answer)
# one channel's share of a pass: no new POST to it after this (a slow channel's backlog waits
# for the next pass instead of holding the monitor; the channels are delivered side by side)
CHANNEL_PASS_SECONDS = 20.0
KEPT_OPEN = ("kept open: the trigger of the round that supersedes this alert was given up; "
             "it is resolved with the incident")
SHORT_WAIT_SECONDS = 5.0  # a 429's Retry-After up to this is waited out within the pass


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0      # attempts that failed and will be retried
    given_up: int = 0

    def summary(self) -> dict:
        return {"sent": self.sent, "failed_attempts": self.failed, "given_up": self.given_up}


def deliver_pending(db: "Database", settings: "Settings", now: datetime,
                    limit: int = 50) -> DeliveryReport:
    """Post due alerts: each channel on its own thread, most urgent first (the incident's
    priority, then notices; oldest first within each), at most ``limit`` messages
    and ``CHANNEL_PASS_SECONDS`` per channel in one pass, so a slow channel never delays another
    channel's page and never holds the monitor for minutes (its backlog waits for the next
    pass). A channel whose POST fails is left for later in this pass."""
    report = DeliveryReport()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(channel: str) -> None:
        try:
            _deliver_channel(db, settings, now, channel, limit, report, lock)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the pass, after the others
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(channel,), name=f"alerts-{channel}",
                                daemon=True)
               for channel in alert_outbox.due_alert_channels(db, now)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return report


def _deliver_channel(db: "Database", settings: "Settings", now: datetime, channel: str,
                     limit: int, report: DeliveryReport, lock: threading.Lock) -> None:
    """One channel's part of a pass: due messages in order until one fails, ``limit`` were
    tried or ``CHANNEL_PASS_SECONDS`` have passed."""
    tried: list[int] = []
    started = time.monotonic()
    while len(tried) < limit and time.monotonic() - started < CHANNEL_PASS_SECONDS:
        with db.transaction() as conn:
            row = alert_outbox.claim_due_alert(conn, now, channel, tried)
            if row is None:
                return
            tried.append(row["id"])
            if row["event"] == "supersede" and alert_outbox.round_trigger_given_up(conn, row):
                # the next round never reached PagerDuty: resolving this round's alert would
                # leave none open for an open incident; it is kept (and resolved with it)
                alert_outbox.mark_alert_attempt_failed(conn, row["id"], KEPT_OPEN, None)
                log.warning("alert %s to %s not sent: %s", row["id"], row["channel"], KEPT_OPEN)
                continue
            try:
                _post(row, settings, started + CHANNEL_PASS_SECONDS)
            except Exception as exc:  # noqa: BLE001 - one failed attempt of this channel only
                failure = exc if isinstance(exc, ch.DeliveryFailed) else ch.DeliveryFailed(
                    type(exc).__name__)  # never the text: it may quote the URL
                retry_at = None if failure.permanent else retry_time(row, now,
                                                                     failure.retry_after)
                alert_outbox.mark_alert_attempt_failed(
                    conn, row["id"], str(failure)[:500], retry_at,
                    holds_channel=failure.retry_after is not None)
                with lock:
                    if retry_at is None:
                        report.given_up += 1
                    else:
                        report.failed += 1
                log.warning("alert %s to %s failed (attempt %d%s): %s", row["id"],
                            row["channel"], row["attempts"] + 1,
                            ", given up" if retry_at is None else "", failure)
                return  # the channel is left alone for the rest of this pass
            alert_outbox.mark_alert_sent(conn, row["id"], now)
            with lock:
                report.sent += 1


def _post(row: dict, settings: "Settings", deadline: float) -> None:
    """POST one message. A 429 asking for a short wait (``SHORT_WAIT_SECONDS``, e.g. Slack's one
    message a second) that fits the channel's pass is waited out and the message posted again
    (same delivery id), so a burst is delivered in the pass instead of a minute later each."""
    while True:
        url, body, headers, secrets = ch.outgoing(row["channel"], settings, row["payload"],
                                                  row["id"])
        try:
            ch.post(url, body, timeout=POST_TIMEOUT_SECONDS, headers=headers, secrets=secrets)
            return
        except ch.DeliveryFailed as failure:
            wait = failure.retry_after
            if wait is None or wait > SHORT_WAIT_SECONDS \
                    or time.monotonic() + wait + POST_TIMEOUT_SECONDS > deadline:
                raise
            time.sleep(wait)


def retry_time(row: dict, now: datetime, retry_after: float | None) -> datetime | None:
    if now - row["created_at"] >= GIVE_UP_AFTER:
        return None
    if retry_after:  # the service said how long (429): exactly that, for the message and the
        # channel it holds, never this message's own back-off (which would hold every message
        # of the channel, a P0's too, for up to an hour when it was asked for a second)
        return now + timedelta(seconds=min(retry_after, MAX_RETRY_SECONDS))
    delay = min(FIRST_RETRY_SECONDS * 2 ** row["attempts"], MAX_RETRY_SECONDS)
    return now + timedelta(seconds=delay)
