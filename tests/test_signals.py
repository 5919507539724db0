"""One definition per signal (issue 12 item 3, issue 15 item 11): the alert rules, /metrics, the
per-minute job, the Overview and the Ledger page read CHECK RESULTS and the catalogue's
thresholds, never SQL or thresholds of their own."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from sge_recon.checks.loader import load_catalogue
from sge_recon.context import Recon
from sge_recon.errors import CheckDefinitionError
from sge_recon.metrics.facts import SIGNAL_CHECKS, gather_facts

from .conftest import settings_for
from .factories import ago

ROOT = Path(__file__).resolve().parent.parent
# the modules that turn signals into alerts, metrics, lights and page marks
READERS = ["sge_recon/metrics/facts.py", "sge_recon/metrics/collector.py",
           "sge_recon/alerts/rules.py", "sge_recon/alerts/service.py",
           "sge_recon/console/overview.py", "sge_recon/console/health.py",
           "sge_recon/console/ledger.py", "sge_recon/scheduling/jobs.py", "app/views/ledger.py",
           "app/views/overview.py", "sge_recon/console/verdicts.py",
           "sge_recon/console/payout_pages.py", "sge_recon/console/__init__.py",
           "sge_recon/console/slo.py", "app/views/intents.py", "app/views/webhooks.py",
           "app/views/queue.py", "app/views/payouts.py", "app/views/slos.py"]
# the runbook settings that are check thresholds (checks.yml parameters): only the catalogue
# compares a measurement with them
THRESHOLDS = ("LEDGER_TOLERANCE", "QUEUE_DEPTH_WARN", "QUEUE_DEPTH_FAIL", "INTENT_TIMEOUT_MINUTES",
              "INTENT_STUCK_FAIL_MINUTES", "PROCESSING_TIME_WARN_SECONDS",
              "PROCESSING_TIME_FAIL_SECONDS", "WEBHOOK_RETRY_WARN_COUNT",
              "WEBHOOK_CONSECUTIVE_FAILURES", "WORKER_DOWN_SECONDS", "WEBHOOK_DISABLE_HOURS",
              "PAYOUT_SLA_HOURS")
# the second definitions this issue deleted: they must not come back
GONE_FROM_DATA_LAYER = ("ledger_differences", "worker_facts", "job_duration_p50", "queue_facts",
                        "queue_pause", "stuck_intent_facts", "stuck_intent_ids",
                        "exhausted_delivery_ids", "webhook_delivery_facts", "failing_endpoints",
                        "processing_time")
GONE = {"sge_recon/db/ledger_checkpoint.py": ("ledger_differences",),
        "sge_recon/db/console.py": ("queue_waiting", "mean_processing_seconds",
                                    "job_duration_p50", "stuck_intent_summary",
                                    "stuck_money_by_currency", "webhook_failure_summary",
                                    "workers"),
        "sge_recon/db/webhooks.py": ("endpoint_health",),
        "sge_recon/db/intents.py": ("stuck_intents",)}


def _code(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def test_signal_readers_apply_no_threshold_of_their_own():
    names = "|".join(THRESHOLDS)
    compare = re.compile(rf"([<>]=?|[!=]=)\s*(self\.)?settings\.({names})\b"
                         rf"|settings\.({names})\s*([<>]=?|[!=]=)")
    offenders = {p: m.group(0) for p in READERS if (m := compare.search(_code(p)))}
    assert offenders == {}, "compare with the check's status instead (checks/checks.yml)"


def test_signal_readers_run_no_sql_of_their_own():
    sql = re.compile(r"(FROM\s+platform\.|fetch_all\(|fetch_one\(|\.execute\()", re.I)
    offenders = [p for p in READERS if p.startswith("sge_recon/metrics/facts")
                 or p.startswith("sge_recon/alerts/rules") or p.startswith("sge_recon/console/")
                 if sql.search(re.sub(r'""".*?"""|#[^\n]*', "", _code(p), flags=re.S))]
    assert offenders == []
    for path, names in GONE.items():
        defined = set(re.findall(r"^def (\w+)\(", _code(path), re.M))
        assert not defined & set(names), f"{path}: a second definition of a checked signal"
    # db/ops.py, where most of them lived, is split by domain: none may come back in any module
    for path in sorted((ROOT / "sge_recon" / "db").glob("*.py")):
        defined = set(re.findall(r"^def (\w+)\(", path.read_text(encoding="utf-8"), re.M))
        assert not defined & set(GONE_FROM_DATA_LAYER), \
            f"{path.name}: a second definition of a checked signal"
    # the pages' display readers take no threshold: the verdict is the check's
    import inspect

    from sge_recon.db import console as q

    for reader in (q.pending_payout_summary, q.worker_heartbeats):
        assert list(inspect.signature(reader).parameters) == ["conn"]
    assert "over_sla" not in _code("sge_recon/db/console.py")


def test_every_signal_is_a_catalogue_check(recon):
    catalogue = {d.name for d in recon.checks.catalogue()}
    assert set(SIGNAL_CHECKS) <= catalogue


def test_the_ledger_page_flags_exactly_the_checks_failing_rows(recon, factory):
    """At a tolerance > 0: a ledger off by less than LEDGER_TOLERANCE is not flagged (the check
    passes it), one off by more is, on the page, the Overview, the alerts and /metrics alike."""
    from sge_recon.alerts.rules import evaluate_rules
    from sge_recon.console import mark_balances
    from sge_recon.metrics.collector import core_gauges

    assert recon.settings.LEDGER_TOLERANCE == Decimal("0.01")
    noise, off, fine = (factory.program(id=p) for p in ("prog_noise", "prog_off", "prog_fine"))
    factory.journal(noise["id"], [("treasury", "debit", "10.004"), ("user:a", "credit", "10")])
    factory.journal(off["id"], [("treasury", "debit", "10.25"), ("user:b", "credit", "10")])
    factory.journal(fine["id"], [("treasury", "debit", "10"), ("user:c", "credit", "10")])

    [check] = recon.checks.run(only=["ledger_balance"], store=False).checks
    failing = {(r["program_id"], r["currency"]) for r in check.rows}
    assert failing == {("prog_off", "USD")}

    flags = recon.console.ledger_flags()
    rows = mark_balances(recon.console.ledger_balances(), flags)
    assert {(r["program_id"], r["currency"]) for r in rows if r["off"]} == failing
    noisy = next(r for r in rows if r["program_id"] == "prog_noise")
    assert noisy["difference"] != 0 and noisy["off"] is False  # rounding noise, not flagged
    assert flags.count == 1 and set(flags.pairs) == failing

    now = datetime.now(timezone.utc)
    facts = gather_facts(recon.db, recon.settings, now)
    assert {(d.program_id, d.currency) for d in facts.ledger} == failing
    [finding] = [f for f in evaluate_rules(facts, recon.settings)
                 if f.kind == "ledger_imbalance"]
    assert finding.money == {"USD": Decimal("0.25")}
    ledger = next(g for g in core_gauges(facts) if g.name == "sge_ledger_balance_difference_cents")
    assert [labels for labels, _ in ledger.samples] == [("prog_off", "USD")]


def test_totals_are_exact_beyond_the_sample(db_url, factory):
    """Money at stake and counts come from the catalogue's `totals:` over ALL failing rows, in
    the database: with a sample of 2 rows, 3 stuck intents in two currencies still count."""
    recon = Recon(settings_for(db_url, SAMPLE_ROWS=2))
    program = factory.program()
    user = factory.user(program["id"])
    for minutes, amount, currency in ((40, "100.10", "USD"), (30, "0.000001", "USDC"),
                                      (20, "5.00", "USD"), (12, "7.00", "EUR")):
        factory.intent(program["id"], user["id"], status="processing", currency=currency,
                       amount=Decimal(amount), status_changed_at=ago(minutes=minutes))
    [result] = recon.checks.run(only=["stuck_intents"], store=False).checks
    assert (result.status, result.failing_rows, len(result.rows)) == ("fail", 4, 2)
    past = result.totals("past_fail")
    assert {c: (t.count, t.sum) for c, t in past.items()} == {
        "USD": (2, Decimal("105.10")), "USDC": (1, Decimal("0.000001"))}
    facts = gather_facts(recon.db, recon.settings, datetime.now(timezone.utc),
                         results={"stuck_intents": result})
    assert (facts.stuck_intents, facts.stuck_intents_failing) == (4, 3)
    assert facts.stuck_money == {"USD": Decimal("105.10"), "USDC": Decimal("0.000001")}
    assert facts.oldest_stuck_at <= datetime.now(timezone.utc) - timedelta(minutes=40)
    tile = {a.kind: a for a in recon.console.overview().alerts}["stuck_intents"]
    assert tile.count == 4 and tile.money_at_stake == {
        "USD": Decimal("105.10"), "USDC": Decimal("0.000001"), "EUR": Decimal("7.00")}


@pytest.mark.parametrize("totals, message", [
    ("sum(amount) by currency", "totals must map names"),
    ({"money": "avg(amount) by currency"}, "must read `sum(<column>) by <column>`"),
    ({"money": "sum(amount) by currency where stuck_seconds >= no_such_param"},
     "unknown parameter no_such_param"),
])
def test_a_bad_totals_key_is_refused_when_the_catalogue_loads(tmp_path, totals, message):
    import yaml

    from sge_recon.checks.params import check_params
    from sge_recon.config import Settings

    settings = Settings.load(env={})
    source = settings.checks_dir
    catalogue = yaml.safe_load((source / "checks.yml").read_text(encoding="utf-8"))
    catalogue["stuck_intents"]["totals"] = totals
    (tmp_path / "checks.yml").write_text(yaml.safe_dump(catalogue), encoding="utf-8")
    for sql in source.glob("*.sql"):
        (tmp_path / sql.name).write_text(sql.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "fused").mkdir()
    for sql in (source / "fused").glob("*.sql"):
        (tmp_path / "fused" / sql.name).write_text(sql.read_text(encoding="utf-8"),
                                                   encoding="utf-8")
    with pytest.raises(CheckDefinitionError, match=re.escape(message)):
        load_catalogue(tmp_path, check_params(settings))


def test_live_runs_only_the_named_checks_of_the_catalogue(recon):
    """A name the catalogue lacks is skipped; none known runs nothing (never "all")."""
    assert recon.checks.live(["not_a_check"]).checks == []
    assert [c.name for c in recon.checks.live(["queue_depth", "not_a_check"]).checks] == [
        "queue_depth"]


def test_the_pages_flag_exactly_the_checks_failing_rows(db_url, factory):
    """At non-default thresholds, the Webhooks, Intents, Queue and Payouts pages and the Overview's
    payout tile flag exactly the rows their checks list as failing, and the SLO page's state now
    is the Overview's worker light."""
    recon = Recon(settings_for(db_url, WEBHOOK_CONSECUTIVE_FAILURES=3, INTENT_TIMEOUT_MINUTES=5,
                               INTENT_STUCK_FAIL_MINUTES=20, WORKER_DOWN_SECONDS=120,
                               PAYOUT_SLA_HOURS=2, SAMPLE_ROWS=1))
    console = recon.console
    program = factory.program()
    user = factory.user(program["id"])
    # webhooks: e_fail has 4 failed attempts (> 3), e_slow 2 (a streak below it), e_ok none
    e_fail, e_slow, e_ok = (factory.endpoint(program["id"]) for _ in range(3))
    factory.delivery(e_fail["id"], status="failed", attempt_count=4, last_attempt_at=ago(minutes=5),
                     created_at=ago(minutes=30))
    factory.delivery(e_slow["id"], status="retry_scheduled", attempt_count=2,
                     last_attempt_at=ago(minutes=5), next_retry_at=ago(minutes=-5),
                     created_at=ago(minutes=30))
    factory.delivery(e_ok["id"])
    # intents: stuck 30, 10 min (past 5), not 2 min
    stuck = [factory.intent(program["id"], user["id"], status="processing",
                            status_changed_at=ago(minutes=m)) for m in (30, 10, 2)]
    # workers: one live, one silent for 10 min (> 120 s)
    factory.heartbeat("w_live", last_seen_at=ago(seconds=5))
    factory.heartbeat("w_silent", last_seen_at=ago(minutes=10))
    # payouts: pending for 3 h (late at 2 h), pending for 1 h, approved 3 h ago (late)
    late = factory.payout_batch(program["id"], status="pending_approval", created_at=ago(hours=3))
    factory.payout_batch(program["id"], status="pending_approval", created_at=ago(hours=1))
    approved = factory.payout_batch(program["id"], status="approved", created_at=ago(hours=5),
                                    approved_at=ago(hours=3))

    checks = recon.checks.run(only=["webhook_endpoints_failing", "stuck_intents",
                                    "worker_status", "payout_batch_sla"], store=False,
                             sample_rows=50).by_name()

    health = {e["endpoint_id"]: e for e in console.endpoint_health()}
    flagged = {i for i, e in health.items() if e["health"] == "failing"}
    assert flagged == {r["endpoint_id"] for r in checks["webhook_endpoints_failing"].rows} \
        == {e_fail["id"]}
    assert (health[e_slow["id"]]["health"], health[e_slow["id"]]["consecutive_failures"]) == \
        ("degraded", 2)  # the check's own measure, below its threshold
    assert health[e_ok["id"]]["health"] == "healthy"

    found = console.stuck_list()  # more than the sample (SAMPLE_ROWS=1): the page asks for more
    assert [r["intent_id"] for r in found.rows] == [i["id"] for i in stuck[:2]]
    assert found.count == checks["stuck_intents"].failing_rows == 2 and found.past_fail == 1

    workers = {w["worker_id"]: w["state"] for w in console.queue_state()["workers"]}
    assert workers == {"w_live": "alive", "w_silent": "silent"}
    assert {r["worker_id"] for r in checks["worker_status"].rows if r["status"] == "down"} == \
        {"w_silent"}

    late_ids = {r["batch_id"] for r in checks["payout_batch_sla"].rows}
    assert late_ids == {late["id"], approved["id"]}
    assert {b["batch_id"] for b in console.open_payout_batches() if b["sla_breached"]} == late_ids
    tile = {a.kind: a for a in console.overview().alerts}["pending_payouts"]
    assert tile.count == 3 and tile.detail.startswith("2 past the 2 h SLA")

    [availability] = [s for s in console.slos(1) if s.name == "Availability"]
    worker_light = {m.name: m for m in console.overview().metrics}["Worker status"]
    assert (availability.now.value, availability.now.light) == \
        (worker_light.value, worker_light.light) == ("degraded", worker_light.light)
