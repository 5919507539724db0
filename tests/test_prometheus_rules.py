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
