"""The console's library side without Streamlit: traffic-light thresholds, SLO arithmetic, the
correction form's validation, the runbook periods, and the Overview against real rows."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from sge_recon.config import Settings
from sge_recon.console import parse_correction
from sge_recon.console.health import Light
from sge_recon.console.runbook import CHECKLISTS, item_day
from sge_recon.console.slo import Slo
from sge_recon.errors import UsageError

from .factories import ago

SETTINGS = Settings.load(env={})


def _light(check: str, value) -> Light:
    """The light of a check's value: its status under the CATALOGUE's thresholds (the console
    applies none of its own)."""
    from sge_recon.checks.loader import load_catalogue
    from sge_recon.checks.params import check_params

    [definition] = [d for d in load_catalogue(SETTINGS.checks_dir, check_params(SETTINGS))
                    if d.name == check]
    return Light.from_check_status(definition.thresholds.status(failing_rows=None, value=value))


@pytest.mark.parametrize("waiting, light", [(0, Light.GREEN), (99, Light.GREEN),
                                            (100, Light.AMBER), (500, Light.AMBER),
                                            (501, Light.RED)])
def test_queue_depth_lights_follow_the_runbook(waiting, light):
    assert _light("queue_depth", Decimal(waiting)) is light


@pytest.mark.parametrize("seconds, light", [("4.99", Light.GREEN),
                                            ("5", Light.AMBER), ("15", Light.AMBER),
                                            ("15.01", Light.RED)])
def test_processing_time_lights_follow_the_runbook(seconds, light):
    assert _light("processing_time", Decimal(seconds)) is light


def test_no_processing_data_is_grey_not_green():
    from types import SimpleNamespace

    from sge_recon.console.overview import processing_metric

    nothing = SimpleNamespace(status="pass", value=None, rows=[], error=None, reason=None)
    assert processing_metric(nothing, SETTINGS).light is Light.GREY


def test_worker_states():
    """worker_status's value (0 healthy, 1 degraded, 2 down: checks/worker_status.sql, whose
    rules tests/test_checks_catalogue.py drives on real heartbeats and jobs) is the light."""
    from types import SimpleNamespace

    from sge_recon.console.overview import worker_metric

    for code, word, light in ((2, "down", Light.RED), (1, "degraded", Light.AMBER),
                              (0, "healthy", Light.GREEN)):
        assert _light("worker_status", Decimal(code)) is light
        status = {Light.RED: "fail", Light.AMBER: "warn", Light.GREEN: "pass"}[light]
        result = SimpleNamespace(status=status, value=Decimal(code), engine="sql", details={},
                                 rows=[{"worker_id": "w1", "status": word}], error=None)
        metric = worker_metric(result)
        assert (metric.value, metric.light) == (word, light)


def test_slo_error_budget():
    slo = Slo("x", Decimal("0.95"), good=98, total=100, measured_by="")
    assert slo.current == Decimal("0.98") and slo.met
    assert slo.budget_left == Decimal("0.6")               # 2 bad of 5 allowed
    strict = Slo("balanced", Decimal("1"), good=9, total=10, measured_by="")
    assert strict.budget_left == 0 and strict.met is False
    assert Slo("none", Decimal("0.999"), 0, 0, "").current is None


def test_a_correction_must_balance_per_currency_and_name_its_problem():
    rows = [{"account": "treasury", "type": "debit", "amount": "10.00", "currency": "usd"},
            {"account": "affiliate:a", "type": "credit", "amount": "10", "currency": "USD"},
            {"account": "", "type": "debit", "amount": "", "currency": "USD"}]  # empty row
    reason, entries = parse_correction("  fix  fee ", rows)
    assert reason == "fix fee" and [e.amount for e in entries] == [Decimal("10.00"),
                                                                     Decimal("10")]
    with pytest.raises(UsageError, match="USD debits exceed credits by 0.01"):
        parse_correction("r", [rows[0], {**rows[1], "amount": "9.99"}])
    with pytest.raises(UsageError, match="entry 2: amount 'ten' is not a number"):
        parse_correction("r", [rows[0], {**rows[1], "amount": "ten"}])
    with pytest.raises(UsageError, match="more than 6 decimals"):
        parse_correction("r", [rows[0], {**rows[1], "amount": "10.0000001"}])
    with pytest.raises(UsageError, match="reason"):
        parse_correction(" ", rows)


def test_runbook_ticks_belong_to_their_period():
    tuesday = date(2026, 11, 24)
    assert item_day("daily.ledger", tuesday) == tuesday
    assert item_day("weekly.rpc", tuesday) == tuesday - timedelta(days=1)
    assert item_day("monthly.export", tuesday) == date(2026, 11, 1)
    assert [c.kind for c in CHECKLISTS] == ["daily", "weekly", "monthly"]


def test_overview_counts_money_at_stake_from_real_rows(recon, factory):
    program = factory.program()
    user = factory.user(program["id"])
    for minutes, amount in ((12, "10.50"), (20, "100.25")):
        factory.intent(program["id"], user["id"], status="payment_pending",
                       amount=Decimal(amount), status_changed_at=ago(minutes=minutes))
    factory.intent(program["id"], user["id"], status="processing",
                   status_changed_at=ago(minutes=2))  # not stuck yet
    factory.payout_batch(program["id"], total_amount=Decimal("7.00"), created_at=ago(hours=25))
    factory.heartbeat("w1")
    overview = recon.console.overview()
    alerts = {a.kind: a for a in overview.alerts}
    assert alerts["stuck_intents"].count == 2
    assert alerts["stuck_intents"].money_at_stake == {"USD": Decimal("110.75")}
    assert alerts["stuck_intents"].light is Light.RED           # one past 15 minutes
    assert alerts["pending_payouts"].money_at_stake == {"USD": Decimal("7.00")}
    assert alerts["pending_payouts"].light is Light.AMBER       # past the 24 h SLA
    metrics = {m.name: m for m in overview.metrics}
    assert metrics["Ledger status"].light is Light.GREY          # never checked: not green
    assert metrics["Worker status"].value == "healthy"
    assert not overview.all_green


def test_money_at_stake_is_never_added_across_currencies(recon, factory):
    usd, eur = factory.program(currency="USD"), factory.program(currency="EUR")
    for program, amount, currency in ((usd, "10.50", "USD"), (usd, "0.000001", "USDC"),
                                      (eur, "1000.00", "EUR")):
        user = factory.user(program["id"])
        factory.intent(program["id"], user["id"], status="payment_pending", currency=currency,
                       amount=Decimal(amount), status_changed_at=ago(minutes=30))
    factory.payout_batch(usd["id"], total_amount=Decimal("7.00"))
    factory.payout_batch(eur["id"], total_amount=Decimal("3.25"))
    alerts = {a.kind: a for a in recon.console.overview().alerts}
    assert alerts["stuck_intents"].money_at_stake == {
        "USD": Decimal("10.50"), "USDC": Decimal("0.000001"), "EUR": Decimal("1000.00")}
    assert alerts["pending_payouts"].money_at_stake == {"USD": Decimal("7.00"),
                                                       "EUR": Decimal("3.25")}


def test_queue_heatmap_rebuilt_from_job_history_counts_each_hour_a_job_waited(recon, factory):
    created, started = ago(hours=3, minutes=10), ago(minutes=5)
    factory.job(created_at=created, started_at=started)                  # waited ~3 h
    quick = ago().replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)
    factory.job(created_at=quick, started_at=quick + timedelta(seconds=10))  # crosses no mark
    cells, source = recon.console.queue_heatmap()
    first_mark = created.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    marks = int((started - first_mark).total_seconds() // 3600) + 1       # hour marks waited
    assert source.startswith("job history")
    assert len(cells) == 7 * 24
    assert sum(c["depth"] for c in cells) == marks and max(c["depth"] for c in cells) == 1


def test_a_stale_balanced_ledger_is_not_shown_green():
    from types import SimpleNamespace

    from sge_recon.console.overview import ledger_metric

    passed = {"ledger_balance": SimpleNamespace(name="ledger_balance", status="pass",
                                                failing_rows=0, rows=[], error=None)}
    fresh = ledger_metric(passed, 120)
    assert fresh.light is Light.GREEN and "Last checked 2 min ago" in fresh.detail
    stale = ledger_metric(passed, 26 * 3600)
    assert (stale.value, stale.light) == ("Stale", Light.GREY)


def test_the_ledger_light_counts_each_check_as_its_tile_and_page_do():
    """Issue 15 (one truth): never "4 issues" beside "1 imbalance"; each check's own count."""
    from sge_recon.checks.model import CheckResult
    from sge_recon.console.overview import imbalance_alert, ledger_metric

    results = {"ledger_balance": CheckResult("ledger_balance", "fail", "P0", failing_rows=1,
                                             value=None,
                                             rows=[{"currency": "USD", "difference": "0.01"}]),
               "transaction_balance": CheckResult("transaction_balance", "fail", "P0",
                                                  failing_rows=3, value=None, rows=[])}
    light = ledger_metric(results)
    assert light.value == "1 program/currency imbalance" and light.light is Light.RED
    assert light.detail.startswith("1 program/currency imbalance; 3 unbalanced transactions:")
    assert imbalance_alert(results).count == 1  # the tile says the same 1


def test_commission_spot_check_recomputes_against_the_contract_rates(recon, factory):
    program = factory.program()  # direct 0.01, parent 0.005
    user = factory.user(program["id"])
    aff = factory.affiliate(program["id"])
    intent = factory.intent(program["id"], user["id"])
    factory.settlement(intent["id"], program["id"])
    factory.commission(program["id"], aff["id"], intent["id"], id="com_ok")
    factory.commission(program["id"], aff["id"], intent["id"], id="com_bad", level=2,
                       rate=Decimal("0.005"), amount=Decimal("0.60"))  # should be 0.50
    rows = {r["commission_id"]: r for r in recon.console.commission_spot_check()}
    assert rows["com_ok"]["matches"] is True
    assert rows["com_bad"]["matches"] is False
    assert rows["com_bad"]["expected_amount"] == Decimal("0.50")


def test_a_batch_pays_in_the_currency_of_its_commissions(recon, factory):
    """A program can settle in several currencies; its batches are per currency (the simulator
    makes an EUR batch in a USD program): the batch's currency is its commissions'."""
    program = factory.program(currency="USD")
    user = factory.user(program["id"])
    affiliate = factory.affiliate(program["id"])
    batch = factory.payout_batch(program["id"], total_amount=Decimal("3.00"), affiliate_count=1)
    for _ in range(2):
        intent = factory.intent(program["id"], user["id"], currency="EUR")
        factory.commission(program["id"], affiliate["id"], intent["id"], amount=Decimal("1.50"),
                           status="payable", payout_batch_id=batch["id"])
    found = recon.console.payout_batch(batch["id"])
    assert found["batch"]["currency"] == "EUR" and found["consistent"]
    assert [(line["currency"], line["amount"]) for line in found["lines"]] == \
        [("EUR", Decimal("3.00"))]
    alerts = {a.kind: a for a in recon.console.overview().alerts}
    assert alerts["pending_payouts"].money_at_stake == {"EUR": Decimal("3.00")}
    assert recon.console.open_payout_batches()[0]["currency"] == "EUR"


def test_overview_ranks_alerts_and_open_incidents_by_money_at_stake(recon, factory, db):
    """Issue 19: red before amber before green; within a colour and among the open incidents,
    the largest amount at stake in any one currency first (never summed across currencies)."""
    from sge_recon.db import incidents as incident_rows

    program = factory.program()
    user = factory.user(program["id"])
    factory.intent(program["id"], user["id"], status="payment_pending", amount=Decimal("5.00"),
                   status_changed_at=ago(minutes=30))   # stuck: red, 5 USD
    factory.payout_batch(program["id"], total_amount=Decimal("9000.00"),
                         created_at=ago(hours=25))      # past the SLA: amber, 9,000 USD
    factory.heartbeat("w1")
    now = ago(seconds=0)
    with recon.db.transaction() as conn:
        for kind, priority, money in (("stuck_intents", "P1", {"USD": "10.00"}),
                                      ("queue_depth", "P2", {"USD": "99999.00"}),
                                      ("worker_down", "P1", {"EUR": "700.00", "USD": "1.00"}),
                                      ("webhook_exhausted", "P3", {})):
            incident_rows.insert_incident(conn, kind=kind, key="", priority=priority, title=kind,
                                details={"money": money}, money_at_stake=None, now=now,
                                check_run_id=None)
    overview = recon.console.overview()
    assert [a.kind for a in overview.alerts][:2] == ["stuck_intents", "pending_payouts"]
    assert overview.alerts[0].light is Light.RED and overview.alerts[1].light is Light.AMBER
    assert [i["kind"] for i in overview.top_incidents] == [
        "worker_down", "stuck_intents", "queue_depth", "webhook_exhausted"]
    assert overview.open_incidents == {"P1": 2, "P2": 1, "P3": 1}
