"""The webhook dispatcher against a real local HTTP receiver, on an injected clock: signatures,
the 0/+1/+5/+15/+60 min schedule, `failed` after five attempts, endpoints disabled after 24 h of
failures, and the admin API's manual retry leading to an immediate attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest

from refplatform.dispatcher import WebhookDispatcher
from refplatform.schedules import ManualClock, utc_now

from .http_receiver import Receiver
from .platform_helpers import ADMIN, running_api


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def clock():
    # A little ahead of the database's now(), so rows created by the factory are already due.
    return ManualClock(utc_now() + timedelta(seconds=5))


@pytest.fixture
def dispatcher(db_url, clock):
    d = WebhookDispatcher(db_url, clock=clock, timeout=5)
    yield d
    d.close()


@pytest.fixture
def program(factory):
    return factory.program()


def delivery_row(db, delivery_id):
    return db.fetch_one("SELECT * FROM public.webhook_deliveries WHERE id = %s", (delivery_id,))


def test_a_delivery_is_posted_signed_and_marked_delivered(factory, db, receiver, dispatcher,
                                                          program, clock):
    endpoint = factory.endpoint(program["id"], url=f"{receiver.url}/hook", secret="s3cret")
    payload = {"event": "settlement.completed", "amount": "12.500000", "intentId": "int_1"}
    d = factory.delivery(endpoint["id"], status="pending", attempt_count=0, payload=payload)
    assert dispatcher.run_due() == 1
    [req] = receiver.requests
    expected = hmac.new(b"s3cret", req["body"], hashlib.sha256).hexdigest()
    assert req["headers"]["X-SGE-Signature"] == f"sha256={expected}"
    assert json.loads(req["body"]) == payload
    assert req["headers"]["X-SGE-Delivery"] == d["id"]
    assert req["headers"]["X-SGE-Event"] == "settlement.completed"
    row = delivery_row(db, d["id"])
    assert (row["status"], row["attempt_count"], row["last_error"]) == ("delivered", 1, None)
    assert row["last_attempt_at"] == clock()


def test_the_retry_schedule_then_failed(factory, db, receiver, dispatcher, program, clock):
    receiver.codes["/down"] = 500
    endpoint = factory.endpoint(program["id"], url=f"{receiver.url}/down", secret="k")
    d = factory.delivery(endpoint["id"], status="pending", attempt_count=0)
    start = clock()
    attempt_times = []
    for _ in range(5):
        assert dispatcher.run_due() == 1
        attempt_times.append(clock() - start)
        row = delivery_row(db, d["id"])
        assert dispatcher.run_due() == 0  # nothing is due before next_retry_at
        if row["next_retry_at"] is not None:
            clock.now = row["next_retry_at"]
    assert attempt_times == [timedelta(0), timedelta(minutes=1), timedelta(minutes=6),
                             timedelta(minutes=21), timedelta(minutes=81)]
    row = delivery_row(db, d["id"])
    assert (row["status"], row["attempt_count"], row["next_retry_at"]) == ("failed", 5, None)
    assert row["last_error"] == "endpoint answered HTTP 500"
    assert len(receiver.requests) == 5
    clock.advance(hours=5)
    assert dispatcher.run_due() == 0  # gave up
    attempts = db.fetch_all("SELECT attempt, ok, status_code FROM public.webhook_attempts"
                            " WHERE delivery_id = %s ORDER BY attempt", (d["id"],))
    assert [(a["attempt"], a["ok"], a["status_code"]) for a in attempts] == \
        [(n, False, 500) for n in range(1, 6)]


def test_an_endpoint_failing_for_24_hours_is_disabled(factory, db, receiver, dispatcher,
                                                      program, clock):
    receiver.codes["/down"] = 503
    endpoint = factory.endpoint(program["id"], url=f"{receiver.url}/down", secret="k")
    factory.delivery(endpoint["id"], status="pending", attempt_count=0)
    dispatcher.run_due()
    clock.advance(hours=23, minutes=59)
    factory.delivery(endpoint["id"], status="pending", attempt_count=0,
                     next_retry_at=clock())
    dispatcher.run_due()
    assert db.fetch_one("SELECT enabled FROM public.webhook_endpoints WHERE id = %s",
                        (endpoint["id"],))["enabled"] is True
    clock.advance(minutes=1)
    late = factory.delivery(endpoint["id"], status="pending", attempt_count=0,
                            next_retry_at=clock())
    dispatcher.run_due()
    ep = db.fetch_one("SELECT enabled, disabled_at FROM public.webhook_endpoints WHERE id = %s",
                      (endpoint["id"],))
    assert ep["enabled"] is False and ep["disabled_at"] == clock()
    assert dispatcher.stats.endpoints_disabled == 1
    # Nothing more is sent to a disabled endpoint.
    sent = len(receiver.requests)
    clock.advance(hours=2)
    assert dispatcher.run_due() == 0 and len(receiver.requests) == sent
    assert delivery_row(db, late["id"])["status"] in ("pending", "retry_scheduled")


def test_a_success_resets_the_failing_streak(factory, db, receiver, dispatcher, program, clock):
    receiver.codes["/flaky"] = 500
    endpoint = factory.endpoint(program["id"], url=f"{receiver.url}/flaky", secret="k")
    d = factory.delivery(endpoint["id"], status="pending", attempt_count=0)
    dispatcher.run_due()
    receiver.codes["/flaky"] = 200
    clock.advance(minutes=1)
    dispatcher.run_due()
    assert delivery_row(db, d["id"])["status"] == "delivered"
    health = db.fetch_one("SELECT failing_since, consecutive_failures FROM"
                          " public.webhook_endpoint_health WHERE endpoint_id = %s", (endpoint["id"],))
    assert health == {"failing_since": None, "consecutive_failures": 0}


def test_an_unreachable_endpoint_error_never_shows_its_url(factory, db, dispatcher, program):
    endpoint = factory.endpoint(program["id"], url="http://127.0.0.1:9/secret-token-path",
                                secret="k")
    d = factory.delivery(endpoint["id"], status="pending", attempt_count=0)
    dispatcher.run_due()
    row = delivery_row(db, d["id"])
    assert row["status"] == "retry_scheduled"
    assert "could not reach the endpoint" in row["last_error"]
    assert "secret-token-path" not in row["last_error"] and "127.0.0.1" not in row["last_error"]


def test_a_manual_retry_through_the_api_is_attempted_at_once(factory, db, db_url, receiver,
                                                            dispatcher, program, clock):
    receiver.codes["/hook"] = 500
    endpoint = factory.endpoint(program["id"], url=f"{receiver.url}/hook", secret="k")
    d = factory.delivery(endpoint["id"], status="pending", attempt_count=0)
    for _ in range(5):
        dispatcher.run_due()
        row = delivery_row(db, d["id"])
        if row["next_retry_at"]:
            clock.now = row["next_retry_at"]
    assert delivery_row(db, d["id"])["status"] == "failed"
    receiver.codes["/hook"] = 204  # the endpoint is fixed
    with running_api(db_url, clock=clock) as url:
        r = httpx.post(f"{url}/admin/webhooks/{d['id']}/retry", headers=ADMIN, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "retry_scheduled"
    assert dispatcher.run_due() == 1  # no waiting: due now
    row = delivery_row(db, d["id"])
    assert (row["status"], row["attempt_count"]) == ("delivered", 6)


def test_many_due_deliveries_are_posted_in_parallel_batches(factory, db, receiver, dispatcher,
                                                           program):
    endpoint = factory.endpoint(program["id"], url=f"{receiver.url}/hook", secret="k")
    ids = [factory.delivery(endpoint["id"], status="pending", attempt_count=0,
                            payload={"n": n})["id"] for n in range(40)]
    assert dispatcher.run_due() == 40
    assert len(receiver.requests) == 40
    for req in receiver.requests:
        expected = hmac.new(b"k", req["body"], hashlib.sha256).hexdigest()
        assert req["headers"]["X-SGE-Signature"] == f"sha256={expected}"
    statuses = db.fetch_all("SELECT DISTINCT status FROM public.webhook_deliveries"
                            " WHERE id = ANY(%s)", (ids,))
    assert statuses == [{"status": "delivered"}]
