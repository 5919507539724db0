"""The admin API client against the real API over HTTP: typed results for every endpoint, refusals
as results (never exceptions), "API down" as a clear failure, and keys never shown."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from sge_recon.admin_client import AdminClient, AdminResult
from sge_recon.context import Recon
from sge_recon.db import Database

from .conftest import settings_for
from .factories import PlatformFactory, ago
from .platform_helpers import ADMIN_KEY, APPROVER_1, APPROVER_2, KEYS, payable_batch, running_api


@pytest.fixture(scope="module")
def make(module_db_url) -> PlatformFactory:
    return PlatformFactory(Database(module_db_url))


@pytest.fixture(scope="module")
def base_url(module_db_url):
    with running_api(module_db_url) as url:
        yield url


@pytest.fixture
def client(base_url):
    with AdminClient(base_url, admin_key=ADMIN_KEY,
                     approver_keys={1: APPROVER_1, 2: APPROVER_2}) as c:
        yield c


def no_secrets(result: AdminResult) -> None:
    text = str(result.to_json()) + result.message + repr(result)
    for key in (ADMIN_KEY, APPROVER_1, APPROVER_2):
        assert key not in text


def test_health_and_queue(client):
    health = client.health()
    assert health.ok and health.status_code == 200 and health.data["db"] == "ok"
    status = client.queue_status()
    assert status.ok and "Queue settlement is" in status.message
    paused = client.pause_queue()
    assert paused.ok and paused.data["paused"] is True and "paused" in paused.message
    resumed = client.resume_queue()
    assert resumed.ok and resumed.data["paused"] is False
    for r in (health, status, paused, resumed):
        no_secrets(r)


def test_a_refusal_is_a_result_with_the_api_sentence(client):
    r = client.retry_intent("int_nobody")
    assert (r.ok, r.status_code, r.reachable) == (False, 404, True)
    assert "does not exist" in r.error
    assert r.message.startswith("Retry of intent int_nobody refused (HTTP 404): ")
    no_secrets(r)


def test_the_payout_flow(client, make):
    setup = payable_batch(make, affiliates=2, per_affiliate=1)
    batch_id = setup["batch"]["id"]
    first = client.approve_batch(batch_id, 1)
    assert first.ok and first.data["status"] == "pending_approval"
    again = client.approve_batch(batch_id, 1)
    assert again.status_code == 409 and "already approved" in again.error
    second = client.approve_batch(batch_id, 2)
    assert second.ok and second.data["status"] == "approved"
    done = client.execute_batch(batch_id)
    assert done.ok and done.data["totalPaid"] == "3.000000"
    assert "executed" in done.message
    twice = client.execute_batch(batch_id)
    assert twice.status_code == 409 and not twice.ok


def test_an_explicit_approver_key_typed_in_the_console(base_url, make):
    batch_id = payable_batch(make)["batch"]["id"]
    with AdminClient(base_url) as anonymous:
        r = anonymous.approve_batch(batch_id, key=APPROVER_2)
    assert r.ok and [a.split("@")[0] for a in r.data["approvers"]] == ["approver_2"]


def test_reconcile_retry_webhook_and_correction(client, make):
    program = make.program()
    user = make.user(program["id"])
    stuck = make.intent(program["id"], user["id"], status="verifying",
                        status_changed_at=ago(minutes=20))
    endpoint = make.endpoint(program["id"])
    delivery = make.delivery(endpoint["id"], status="failed", attempt_count=5)
    assert client.force_reconcile(program["id"]).data["status"] == "pass"
    retry = client.retry_intent(stuck["id"])
    assert retry.ok and retry.data["created"] is True
    hook = client.retry_webhook(delivery["id"])
    assert hook.ok and hook.data["status"] == "retry_scheduled"
    fix = client.ledger_correction(program["id"], "move a cent", [
        {"account": "treasury", "type": "debit", "amount": Decimal("0.01"), "currency": "USD"},
        {"account": f"user:{user['id']}", "type": "credit", "amount": "0.01", "currency": "USD"}])
    assert fix.ok and fix.data["transactionId"].startswith("corr_")
    bad = client.ledger_correction(program["id"], "off", [
        {"account": "treasury", "type": "debit", "amount": "1", "currency": "USD"},
        {"account": "x", "type": "credit", "amount": "2", "currency": "USD"}])
    assert bad.status_code == 422 and "does not balance" in bad.error


def test_ids_cannot_escape_their_path_segment(client):
    r = client.retry_webhook("../queue/pause")
    assert r.status_code in (404, 422) and not r.ok


def test_a_wrong_key_is_a_401_result(base_url):
    with AdminClient(base_url, admin_key="wrong-key-123456") as c:
        r = c.pause_queue()
    assert (r.ok, r.status_code) == (False, 401) and "not valid" in r.error


def test_a_missing_key_is_a_clear_result_without_a_request(base_url):
    with AdminClient(base_url) as c:
        r = c.execute_batch("batch_1")
    assert (r.ok, r.status_code) == (False, None)
    assert "ADMIN_API_KEY" in r.error


def test_api_down_is_a_clear_failure_not_an_exception():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}"
    with AdminClient(url, admin_key=ADMIN_KEY, timeout=5) as c:
        results = [c.health(), c.queue_status(), c.pause_queue(), c.execute_batch("b")]
    for r in results:
        assert (r.ok, r.status_code, r.reachable) == (False, None, False)
        assert f"admin API unreachable at {url}" in r.message
        no_secrets(r)


def test_recon_hands_out_a_client_from_the_settings(module_db_url, base_url):
    recon = Recon(settings_for(module_db_url, SGE_ADMIN_API_URL=base_url, **KEYS))
    assert recon.admin.queue_status().ok
    assert recon.admin.approve_batch("batch_missing", 2).status_code == 404


class OddAnswers:
    """A real HTTP server on 127.0.0.1 that answers every request with one chosen (status,
    content type, body): what a confused API or a sign-in proxy in front of it sends."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.answer = (200, "application/json", b"{}")
        self.paths: list[str] = []  # the request paths, as they arrived
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.paths.append(self.path)
                status, kind, body = server.answer
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = _reply  # noqa: N815 - http.server's naming

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.mark.parametrize("answer, words", [
    ((200, "application/json", b'{"error": "Approver must be different"}'),
     "with an error: Approver must be different"),
    ((200, "application/json", b'{"success": false, "error": ""}'), "success: false"),
    ((200, "text/html", b"<html>Session expired, sign in</html>"), "not with JSON"),
    ((200, "application/json", b""), "not with JSON"),
    ((202, "text/plain", b"accepted"), "not with JSON"),
], ids=["error-body", "success-false", "html", "empty", "202-text"])
def test_a_2xx_that_does_not_say_done_is_not_done_in_either_dialect(answer, words):
    from sge_recon.sge_admin_client import SgeAdminClient

    odd = OddAnswers()
    odd.answer = answer
    try:
        with AdminClient(odd.url, admin_key=ADMIN_KEY) as ours, \
                SgeAdminClient(odd.url, operator="alice") as sge:
            for result in (ours.execute_batch("batch_1"), sge.approve_batch("batch_1"),
                           sge.execute_batch("batch_1")):
                assert not result.ok and result.maybe_done, result
                assert words in result.error and "check the platform" in result.error
                assert "done." not in result.message
    finally:
        odd.http.shutdown()


def test_an_operator_name_http_cannot_carry_is_refused_in_words():
    from sge_recon.sge_admin_client import SgeAdminClient

    odd = OddAnswers()
    try:
        for name in ("José Núñez", "李雷", "bob\x00"):
            with SgeAdminClient(odd.url, operator=name) as sge:
                result = sge.approve_batch("batch_1")
            assert not result.ok and result.status_code is None
            assert "X-Admin-Id" in result.error and "printable ASCII" in result.error
    finally:
        odd.http.shutdown()


@pytest.mark.parametrize("batch_id", [".", "..", "%2e%2E"])
def test_a_dot_id_stays_in_its_path_segment_in_either_dialect(batch_id):
    """A batch id '.' or '..' is a dot segment: sent as it is, the HTTP client removes it and the
    approval goes to /api/v2/payouts/approve (or /payouts/batch/approve), whose 200 read as this
    batch approved. Encoded, it reaches the batch's own endpoint (which finds no such batch)."""
    from urllib.parse import unquote

    from sge_recon.sge_admin_client import SgeAdminClient

    odd = OddAnswers()
    odd.answer = (200, "application/json", b'{"batch": {"status": "APPROVED"}}')
    try:
        with AdminClient(odd.url, admin_key=ADMIN_KEY) as ours, \
                SgeAdminClient(odd.url, operator="finance:bob") as sge:
            ours.approve_batch(batch_id, key="x" * 20)
            sge.approve_batch(batch_id)
            sge.execute_batch(batch_id)
        ids = [unquote(p.split("/")[-2]) for p in odd.paths]
        assert [p.split("/")[:-2] for p in odd.paths] == [
            ["", "admin", "payouts", "batch"], *[["", "api", "v2", "payouts", "batch"]] * 2]
        assert ids == [batch_id] * 3
    finally:
        odd.http.shutdown()


@pytest.mark.parametrize("body, words", [
    (b'{"balanced": false, "unbalancedJournals": 3, "stuckIntents": 2}',
     "ledger NOT balanced; 3 unbalanced journal(s); 2 stuck intent(s)."),
    (b'{"balanced": false, "unbalancedJournals": {"j1": "5.00"}, "stuckIntents": null}',
     "ledger NOT balanced; 1 unbalanced journal(s); an unknown number of stuck intent(s)."),
    (b'{"balanced": "no", "unbalancedJournals": "many", "stuckIntents": [1]}',
     "ledger NOT balanced; an unknown number of unbalanced journal(s); 1 stuck intent(s)."),
], ids=["counts", "object-null", "odd-types"])
def test_an_sge_reconcile_answer_of_odd_shape_is_described_not_raised(body, words):
    """SGE's reconcile answer is the platform's JSON: a count where a list was expected (or a
    string, an object, null) is described as well as it can be, never a TypeError in the page,
    and only a JSON true is 'balanced'."""
    from sge_recon.sge_admin_client import SgeAdminClient

    odd = OddAnswers()
    odd.answer = (200, "application/json", body)
    try:
        with SgeAdminClient(odd.url) as sge:
            result = sge.force_reconcile("prog_1")
        assert result.ok and result.message == f"Reconcile of program prog_1: {words}"
    finally:
        odd.http.shutdown()


def test_an_api_quoting_the_key_it_refused_never_shows_or_stores_it(db_url, factory):
    """An admin API or a gateway in front of it that quotes the credentials it refuses ("invalid
    credentials Bearer …", a validation error's "input"): the key reaches neither the result the
    console shows nor recon.action_log (which the monthly export hands to auditors)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler

    from .http_receiver import _Server
    from .test_console_actions import acting_as

    class Quoting(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            given = self.headers.get("Authorization", "")
            body = json.dumps({"error": f"invalid credentials {given}", "detail": [
                {"loc": ["header", "authorization"], "input": given.split(" ")[-1]}]}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Quoting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=base, **KEYS))
        acting_as(db_url, root="admin", amy="approver1")
        batch = payable_batch(factory)["batch"]["id"]
        outcomes = [recon.console.actions.approve_batch("amy", batch, APPROVER_1, slot=1),
                    recon.console.actions.execute_batch("root", batch)]
    finally:
        server.shutdown()
        server.server_close()
    assert [o.status_code for o in outcomes] == [401, 401]
    assert all("invalid credentials ****" in o.message for o in outcomes), outcomes
    logged = recon.db.fetch_all("SELECT error, response::text AS response FROM recon.action_log")
    assert len(logged) == 2 and all("****" in row["response"] for row in logged), logged
    shown = repr(outcomes) + repr(logged)
    assert ADMIN_KEY not in shown and APPROVER_1 not in shown, shown


@pytest.mark.parametrize("key, words", [
    ("approver-key-1-0123456789\n", "contains a line break"),
    ("approver-key-1\r\n0123456789", "contains a line break"),
    ("approver-key-1\t0123456789", "contains a control character"),
], ids=["trailing-newline", "crlf-inside", "tab"])
def test_an_approver_key_http_cannot_carry_is_named_not_taken_for_an_unreachable_api(key, words):
    """Audit "small" item 4: a PAYOUT_APPROVER_1 with a line break (a key copied from a file) was
    reported as 'admin API unreachable', and as maybe done, though the API was up and nothing was
    sent; it says what is wrong with which key, without showing it."""
    api = OddAnswers()
    with AdminClient(api.url, admin_key="admin-key-0123456789", approver_keys={1: key}) as c:
        r = c.approve_batch("batch_1", 1)
    assert (r.ok, r.status_code, r.maybe_done) == (False, None, False)
    assert words in r.error and "PAYOUT_APPROVER_1" in r.error, r.error
    assert "unreachable" not in r.message
    assert "0123456789" not in r.message + str(r.to_json())  # the key is never shown
    assert api.paths == []  # nothing was sent
    with AdminClient(api.url, admin_key="admin-key-0123456789", approver_keys={1: key}) as c:
        assert c.health().ok  # the API itself answers
