"""A channel that answers slowly (within the 5 s deadline of one POST, so never "down"), has a
backlog, or asks to wait (429) must not delay a P0 page longer than it has to, nor hold the
per-minute monitor for minutes: real local receivers, the real monitor job, ManualClock."""

from __future__ import annotations

import time

import pytest

from sge_recon.alerts import channels as ch
from sge_recon.alerts import delivery
from sge_recon.alerts.channels import Message

from .test_alert_channels import PD_PATH, ROUTING_KEY
from .test_alerts import (SLACK, alerting_recon, monitor_only, plant_ledger_imbalance,
                          receiver, start_clock)  # noqa: F401

SLOW_SECONDS = 1.5


def test_a_slow_channel_never_delays_a_p0_page_on_another_channel(db_url, db, factory,
                                                                  receiver,  # noqa: F811
                                                                  monkeypatch):
    monkeypatch.setattr(delivery, "CHANNEL_PASS_SECONDS", 4.0, raising=False)  # 20 s in production
    recon = alerting_recon(db_url, receiver, PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
                           PAGERDUTY_EVENTS_URL=receiver.base + PD_PATH)
    clock = start_clock()
    # a backlog on Slack (notices queued while it was down), then a P0 opens
    for n in range(12):
        recon.incidents.notify("notice", Message(f"notice {n}"), clock.now())
    receiver.delays[SLACK] = SLOW_SECONDS  # Slack answers, slowly (under the 5 s deadline)
    plant_ledger_imbalance(factory, db, clock)
    started = time.monotonic()
    [outcome] = monitor_only(recon, clock).tick()
    took = time.monotonic() - started
    assert outcome.status == "succeeded", outcome.error
    [page] = [p for p in receiver.posts if p["path"] == PD_PATH]
    assert page["json"]["payload"]["severity"] == "critical"
    assert page["at"] - started < 5 * SLOW_SECONDS, "the P0 page waited behind Slack's backlog"
    # the pass gives each channel a bounded time; the rest of Slack's backlog waits a minute
    assert took < delivery.CHANNEL_PASS_SECONDS + SLOW_SECONDS + 3
    slack_sent = len(receiver.delivered(SLACK))
    assert 1 <= slack_sent < 13
    receiver.delays[SLACK] = 0
    clock.advance(minutes=1)
    monitor_only(recon, clock).tick()
    assert len(receiver.delivered(SLACK)) == 13  # the backlog, in the next pass, once each
    assert len([p for p in receiver.posts if p["path"] == PD_PATH]) == 1


def test_a_p0_page_goes_first_in_a_pass_not_behind_a_channels_backlog(db_url, db, factory,
                                                                      receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    # Slack was down for a while: 60 notices and reminders queued, now due; then a P0 opens
    for n in range(60):
        recon.incidents.notify("notice", Message(f"notice {n}"), clock.now())
    plant_ledger_imbalance(factory, db, clock)
    [outcome] = monitor_only(recon, clock).tick()
    assert outcome.status == "succeeded", outcome.error
    slack = [p["json"]["text"] for p in receiver.posts if p["path"] == SLACK]
    assert len(slack) == 50  # one pass's worth; the rest wait for the next minute
    assert " P0 incident " in slack[0], "the P0 waited behind the backlog"


def test_a_429_holds_the_channel_only_as_long_as_the_service_asked(db_url, db, factory,
                                                                    receiver):  # noqa: F811
    from .test_alerts import plant_queue_depth

    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_queue_depth(factory, db, clock)
    receiver.fail_next[SLACK] = 4  # Slack is down a while: the P2's opening backs off 1, 2, 4 min
    for minutes in (0, 1, 2, 4):
        clock.advance(minutes=minutes)
        sched.tick()
    clock.advance(minutes=8)  # Slack is back, busy: "429, Retry-After: 30" to the retry
    receiver.fail_next[SLACK], receiver.fail_status = 1, 429
    receiver.fail_headers = {"Retry-After": "30"}  # longer than is waited out within a pass
    sched.tick()
    plant_ledger_imbalance(factory, db, clock)  # then a P0 opens
    clock.advance(minutes=1)
    sched.tick()
    texts = [s["text"] for s in receiver.delivered(SLACK)]
    assert any(" P0 incident " in t for t in texts), \
        "Slack asked for 30 s; the channel (and the P0) was held for the P2's back-off"
    assert any(" P2 incident " in t for t in texts)


@pytest.mark.parametrize("header", ["nan", "inf", "-5", "0", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_a_retry_after_that_is_no_number_of_seconds_is_no_advice(receiver, header):  # noqa: F811
    receiver.fail_next[SLACK], receiver.fail_status = 1, 429
    receiver.fail_headers = {"Retry-After": header}
    with pytest.raises(ch.DeliveryFailed) as failed:
        ch.post(receiver.base + SLACK, {"text": "x"}, timeout=5)
    assert str(failed.value).startswith("HTTP 429") and failed.value.retry_after is None


class RateLimited:
    """A real HTTP listener that takes ``burst`` POSTs, then one per ``every`` seconds, and answers
    the others 429 with a Retry-After of ``every`` (Slack: about one message a second per
    webhook; Discord: five per two seconds)."""

    def __init__(self, burst: int, every: float):
        import threading
        from http.server import BaseHTTPRequestHandler

        from .http_receiver import _Server

        self.taken: list[dict] = []
        self.refused = 0
        state = {"tokens": float(burst), "at": time.monotonic()}
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                import json

                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    now = time.monotonic()
                    state["tokens"] = min(burst, state["tokens"] + (now - state["at"]) / every)
                    state["at"] = now
                    ok = state["tokens"] >= 1
                    if ok:
                        state["tokens"] -= 1
                        outer.taken.append(json.loads(body))
                    else:
                        outer.refused += 1
                self.send_response(200 if ok else 429)
                if not ok:
                    self.send_header("Retry-After", f"{every:g}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_burst_that_meets_a_rate_limit_is_delivered_in_the_same_pass(db_url, db, factory):
    limited = RateLimited(burst=3, every=1.0)
    try:
        from datetime import datetime, timezone

        from sge_recon.context import Recon

        from .conftest import settings_for

        factory.heartbeat("worker-1", last_seen_at=datetime.now(timezone.utc))  # workers fine
        recon = Recon(settings_for(db_url, SLACK_WEBHOOK_URL=limited.url + SLACK,
                                   WORKER_DOWN_SECONDS=86400))
        clock = start_clock()
        for n in range(7):  # a storm: messages queued together (notices here), then a P0
            recon.incidents.notify("notice", Message(f"notice {n}"), clock.now())
        plant_ledger_imbalance(factory, db, clock)
        [outcome] = monitor_only(recon, clock).tick()
        assert outcome.status == "succeeded", outcome.error
        assert limited.refused >= 1  # the limit was met ...
        texts = [m["text"] for m in limited.taken]
        assert len(texts) == 8, f"only {len(texts)} of 8 in the pass; the rest held a minute"
        assert " P0 incident " in texts[0]
    finally:
        limited.close()
