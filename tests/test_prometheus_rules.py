"""The real `promtool` (Debian's prometheus 2.42, installed by `python3 dev.py test`) checks the
shipped rules file, runs its unit tests, and lints a real scrape of /metrics."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from sge_recon.context import Recon
from sge_recon.metrics import MetricsServer, ReconCollector
from sge_recon.scheduling import ManualClock

from .conftest import settings_for
from .test_metrics import planted  # noqa: F401 - fixture

DOCS = Path(__file__).resolve().parents[1] / "docs"
RULES = DOCS / "prometheus-alerts.yml"
RULE_TESTS = DOCS / "prometheus-alerts.test.yml"
# the runbook pins this name (DESIGN §7); its conventional twin is sge_queue_depth
PINNED = "sge_queue_depth_total"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: `python3 dev.py test` installs Debian's prometheus "
                    "package (apt-get install prometheus)")
    return path


def run(promtool: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=DOCS)


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_promtool_accepts_the_rules_file(promtool):
    result = run(promtool, "check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_every_rule_fires_on_its_fault_and_stays_quiet_on_clean_data(promtool):
    result = run(promtool, "test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    # the unit tests cover every rule both ways
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fires = {c["alertname"] for t in tests for c in t["alert_rule_test"] if c["exp_alerts"]}
    [clean] = [t for t in tests if t["name"] == "clean"]
    quiet = {c["alertname"] for c in clean["alert_rule_test"] if not c["exp_alerts"]}
    names = {r["alert"] for r in rules()}
    assert fires == names and quiet == names


def test_no_rule_selects_a_label_that_prometheus_renames():
    import re

    for rule in rules():
        assert not re.search(r"[{,]\s*(job|instance)\s*(=|!=|=~|!~)", rule["expr"]), rule


def test_a_real_scrape_passes_promtool_check_metrics(promtool, planted):  # noqa: F811
    recon, now = planted
    recon = Recon(settings_for(recon.settings.DATABASE_URL,
                               SLACK_WEBHOOK_URL="http://127.0.0.1:9/hook"))
    collector = ReconCollector(recon.settings, recon.databases, ttl=60, clock=ManualClock(now))
    srv = MetricsServer(collector, port=0).start()
    try:
        response = httpx.get(srv.url, timeout=10)
        head = httpx.head(srv.url, timeout=10)
    finally:
        srv.stop()
    assert response.status_code == 200 and head.status_code == 200 and head.content == b""
    text = response.text
    assert "sge_intent_processing_duration_seconds_bucket" in text
    assert 'sge_alert_deliveries_total{channel="slack",status="sent"} 0.0' in text
    for label in ("job", "instance"):
        assert f'{{{label}="' not in text and f',{label}="' not in text
    result = run(promtool, "check", "metrics", stdin=text)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert problems and all(p.startswith(PINNED) for p in problems), problems


def scrape_text(recon, now) -> str:
    """One real /metrics scrape of ``recon``'s database at ``now``."""
    collector = ReconCollector(recon.settings, recon.databases, ttl=0, clock=ManualClock(now))
    srv = MetricsServer(collector, port=0).start()
    try:
        response = httpx.get(srv.url, timeout=30)
    finally:
        srv.stop()
    assert response.status_code == 200, response.text
    return response.text


def input_series(scrapes: list[str]) -> list[dict]:
    """Real scrapes, one a minute, as promtool's input series (a series missing from a scrape
    is a gap, as a stale series is for Prometheus)."""
    import math

    from prometheus_client.parser import text_string_to_metric_families

    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    values: dict[str, list[str]] = {}
    for minute, text in enumerate(scrapes):
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f'{k}="{esc(v)}"' for k, v in sorted(s.labels.items()))
                number = "NaN" if math.isnan(s.value) else repr(s.value)
                values.setdefault(f"{s.name}{{{labels}}}", ["_"] * len(scrapes))[minute] = number
    return [{"series": name, "values": " ".join(v)} for name, v in values.items()]


def rule_test(promtool, tmp_path, scrapes: list[str], cases: list[dict]) -> str:
    """`promtool test rules` of the shipped rules over real scrapes; its output ('' = passed)."""
    test = {"rule_files": [str(RULES)], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": input_series(scrapes),
                       "alert_rule_test": cases}]}
    path = tmp_path / "real-scrape.test.yml"
    path.write_text(yaml.safe_dump(test))
    result = run(promtool, "test", "rules", str(path))
    return "" if result.returncode == 0 else result.stdout + result.stderr


def test_a_ledger_whose_difference_is_not_a_number_pages(promtool, recon, factory, tmp_path):
    """A 'NaN' amount (numeric allows it, and NaN > 0 passes the contract's CHECK) makes the
    program's difference NaN: ledger_balance flags it and /metrics exports NaN, on which
    `abs(x) >= 0.01` is false. LedgerImbalance must still page: the money cannot be accounted."""
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0)
    program = factory.program(id="prog_nan", currency="USD")
    factory.journal(program["id"], [("treasury", "debit", "NaN"), ("user:1", "credit", "5.00")])
    text = scrape_text(recon, now)
    assert 'sge_ledger_balance_difference{currency="USD",program_id="prog_nan"} NaN' in text
    problems = rule_test(promtool, tmp_path, [text] * 5, [
        {"eval_time": "2m", "alertname": "LedgerImbalance",
         "exp_alerts": [{"exp_labels": {"severity": "P0", "program_id": "prog_nan",
                                        "currency": "USD"},
                         "exp_annotations": {"summary": "Ledger of prog_nan (USD) off by NaN USD"}}]}])
    assert problems == ""


def test_a_completion_dated_before_its_creation_never_pages_processing_slow(promtool, recon,
                                                                            factory, tmp_path):
    """Clock skew between the writer of created_at and that of completed_at gives a duration
    below zero. Counted, it makes the histogram's _sum go down, which rate() reads as a counter
    reset (it adds back the whole sum): ProcessingSlow paged for intents that took 2 s. Such a
    completion is not counted (processing_time excludes it the same way)."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)
    program = factory.program(id="prog_p", currency="USD")
    user = factory.user(program["id"])
    for n in range(300):  # the first scrape counts the last hour: 300 intents of 2 s each
        factory.intent(program["id"], user["id"], status="completed",
                       created_at=now - timedelta(seconds=10 * n + 12),
                       completed_at=now - timedelta(seconds=10 * n + 10))
    clock = ManualClock(now)
    collector = ReconCollector(recon.settings, recon.databases, ttl=0, clock=clock)
    srv = MetricsServer(collector, port=0).start()
    scrapes = []
    try:
        for minute in range(25):
            if minute:
                clock.advance(minutes=1)
            if minute > 1:
                done = clock.now() - timedelta(seconds=10)
                factory.intent(program["id"], user["id"], status="completed",
                               created_at=done - timedelta(seconds=2), completed_at=done)
            if minute == 1:  # the only completion of that minute, its completed_at written by a
                # host whose clock is 1 s behind
                factory.intent(program["id"], user["id"], status="completed",
                               created_at=clock.now() - timedelta(seconds=5),
                               completed_at=clock.now() - timedelta(seconds=6))
            scrapes.append(httpx.get(srv.url, timeout=30).text)
    finally:
        srv.stop()
    sums = [float(line.split()[-1]) for text in scrapes for line in text.splitlines()
            if line.startswith("sge_intent_processing_duration_seconds_sum")]
    assert len(sums) == 25 and sums == sorted(sums), sums  # a counter never goes down
    problems = rule_test(promtool, tmp_path, scrapes, [
        {"eval_time": f"{m}m", "alertname": "ProcessingSlow", "exp_alerts": []}
        for m in (5, 12, 16, 20, 24)])
    assert problems == ""


def test_a_ledger_with_a_null_currency_is_served_and_pages(promtool, recon, factory, db,
                                                           tmp_path):
    """A platform whose ledger allows a NULL currency or program (ledger_balance groups such rows
    on their own, platform_data_integrity flags them): a label value of None made /metrics
    answer 500 to every scrape, so Prometheus saw nothing at all and every alert resolved. The
    missing value is an empty label (Prometheus's "not set") and LedgerImbalance pages."""
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0)
    program = factory.program(id="prog_null", currency="USD")
    db.execute("ALTER TABLE public.ledger_entries ALTER COLUMN currency DROP NOT NULL")
    factory.journal(program["id"], [("treasury", "debit", "10.00"), ("user:1", "credit", "9.00")],
                    currency=None)
    text = scrape_text(recon, now)
    assert 'sge_ledger_balance_difference{currency="",program_id="prog_null"} 1.0' in text
    problems = rule_test(promtool, tmp_path, [text] * 5, [
        {"eval_time": "2m", "alertname": "LedgerImbalance",
         "exp_alerts": [{"exp_labels": {"severity": "P0", "program_id": "prog_null"},
                         "exp_annotations": {"summary": "Ledger of prog_null () off by 1 "}}]}])
    assert problems == ""


def test_every_metric_and_label_a_rule_reads_is_served(planted):  # noqa: F811
    """Each rule's metric names and label matchers exist in a real scrape (the replica gauges,
    served only with PLATFORM_READ_URL, from the replica facts): a renamed metric or label would
    make its rule silently never fire."""
    import re
    from decimal import Decimal

    from prometheus_client.parser import text_string_to_metric_families

    from sge_recon.metrics.collector import replica_gauges
    from sge_recon.metrics.facts import facts_from_results

    recon, now = planted
    recon = Recon(settings_for(recon.settings.DATABASE_URL,
                               SLACK_WEBHOOK_URL="http://127.0.0.1:9/hook"))
    served: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(scrape_text(recon, now)):
        for sample in family.samples:
            served.setdefault(sample.name, set()).update(sample.labels)
    facts = facts_from_results({}, now)
    facts.replica_where, facts.replica_lag_seconds = "standby", Decimal(3)
    for gauge in replica_gauges(facts):
        served.setdefault(gauge.name, set()).update(gauge.labels)
    for rule in rules():
        for m in re.finditer(r"\b(sge_\w+)(?:\{([^}]*)\})?", rule["expr"]):
            assert m.group(1) in served, (rule["alert"], m.group(1))
            wanted = set(re.findall(r"(\w+)\s*(?:=|!=|=~|!~)", m.group(2) or ""))
            assert wanted <= served[m.group(1)], (rule["alert"], m.group(1), wanted)


def test_ledger_imbalance_follows_the_configured_tolerance(promtool, db_url, factory, tmp_path):
    """LEDGER_TOLERANCE 0.001 (a USDC ledger with six decimals): ledger_balance fails, the
    product opens its P0 and /metrics serves the ledger off by 0.005, but the rule's own
    `>= 0.01` kept LedgerImbalance quiet. Every served series is a ledger the check flags."""
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0)
    program = factory.program(id="prog_usdc", currency="USDC")
    factory.journal(program["id"], [("treasury", "debit", "10.005"), ("user:1", "credit", "10")],
                    currency="USDC")
    recon = Recon(settings_for(db_url, LEDGER_TOLERANCE="0.001"))
    text = scrape_text(recon, now)
    assert 'sge_ledger_balance_difference{currency="USDC",program_id="prog_usdc"} 0.005' in text
    problems = rule_test(promtool, tmp_path, [text] * 5, [
        {"eval_time": "2m", "alertname": "LedgerImbalance",
         "exp_alerts": [{"exp_labels": {"severity": "P0", "program_id": "prog_usdc",
                                        "currency": "USDC"},
                         "exp_annotations": {
                             "summary": "Ledger of prog_usdc (USDC) off by 0.005 USDC"}}]}])
    assert problems == ""
