"""The Webhooks page as Svix/Stripe-grade tools have it (issue 15): deliveries filtered by
endpoint, status, event type and time; every attempt of a delivery; recover a time range (each
delivery its own retry through the real admin API, each recorded)."""

from __future__ import annotations

import pytest

from sge_recon.context import Recon
from sge_recon.errors import UsageError

from .conftest import settings_for
from .console_support import frame, open_page, texts
from .factories import ago
from .platform_helpers import KEYS
from .test_console_actions import acting_as, actions, api, choose, confirm, console  # noqa: F401


@pytest.fixture
def hooks(factory):
    program = factory.program()
    a, b = factory.endpoint(program["id"]), factory.endpoint(program["id"])
    made = {
        "a_failed": [factory.delivery(a["id"], status="failed", attempt_count=5,
                                      last_error="HTTP 503", created_at=ago(hours=h))
                     for h in (30, 20)],
        "a_retrying": factory.delivery(a["id"], status="retry_scheduled", attempt_count=2,
                                       created_at=ago(hours=10), next_retry_at=ago(minutes=-5),
                                       event_type="payout.executed"),
        "a_old": factory.delivery(a["id"], status="failed", created_at=ago(days=20)),
        "a_ok": factory.delivery(a["id"], status="delivered", created_at=ago(hours=5)),
        "b_failed": factory.delivery(b["id"], status="failed", created_at=ago(hours=12)),
    }
    first = made["a_failed"][0]
    for n, (ok, code, error) in enumerate(((False, 503, "HTTP 503"), (False, None, "timed out"),
                                           (True, 200, None)), start=1):
        factory.insert("webhook_attempts", {
            "delivery_id": first["id"], "endpoint_id": a["id"], "attempt": n, "ok": ok,
            "status_code": code, "error": error, "attempted_at": ago(hours=30 - n)})
    return {"a": a, "b": b, **made}


def test_deliveries_filter_by_endpoint_status_event_and_time(db_url, hooks):
    explorer = Recon(settings_for(db_url)).console.webhooks
    ids = lambda rows: {r["delivery_id"] for r in rows}  # noqa: E731
    a = hooks["a"]["id"]
    assert ids(explorer.deliveries(endpoint_id=a, status="failed")) == \
        {d["id"] for d in hooks["a_failed"]} | {hooks["a_old"]["id"]}
    assert ids(explorer.deliveries(endpoint_id=a, status="failed", since=ago(days=2))) == \
        {d["id"] for d in hooks["a_failed"]}
    assert ids(explorer.deliveries(event_type="payout.executed")) == {hooks["a_retrying"]["id"]}
    assert ids(explorer.deliveries(status="failed", endpoint_id=hooks["b"]["id"])) == \
        {hooks["b_failed"]["id"]}
    choices = explorer.filter_choices()
    assert {a, hooks["b"]["id"]} <= set(choices["endpoints"])
    assert "payout.executed" in choices["event_types"]
    with pytest.raises(UsageError, match="unknown delivery status"):
        explorer.deliveries(status="lost")
    with pytest.raises(UsageError, match="range is empty"):
        explorer.deliveries(since=ago(), until=ago(days=1))
    tries = explorer.attempts(hooks["a_failed"][0]["id"])
    assert [(t["attempt"], t["ok"], t["status_code"]) for t in tries] == \
        [(1, False, 503), (2, False, None), (3, True, 200)]


def test_recover_resends_each_failed_delivery_of_the_range_through_the_api(db_url, db, hooks,
                                                                           api):  # noqa: F811
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))
    acting_as(db_url, ada="operator")
    outcome = recon.console.actions.recover_deliveries("ada", hooks["a"]["id"], ago(days=2),
                                                       ago())
    wanted = {d["id"] for d in hooks["a_failed"]} | {hooks["a_retrying"]["id"]}
    assert outcome.ok and outcome.message == "Re-sent 3 of 3 delivery(ies)."
    logged = {(r["action"], r["target"], r["result"]) for r in actions(db)}
    assert logged == {("retry_webhook", i, "ok") for i in wanted}
    statuses = {r["id"]: r["status"] for r in db.fetch_all(
        "SELECT id, status FROM public.webhook_deliveries")}
    assert all(statuses[i] != "failed" for i in wanted)
    assert statuses[hooks["a_old"]["id"]] == "failed"      # outside the range
    assert statuses[hooks["b_failed"]["id"]] == "failed"   # another endpoint
    with pytest.raises(UsageError, match="nothing to recover"):
        recon.console.actions.recover_deliveries("ada", hooks["b"]["id"], ago(hours=1), ago())


def test_the_page_shows_the_filtered_list_and_a_deliverys_attempts(console, hooks):  # noqa: F811
    at = open_page(console, "webhooks")
    explored = lambda: at.dataframe[1].value  # noqa: E731 (after the failing deliveries)
    assert len(explored()) == 5  # the last 7 days: all but the 20-day-old one
    at.selectbox(key="filter_status").select("failed").run()
    assert set(explored()["status"]) == {"failed"} and len(explored()) == 3
    choose(at, "delivery_choice", hooks["a_failed"][0]["id"])
    tries = frame(at, "attempt", "ok", "status_code", "error")
    assert list(tries["attempt"]) == [1, 2, 3]
    assert "Attempts" in texts(at)


def test_an_endpoint_is_disabled_and_enabled_through_the_api_and_recorded(db_url, db, hooks,
                                                                          api):  # noqa: F811
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))
    acting_as(db_url, ada="operator")
    a = hooks["a"]["id"]
    db.execute("INSERT INTO public.webhook_endpoint_health (endpoint_id, failing_since, "
               "consecutive_failures) VALUES (%s, now() - interval '30 hours', 40)", (a,))
    off = recon.console.actions.disable_endpoint("ada", a)
    assert off.ok and "disabled" in off.message
    assert db.fetch_one("SELECT enabled FROM public.webhook_endpoints WHERE id = %s",
                        (a,))["enabled"] is False
    refused = recon.console.actions.retry_webhook("ada", hooks["a_failed"][0]["id"])
    assert not refused.ok and "disabled" in refused.message  # re-enable first, it says
    again = recon.console.actions.disable_endpoint("ada", a)
    assert not again.ok and again.status_code == 409 and "already disabled" in again.message
    on = recon.console.actions.enable_endpoint("ada", a)
    assert on.ok
    health = db.fetch_one("SELECT failing_since, consecutive_failures FROM "
                          "public.webhook_endpoint_health WHERE endpoint_id = %s", (a,))
    assert (health["failing_since"], health["consecutive_failures"]) == (None, 0)
    assert [(r["action"], r["target"], r["result"]) for r in actions(db)] == [
        ("disable_endpoint", a, "ok"), ("retry_webhook", hooks["a_failed"][0]["id"], "failed"),
        ("disable_endpoint", a, "failed"), ("enable_endpoint", a, "ok")]
    missing = recon.console.actions.enable_endpoint("ada", "ep_none")
    assert missing.status_code == 404
