"""Alert delivery when a channel misbehaves: an invalid URL, an answer that is not HTTP, a receiver
that trickles its answer ("tarpit"), a permanent 4xx, a message waiting out a back-off; and the
delivery id receivers deduplicate on. Real local listeners (tests/http_receiver.py, and a raw TCP
socket for answers that are not HTTP), the real monitor job, ManualClock."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import urllib.parse

import pytest

from sge_recon.alerts import channels as ch
from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.errors import ConfigError

from .conftest import settings_for
from .test_alerts import (DISCORD, SLACK, alerting_recon, monitor_only, plant_ledger_imbalance,
                          plant_queue_depth, receiver, start_clock)  # noqa: F401

SECRET_PATH = "/services/T0/B0/SuperSecretTok"


class RawServer:
    """A TCP listener that reads a request and answers ``answer`` one byte every ``every`` s."""

    def __init__(self, answer: bytes, every: float = 0.0):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.answer, self.every, self.hits = answer, every, 0
        self.closing = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        self.hits += 1
        with conn:
            try:
                conn.recv(65536)
                if not self.every:
                    conn.sendall(self.answer)
                    return
                for byte in self.answer:
                    if self.closing.wait(self.every):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self.closing.set()
        self.sock.close()


@pytest.fixture
def raw():
    servers: list[RawServer] = []

    def make(answer: bytes, every: float = 0.0) -> RawServer:
        servers.append(RawServer(answer, every))
        return servers[-1]
    yield make
    for s in servers:
        s.close()


def slack_rows(recon: Recon) -> list[dict]:
    return [d for d in recon.incidents.deliveries() if d["channel"] == "slack"]


# -- 3: a URL with whitespace -------------------------------------------------------------------
@pytest.mark.parametrize("bad", [" ", "\t", "\n", "\x00", "\x7f"])
def test_a_webhook_url_with_whitespace_or_control_characters_is_refused_without_echoing_it(
        bad):
    url = f"http://127.0.0.1:9{SECRET_PATH}{bad}en"
    with pytest.raises(ConfigError) as refused:
        Settings.load(env={"SLACK_WEBHOOK_URL": url})
    assert str(refused.value).startswith("SLACK_WEBHOOK_URL:")
    assert "SuperSecret" not in str(refused.value)


def test_an_invalid_url_is_one_failed_attempt_that_never_shows_the_path():
    with pytest.raises(ch.DeliveryFailed) as failed:
        ch.post(f"http://127.0.0.1:9{SECRET_PATH} en", {"text": "x"}, timeout=2)
    assert "SuperSecret" not in str(failed.value) and "/services" not in str(failed.value)


# -- 4: an answer that is not HTTP ----------------------------------------------------------------
@pytest.mark.parametrize("answer", [b"HELLO this is not http\r\n\r\n", b"HTTP/1.1 20", b""],
                         ids=["garbage", "truncated", "closed"])
def test_an_answer_that_is_not_http_fails_that_channel_only_and_backs_off(
        db_url, db, factory, receiver, raw, caplog, answer):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    garbage = raw(answer)
    recon = Recon(settings_for(db_url, SLACK_WEBHOOK_URL=garbage.url + SECRET_PATH,
                               DISCORD_WEBHOOK_URL=receiver.base + DISCORD))
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_ledger_imbalance(factory, db, clock)

    [outcome] = sched.tick()
    assert outcome.status == "succeeded", outcome.error
    assert len(receiver.delivered(DISCORD)) == 1  # the other channel still delivers
    [slack] = slack_rows(recon)
    assert (slack["status"], slack["attempts"]) == ("pending", 1)
    assert slack["next_attempt_at"] > clock.now()  # backed off, not hit every minute
    clock.advance(minutes=1)
    sched.tick()
    clock.advance(minutes=1)
    sched.tick()
    assert garbage.hits == 2  # at +0 and +60 s; the next is 120 s after that
    assert "SuperSecret" not in caplog.text
    assert "SuperSecret" not in json.dumps([dict(r) for r in db.fetch_all(
        "SELECT last_error FROM recon.alert_deliveries UNION ALL "
        "SELECT coalesce(error, '') FROM recon.job_runs")])


# -- 5: a tarpit receiver ---------------------------------------------------------------------
def test_one_post_has_an_overall_deadline_not_a_per_read_timeout(raw):
    tarpit = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", every=0.3)
    started = time.monotonic()
    with pytest.raises(ch.DeliveryFailed, match="within 1.5 s"):
        ch.post(tarpit.url + SECRET_PATH, {"text": "x"}, timeout=1.5)
    assert time.monotonic() - started < 3  # each byte came well within a read timeout


def test_a_tarpit_channel_never_holds_the_monitor_or_the_other_channels(
        db_url, db, factory, receiver, raw):  # noqa: F811
    tarpit = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" * 10, every=1.0)
    recon = Recon(settings_for(db_url, SLACK_WEBHOOK_URL=tarpit.url + SECRET_PATH,
                               DISCORD_WEBHOOK_URL=receiver.base + DISCORD))
    clock = start_clock()
    plant_ledger_imbalance(factory, db, clock)
    started = time.monotonic()
    [outcome] = monitor_only(recon, clock).tick()
    assert outcome.status == "succeeded" and time.monotonic() - started < 20
    assert len(receiver.delivered(DISCORD)) == 1
    [slack] = slack_rows(recon)
    assert slack["status"] == "pending" and "within 5 s" in slack["last_error"]


# -- 6: permanent 4xx, and back-off never blocking other messages ----------------------------------
@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413])
def test_a_permanent_4xx_gives_that_message_up_and_a_later_p0_still_goes_out(
        db_url, db, factory, receiver, status):  # noqa: F811
    from sge_recon.metrics import MetricsServer, ReconCollector
    from sge_recon.scheduling import ManualClock

    from .test_metrics import scrape

    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_queue_depth(factory, db, clock)
    receiver.fail_next[SLACK], receiver.fail_status = 1, status
    sched.tick()
    [p2] = slack_rows(recon)
    assert (p2["status"], p2["attempts"]) == ("failed", 1)
    assert p2["last_error"].startswith(f"HTTP {status}") and "permanent" in p2["last_error"]

    clock.advance(minutes=2)
    plant_ledger_imbalance(factory, db, clock)
    sched.tick()
    slack = receiver.delivered(SLACK)
    assert len(slack) == 1 and " P0 incident " in slack[0]["text"]  # at once
    clock.advance(minutes=5)
    sched.tick()
    assert len([p for p in receiver.posts if p["path"] == SLACK]) == 2  # the 4xx: never again

    collector = ReconCollector(recon.settings, recon.databases, ttl=0, clock=ManualClock(clock.now()))
    srv = MetricsServer(collector, port=0).start()
    try:
        m = scrape(srv.url)
    finally:
        srv.stop()
    counted = m["sge_alert_deliveries_total"]
    assert counted[(("channel", "slack"), ("status", "failed"))] == 1.0
    assert counted[(("channel", "slack"), ("status", "sent"))] == 1.0


def test_a_message_waiting_out_a_back_off_does_not_hold_back_other_incidents(
        db_url, db, factory, receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_ledger_imbalance(factory, db, clock)
    receiver.fail_next[SLACK] = 2  # the P0's opening: 500, then 500 again at +1 min
    sched.tick()
    clock.advance(minutes=1)
    plant_queue_depth(factory, db, clock)
    sched.tick()  # the P0 retried first and failed again: the channel rests for this pass
    assert receiver.delivered(SLACK) == []
    clock.advance(minutes=1)
    sched.tick()  # the P0 waits until +3 min; the P2 does not wait behind it
    [p2] = receiver.delivered(SLACK)
    assert " P2 incident " in p2["text"]
    clock.advance(minutes=2)
    sched.tick()
    assert [" P0 incident " in s["text"] for s in receiver.delivered(SLACK)] == [False, True]


def test_an_incidents_resolution_never_overtakes_its_opening(db_url, db, factory,
                                                             receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    fix = plant_ledger_imbalance(factory, db, clock)
    receiver.fail_next[SLACK] = 2
    sched.tick()  # opening: 500 (retry at +1 min)
    fix()
    clock.advance(minutes=1)
    sched.tick()  # resolved; the opening fails again (retry at +3 min): the resolve waits
    assert receiver.delivered(SLACK) == []
    clock.advance(minutes=2)
    sched.tick()
    assert [s["text"].startswith("Resolved:") for s in receiver.delivered(SLACK)] == [False, True]


# -- 7: a delivery id to deduplicate on ----------------------------------------------------------
def test_every_attempt_of_a_message_carries_the_same_delivery_id(db_url, db, factory,
                                                                 receiver):  # noqa: F811
    from .test_alert_channels import HOOK_PATH, WEBHOOK_SECRET

    recon = alerting_recon(db_url, receiver, ALERT_WEBHOOK_URL=receiver.base + HOOK_PATH,
                           ALERT_WEBHOOK_SECRET=WEBHOOK_SECRET)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_ledger_imbalance(factory, db, clock)
    receiver.fail_next[HOOK_PATH] = 1
    sched.tick()
    clock.advance(minutes=1)
    sched.tick()
    hook = [p for p in receiver.posts if p["path"] == HOOK_PATH]
    [row] = [d for d in recon.incidents.deliveries() if d["channel"] == "webhook"]
    assert [p["status"] for p in hook] == [500, 200]
    assert [p["json"]["delivery_id"] for p in hook] == [row["id"], row["id"]]
    assert [p["headers"]["X-SGE-Delivery"] for p in hook] == [str(row["id"])] * 2
    assert "delivery_id" not in row["payload"]  # added at send time, inside the signed body
    [slack] = [p for p in receiver.posts if p["path"] == SLACK]
    [slack_row] = slack_rows(recon)
    assert slack["headers"]["X-SGE-Delivery"] == str(slack_row["id"])
    assert "delivery_id" not in slack["json"]  # Slack's own format is left as it is


# -- 8: an answer that quotes the URL or the key, cut where the error is shortened ---------------
DISCORD_TOKEN = "Zq3" + "x7Kd9pLw2Vb8Nc4Mf6Gh1Jt5Rs0Ye" * 2 + "Q9"  # a long token, like Discord's


def echo_receiver(answer):
    """A real HTTP listener answering 404 with ``answer(path, body)``, as web frameworks do
    (Express: ``<pre>Cannot POST /the/path</pre>``; an API gateway echoing the event)."""
    from http.server import BaseHTTPRequestHandler

    from .http_receiver import _Server

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = answer(self.path, self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def express_404(path: str, body: bytes) -> bytes:
    return (b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error'
            b'</title>\n</head>\n<body>\n<pre>Cannot POST ' + path.encode() + b'</pre>\n</body>\n'
            b'</html>\n')


def gateway_echo(path: str, body: bytes) -> bytes:
    return (b'{"status":"invalid event","message":"Event object is invalid","errors":["\'payload.'
            b'summary\' is missing or blank","\'payload.source\' is missing or blank"],'
            b'"received":' + body)


@pytest.mark.parametrize("case", ["url_path", "routing_key"])
def test_an_answer_quoting_a_secret_never_shows_part_of_it_where_it_is_cut(case):
    key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32"
    server = echo_receiver(express_404 if case == "url_path" else gateway_echo)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        if case == "url_path":  # a Discord webhook URL: /api/webhooks/<id>/<token>
            secret, url = DISCORD_TOKEN, f"{base}/api/webhooks/112233445566778899/{DISCORD_TOKEN}"
            payload = json.dumps({"content": "x"}).encode()
        else:  # the routing key, where pagerduty_seal puts it: first in the event
            secret, url = key, base + "/v2/enqueue"
            payload = json.dumps({"routing_key": key, "event_action": "trigger"}).encode()
        with pytest.raises(ch.DeliveryFailed) as failed:
            ch.post(url, payload, timeout=5, secrets=[key])
    finally:
        server.shutdown()
        server.server_close()
    shown = str(failed.value)
    assert shown.startswith("HTTP 404") and "permanent" in shown
    leaked = [secret[:n] for n in range(6, len(secret) + 1) if secret[:n] in shown]
    assert not leaked, f"{len(leaked[-1])} of the secret's {len(secret)} characters shown: {shown}"


def test_a_receiver_refusing_the_token_in_the_urls_query_never_shows_it():
    """A webhook whose secret is a query value (``?token=…``, Azure's ``?code=…``) refused
    with "unknown token <value>": the failure (recon.alert_deliveries.last_error, the
    scheduler's log) shows neither the value nor its percent-decoded form."""
    token = "tOk3n-Q9+value/7f2c=="
    quoted = "tOk3n-Q9%2Bvalue%2F7f2c%3D%3D"

    def refuse(path: str, body: bytes) -> bytes:
        given = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        return json.dumps({"error": "unknown token", "token": given["token"],
                           "as_sent": path.partition("token=")[2]}).encode()

    server = echo_receiver(refuse)
    try:
        with pytest.raises(ch.DeliveryFailed) as failed:
            ch.post(f"http://127.0.0.1:{server.server_address[1]}/hook?team=ops&token={quoted}",
                    {"text": "x"}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    shown = str(failed.value)
    assert shown.startswith("HTTP 404") and "unknown token" in shown
    assert token not in shown and quoted not in shown and "value" not in shown, shown


def test_a_webhook_url_with_user_and_password_logs_in_and_never_shows_them():
    """https://user:password@host/… (a receiver behind HTTP Basic auth): the credentials go as
    an Authorization header, as curl sends them (http.client dropped them: every alert was
    refused with a 401 and given up), and a refusal quoting them shows neither the password
    nor the header's base64."""
    from http.server import BaseHTTPRequestHandler

    from .http_receiver import _Server

    expected = "Basic " + base64.b64encode(b"alerts:s3cret pw").decode()
    seen: list[str | None] = []

    class Guarded(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            given = self.headers.get("Authorization")
            seen.append(given)
            body = b"" if given == expected else f"bad credentials: {given}".encode()
            self.send_response(204 if given == expected else 401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Guarded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"127.0.0.1:{server.server_address[1]}"
    try:
        ch.post(f"http://alerts:s3cret%20pw@{base}/hook", {"text": "x"}, timeout=5)
        with pytest.raises(ch.DeliveryFailed) as failed:
            ch.post(f"http://alerts:wr0ng-pw-Q7@{base}/hook", {"text": "x"}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert seen[0] == expected
    shown = str(failed.value)
    wrong = base64.b64encode(b"alerts:wr0ng-pw-Q7").decode()
    assert shown.startswith("HTTP 401") and "wr0ng" not in shown and wrong not in shown, shown


def test_a_receivers_answer_cannot_forge_log_lines_or_terminal_escapes():
    forged = (b"bad request\n2026-11-27 08:00:00 ERROR sge_recon: ledger_balance passed, all "
              b"incidents resolved\r\n\x1b[2J")
    server = echo_receiver(lambda path, body: forged)
    try:
        with pytest.raises(ch.DeliveryFailed) as failed:
            ch.post(f"http://127.0.0.1:{server.server_address[1]}/hook", {"text": "x"}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    shown = str(failed.value)
    assert shown.startswith("HTTP 404: bad request 2026-11-27 08:00:00 ERROR")  # one line
    assert not any(c in shown for c in "\n\r\x1b"), repr(shown)


def test_a_secret_cut_where_the_answer_is_read_no_further_is_hidden_too():
    key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32"
    from sge_recon.alerts import transport

    filler = b"x" * (transport.ANSWER_BYTES - 20)
    server = echo_receiver(lambda path, body: filler + b" " + body)
    try:
        with pytest.raises(ch.DeliveryFailed) as failed:
            ch.post(f"http://127.0.0.1:{server.server_address[1]}/v2/enqueue",
                    json.dumps({"routing_key": key}).encode(), timeout=5, secrets=[key])
    finally:
        server.shutdown()
        server.server_close()
    assert transport._scrub_tail("abc " + key[:10], [key]) == "abc ****"
    assert "R0UT1" not in str(failed.value)
