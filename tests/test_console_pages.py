"""Every console page rendered by AppTest against the real test database and admin API: the main
elements are there, the troubles of the test platform show, and nothing raises."""

from __future__ import annotations

import pytest

from sge_recon.context import Recon

from .conftest import settings_for
from .console_support import PAGES, app, console_env, frame, open_page, texts, troubled_platform
from .factories import PlatformFactory
from .platform_helpers import running_api
from sge_recon.db import Database


@pytest.fixture(scope="module")
def platform(module_db_url):
    facts = troubled_platform(PlatformFactory(Database(module_db_url)))
    Recon(settings_for(module_db_url)).checks.run(trigger="test")
    with running_api(module_db_url) as api_url:
        yield {"db_url": module_db_url, "api_url": api_url, **facts}


@pytest.fixture
def at(platform, monkeypatch, tmp_path):
    console_env(monkeypatch, platform["db_url"], platform["api_url"], tmp_path)
    return app()


def test_overview_shows_the_four_lights_the_alerts_and_the_last_run(at, platform):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [m.label for m in at.metric]
    for name in ("Ledger status", "Worker status", "Queue depth", "Average processing time",
                 "Stuck intents", "Ledger imbalances", "Pending payout batches",
                 "Webhook failures"):
        assert any(name in label for label in labels), (name, labels)
    shown = texts(at)
    assert ":red-badge[FAIL] Ledger status" in shown          # the unbalanced transaction
    assert ":orange-badge[WARN] Worker status degraded" in shown  # one worker silent, one alive
    assert "Money at stake: **250.00 USD**" in shown  # the stuck intent, with its currency
    assert "Last reconciliation run" in shown and "fail" in shown
    assert "Open incidents: 1 P0" in shown
    assert f"- **P0** #{platform['incident_id']} Ledger imbalance in prog_console USD" in shown


def test_ledger_shows_balances_the_imbalance_and_its_transaction(at, platform):
    open_page(at, "ledger")
    shown = texts(at)
    assert "Balances per program and currency" in shown
    assert "1 program/currency pair(s) do not balance." in shown
    assert "ledger_balance" in shown and "transaction_balance" in shown
    txns = frame(at, "transaction_id", "difference")
    bad = platform["bad_txn"]
    assert list(txns["transaction_id"]) == [f"/ledger?transaction={bad}#{bad}"]
    at.text_input(key="txn_id").input(platform["bad_txn"]).run()
    assert at.query_params["transaction"] in (platform["bad_txn"], [platform["bad_txn"]])
    entries = frame(at, "account", "type", "amount", "created_at")
    assert sorted(entries["type"]) == ["credit", "debit"]
    assert "Does not balance: debits − credits = 0.01 USD" in texts(at)
    assert at.button(key="force_reconcile") is not None
    assert "only an admin account posts ledger corrections" in texts(at)  # ada is an operator


def test_intents_lists_the_stuck_one_and_finds_an_intent_by_id(at, platform):
    open_page(at, "intents")
    stuck = frame(at, "intent_id", "stuck_minutes")
    intent_id = platform["stuck"]["id"]
    assert list(stuck["intent_id"]) == [f"/intents?id={intent_id}#{intent_id}"]  # a link
    assert stuck["stuck_minutes"].iloc[0] >= 39
    assert "money at stake **250.00 USD**" in texts(at)
    at.text_input(key="intent_search").input(platform["stuck"]["id"]).run()
    assert "processing" in texts(at)
    assert len(frame(at, "run_at", "started_at")) == 3
    at.text_input(key="intent_search").input("no-such-intent").run()
    assert "No intent with id 'no-such-intent'." in texts(at)


def test_payouts_shows_the_sla_clock_and_approval_state(at, platform):
    open_page(at, "payouts")
    batches = frame(at, "batch_id", "approvals")
    batch_id = platform["batch"]["id"]
    row = batches[batches["batch_id"] == f"/payouts?id={batch_id}#{batch_id}"].iloc[0]
    assert row["approvals"] == "0 of 2" and row["sla_left_hours"] < 0
    assert "past the 24 h SLA" in texts(at)
    assert "Waiting to be paid: **42.00 USD**" in texts(at)
    assert row["currency"] == "USD" and row["total_amount"] == "42.00"
    assert "approver_key" not in [t.key for t in at.text_input]  # nobody types a key


def test_webhooks_shows_the_exhausted_delivery_and_endpoint_health(at, platform):
    open_page(at, "webhooks")
    failing = frame(at, "delivery_id", "next_retry_at")
    delivery_id = platform["delivery"]["id"]
    assert list(failing["delivery_id"]) == [f"/webhooks?id={delivery_id}#{delivery_id}"]
    assert failing["attempt_count"].iloc[0] == 5
    assert "HTTP 500 from endpoint" in failing["last_error"].iloc[0]
    health = frame(at, "endpoint_id", "consecutive_failures")
    assert health["consecutive_failures"].iloc[0] == 5


def test_queue_shows_depth_workers_and_the_pause_button(at, platform):
    open_page(at, "queue")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Waiting"] == "3"
    workers = frame(at, "worker_id", "silent_seconds")
    assert sorted(workers["worker_id"]) == ["worker-live", "worker-silent"]
    assert at.button(key="pause_queue") is not None


def test_trends_draws_its_charts_and_the_commission_spot_check(at, platform):
    open_page(at, "trends")
    shown = texts(at)
    for title in ("Processing time", "Queue depth by hour and weekday",
                  "Payout approval → execution", "RPC providers", "Commission spot-check"):
        assert title in shown
    assert len(at.get("plotly_chart")) >= 3
    assert "Every sampled commission matches" in shown or "do not match" in shown


def test_slos_show_target_current_and_budget(at, platform):
    open_page(at, "slos")
    table = frame(at, "objective", "target")
    assert list(table["target"]) == ["99.9 %", "95.0 %", "100.0 %", "95.0 %"]
    balanced = table[table["objective"] == "Ledger balanced"].iloc[0]
    assert balanced["current"] == "0.000 %" and balanced["error budget left"] == "0 % (exhausted)"


def test_runbook_lists_the_checklists_links_and_incident_guide(at, platform):
    open_page(at, "runbook")
    shown = texts(at)
    for title in ("Morning checklist", "Weekly deep dive", "Monthly audit", "Incident guide"):
        assert title in shown
    assert len(at.checkbox) == 18
    assert len(at.get("page_link")) == 18


def test_incidents_lists_the_open_incident(at, platform):
    open_page(at, "incidents")
    table = frame(at, "id", "priority", "title")
    incident_id = platform["incident_id"]
    assert list(table["id"]) == [f"/incidents?id={incident_id}#{incident_id}"]
    assert "Ledger imbalance in prog_console USD" in list(table["title"])
    at.selectbox(key="incident_choice").select(str(platform["incident_id"])).run()
    assert "Ledger imbalance in prog_console USD" in texts(at)
    assert at.button(key="ack_incident").disabled is False


def test_exports_page_offers_export_now_and_the_action_log(at, platform):
    open_page(at, "exports")
    shown = texts(at)
    assert "No period exported yet" in shown
    assert at.button(key="export_now") is not None


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_an_exception(at, page):
    open_page(at, page)
    assert at.title and at.title[0].value
    assert "ada" in " ".join(m.value for m in at.sidebar.markdown)  # routed through main.py


def test_times_are_shown_in_the_viewers_timezone_named_and_kept_for_the_account(at, platform):
    """The sidebar's Timezone (UTC by default) changes every time shown: tables (the header names
    the zone) and sentences ("Opened … Asia/Tokyo"); the choice is kept on the account."""
    from datetime import timezone
    from zoneinfo import ZoneInfo

    from sge_recon.accounts import AccountService

    db = Database(platform["db_url"])
    opened = db.fetch_one("SELECT opened_at FROM recon.incidents WHERE id = %s",
                          (platform["incident_id"],))["opened_at"]
    try:
        open_page(at, "incidents")
        assert at.selectbox(key="tz_select").value == "UTC"
        assert f"{opened.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}" in \
            list(frame(at, "id", "opened_at")["opened_at"])
        at.selectbox(key="incident_choice").select(str(platform["incident_id"])).run()
        assert f"Opened {opened.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC" in texts(at)

        at.selectbox(key="tz_select").select("Asia/Tokyo").run()  # UTC+9, no summer time
        assert not at.exception
        tokyo = opened.astimezone(ZoneInfo("Asia/Tokyo"))
        assert f"{tokyo:%Y-%m-%d %H:%M:%S}" in list(frame(at, "id", "opened_at")["opened_at"])
        assert f"Opened {tokyo:%Y-%m-%d %H:%M} Asia/Tokyo" in texts(at)
        import json  # the column headers Streamlit was given (column_config labels)

        labels = [c.get("label") for c in json.loads(at.dataframe[0].proto.columns).values()]
        assert "Opened (Asia/Tokyo)" in labels and "Last seen (Asia/Tokyo)" in labels, labels
        assert db.fetch_one("SELECT timezone FROM recon.console_users WHERE name = 'ada'")[
            "timezone"] == "Asia/Tokyo"
        open_page(at, "trends")  # the charts' time axes are in the zone too, and say so
        titles = [json.loads(c.proto.spec)["layout"]["xaxis"]["title"]["text"]
                  for c in at.get("plotly_chart") if "xaxis" in json.loads(c.proto.spec)["layout"]]
        assert titles.count("hour (Asia/Tokyo)") == 3, titles  # processing time, the RPC pair

        again = app("ada")  # a new session of the same account starts in its timezone
        open_page(again, "overview")
        assert again.selectbox(key="tz_select").value == "Asia/Tokyo"
        assert "Asia/Tokyo · refreshes every" in texts(again)
    finally:
        AccountService(db).set_timezone("ada", None)
    try:
        AccountService(db).set_timezone("ada", "Mars/Olympus_Mons")
        raise AssertionError("an unknown timezone was accepted")
    except Exception as exc:
        assert "unknown timezone 'Mars/Olympus_Mons'" in str(exc)
