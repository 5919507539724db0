"""A pytest plugin that prints the figures of the reliability suite (README "Reliability and
security"): `pytest -p tests.reliability_report <files>`.

Figures come from what the tests actually did (tests/invariants.py INVARIANT_FIGURES: fuzz cases,
property examples, faults injected, invariant evaluations, 5xx seen) and from the outcomes of the
fault scenarios, including those that live in other engineers' test files."""

from __future__ import annotations

import json
import os
from collections import Counter

from .invariants import INVARIANT_FIGURES

# scenario -> test node ids (substrings) that run it
FAULT_SCENARIOS = {
    "worker SIGKILLed mid-intents (4 rounds x 2 workers)":
        ["test_faults_platform.py::test_workers_killed_again_and_again"],
    "worker SIGKILLed mid-run (single)":
        ["test_platform_worker.py::test_a_worker_killed_mid_run"],
    "PostgreSQL stopped/started under API, worker, scheduler, console":
        ["test_faults_postgres.py::test_everything_recovers"],
    "export SIGKILLed mid-period, rerun": ["test_exports_cli.py::test_a_killed_export"],
    "two schedulers, each slot once": ["test_scheduler.py::test_two_schedulers_run_each_job_slot",
                                       "test_alerts.py::test_two_schedulers_open_one_incident"],
    "50 concurrent approvals+executions of one batch":
        ["test_faults_platform.py::test_fifty_concurrent"],
    "20 concurrent executions": ["test_platform_api.py::test_concurrent_executes_pay_exactly_once"],
    "admin API down while the console acts":
        ["test_faults_platform.py::test_the_admin_api_dying",
         "test_console_actions.py::test_an_api_that_is_down"],
    "database down under the console pages":
        ["test_console_resilience.py::test_a_database_that_is_down"],
}

_outcomes: Counter = Counter()
_scenarios: dict[str, list[str]] = {}


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _outcomes[report.outcome] += 1
        for scenario, ids in FAULT_SCENARIOS.items():
            if any(i in report.nodeid for i in ids):
                _scenarios.setdefault(scenario, []).append(report.outcome)


def figures() -> dict:
    ran = {s: o for s, o in _scenarios.items() if o}
    return {
        "tests passed": _outcomes["passed"], "tests failed": _outcomes["failed"],
        "fault scenarios run": sum(len(o) for o in ran.values()),
        "fault scenarios passed": sum(o.count("passed") for o in ran.values()),
        **{k: v for k, v in sorted(INVARIANT_FIGURES.items())},
        "scenarios": {s: f"{o.count('passed')}/{len(o)} passed" for s, o in ran.items()},
    }


def pytest_terminal_summary(terminalreporter):
    data = figures()
    terminalreporter.section("reliability and security figures")
    for name, value in data.items():
        if isinstance(value, dict):
            for scenario, result in value.items():
                terminalreporter.write_line(f"  scenario: {scenario}: {result}")
        else:
            terminalreporter.write_line(f"{name}: {value}")
    target = os.environ.get("SGE_RELIABILITY_REPORT")
    if target:
        with open(target, "w") as fh:
            json.dump(data, fh, indent=2)
