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
           "app/views/overview.py"]
# the runbook settings that are check thresholds (checks.yml parameters): only the catalogue
# compares a measurement with them
THRESHOLDS = ("LEDGER_TOLERANCE", "QUEUE_DEPTH_WARN", "QUEUE_DEPTH_FAIL", "INTENT_TIMEOUT_MINUTES",
              "INTENT_STUCK_FAIL_MINUTES", "PROCESSING_TIME_WARN_SECONDS",
              "PROCESSING_TIME_FAIL_SECONDS", "WEBHOOK_RETRY_WARN_COUNT",
              "WEBHOOK_CONSECUTIVE_FAILURES", "WORKER_DOWN_SECONDS", "WEBHOOK_DISABLE_HOURS")
# the second definitions this issue deleted: they must not come back
GONE_FROM_DATA_LAYER = ("ledger_differences", "worker_facts", "job_duration_p50", "queue_facts",
                        "queue_pause", "stuck_intent_facts", "stuck_intent_ids",
                        "exhausted_delivery_ids", "webhook_delivery_facts", "failing_endpoints",
                        "processing_time")
GONE = {"sge_recon/db/ledger_checkpoint.py": ("ledger_differences",),
        "sge_recon/db/console.py": ("queue_waiting", "mean_processing_seconds",
                                    "job_duration_p50", "stuck_intent_summary",
                                    "stuck_money_by_currency", "webhook_failure_summary")}


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
