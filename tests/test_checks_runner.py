"""The runner, loader, history and CLI of the checks engine, against the real PostgreSQL."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from sge_recon.checks.loader import load_catalogue
from sge_recon.checks.params import check_params
from sge_recon.config import Settings, project_root
from sge_recon.context import Recon
from sge_recon.db import CONTRACT, Database
from sge_recon.errors import CheckDefinitionError, ConfigError

from .conftest import settings_for

_TABLES = ", ".join([f"public.{t}" for t in CONTRACT if t != "queue_control"]
                    + ["recon.check_runs", "recon.check_results"])


@pytest.fixture
def db_url(module_db_url):
    """One database for the module, emptied before each test (much cheaper than a new one)."""
    Database(module_db_url).execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    return module_db_url

ENTRY = """\
{name}:
  description: test check {name}
  priority: P2
  owner: tests
  runbook: do something
  kind: rows
  thresholds:
    fail: failing_rows > 0
"""


def make_catalogue(directory: Path, checks: dict[str, str], yml: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in checks.items():
        (directory / f"{name}.sql").write_text(textwrap.dedent(sql))
    (directory / "checks.yml").write_text(yml if yml is not None else
                                          "".join(ENTRY.format(name=n) for n in checks))
    return directory


def load(directory: Path):
    return load_catalogue(directory, check_params(Settings.load(env={})))


def sge_recon(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=project_root())


# -- loader ------------------------------------------------------------------------------------
def test_the_project_catalogue_loads_all_twenty_three_checks():
    names = [d.name for d in load(project_root() / "checks")]
    assert names == ["ledger_balance", "transaction_balance", "ledger_tamper", "stuck_intents",
                     "payout_batch_sla", "webhook_retries", "webhook_exhausted",
                     "webhook_endpoints_failing", "worker_status", "queue_paused",
                     "queue_depth", "processing_time", "affiliate_tree", "commission_accuracy",
                     "settlement_chain_match", "commission_ledger", "platform_data_integrity",
                     "journal_single_program", "intent_completion", "commission_duplicates",
                     "payout_batch_total", "payout_line_items", "payout_approval_quorum"]
    assert all(d.problem is None for d in load(project_root() / "checks"))


@pytest.mark.parametrize("yml, message", [
    (ENTRY.format(name="a") + "  colour: red\n", "unknown key(s) colour"),
    (ENTRY.format(name="a").replace("  owner: tests\n", ""), "missing key(s) owner"),
    (ENTRY.format(name="a") + ENTRY.format(name="a"), "duplicate name 'a'"),
    (ENTRY.format(name="a").replace("P2", "P9"), "priority must be one of"),
    (ENTRY.format(name="a").replace("kind: rows", "kind: table"), "kind must be rows or metric"),
    (ENTRY.format(name="a").replace("failing_rows > 0", "failing_rows < 0"), "never fire"),
    (ENTRY.format(name="a").replace("kind: rows", "kind: metric"), "needs `value:`"),
    (ENTRY.format(name="a") + "  value: median(x)\n", "must be an aggregate"),
    (ENTRY.format(name="a") + ENTRY.format(name="b"), "no b.sql"),
    ("a: [1, 2", "not valid YAML"),
])
def test_loader_rejects_bad_entries_naming_the_file(tmp_path, yml, message):
    make_catalogue(tmp_path, {"a": "SELECT 1"}, yml)
    with pytest.raises(CheckDefinitionError, match=re.escape(message)) as err:
        load(tmp_path)
    assert "checks.yml" in str(err.value)


def test_loader_rejects_a_sql_file_without_entry(tmp_path):
    make_catalogue(tmp_path, {"a": "SELECT 1"})
    (tmp_path / "stray.sql").write_text("SELECT 1")
    with pytest.raises(CheckDefinitionError, match="no entry for stray.sql"):
        load(tmp_path)


def test_missing_catalogue_says_where_to_point(tmp_path):
    with pytest.raises(CheckDefinitionError, match="set CHECKS_DIR"):
        load(tmp_path)


# -- runner ------------------------------------------------------------------------------------
WRAPPING = {
    "with_cte_order_semicolon": """\
        -- leading comment
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
        SELECT i, '{brace}:%' AS text, i::numeric(38,6) AS money FROM n
        WHERE i > :queue_depth_warn - 100  -- a parameter, then a comment
        ORDER BY i DESC;   -- trailing comment
        ;
        /* and a block comment */
        """,
    "values_like": "SELECT 'affiliate:x' AS account WHERE 'affiliate:x' LIKE 'affiliate:%'",
}


def test_wrapping_counts_in_the_database_and_bounds_the_sample(tmp_path, db_url):
    make_catalogue(tmp_path, WRAPPING)
    recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path, SAMPLE_ROWS=3))
    results = recon.checks.run(store=False).by_name()
    first = results["with_cte_order_semicolon"]
    assert (first.status, first.failing_rows, first.error) == ("fail", 10, None)
    assert [r["i"] for r in first.rows] == [10, 9, 8]  # the check's own ORDER BY, bounded
    assert first.rows[0]["text"] == "{brace}:%" and first.rows[0]["money"] == Decimal("10")
    assert results["values_like"].failing_rows == 1


BROKEN = {
    "good_pass": "SELECT 1 WHERE false",
    "missing_table": "SELECT * FROM public.no_such_table",
    "not_a_select": "DELETE FROM public.jobs",
    "unknown_param": "SELECT 1 WHERE 1 > :no_such_setting",
    "good_fail": "SELECT 'x' AS id",
}


def test_a_broken_check_errors_and_the_others_still_run(tmp_path, db_url):
    make_catalogue(tmp_path, BROKEN)
    recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path))
    run = recon.checks.run()
    statuses = {c.name: c.status for c in run.checks}
    assert statuses == {"good_pass": "pass", "missing_table": "error", "not_a_select": "error",
                        "unknown_param": "error", "good_fail": "fail"}
    errors = {c.name: c.error for c in run.checks}
    assert "no_such_table" in errors["missing_table"]
    assert "must be a SELECT" in errors["not_a_select"]
    assert ":no_such_setting" in errors["unknown_param"]
    assert run.status == "error" and run.exit_code() == 3
    assert recon.checks.latest().status == "error"  # stored like any run


def test_a_slow_check_times_out_as_error(tmp_path, db_url):
    make_catalogue(tmp_path, {"slow": "SELECT 1 FROM pg_sleep(3)"},
                   ENTRY.format(name="slow") + "  timeout_seconds: 1\n")
    result = Recon(settings_for(db_url, CHECKS_DIR=tmp_path)).checks.run(store=False).checks[0]
    assert result.status == "error" and "timed out after 1 s" in result.error


def test_history_is_stored_and_read_back_exactly(recon, factory):
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "100"), ("user:u", "credit", "99.5")])
    first = recon.checks.run(only=["ledger_balance", "queue_depth"], trigger="scheduler")
    factory.journal(program["id"], [("treasury", "debit", "0.5"), ("user:u", "credit", "0.5")])
    second = recon.checks.run(only=["ledger_balance"])
    latest = recon.checks.latest()
    assert latest.run_id == second.run_id and latest.status == "fail"
    assert latest.checks[0].rows == second.checks[0].rows  # Decimal restored, not strings
    assert isinstance(latest.checks[0].rows[0]["difference"], Decimal)
    history = recon.checks.history("ledger_balance")
    assert [h.failing_rows for h in history] == [1, 1]
    by_name = recon.checks.latest_results()
    assert set(by_name) == {"ledger_balance", "queue_depth"}
    assert by_name["queue_depth"].value == Decimal(0)
    assert first.run_id != second.run_id
    stored = recon.db.fetch_all("SELECT run_id::text AS id, trigger, engine, only_checks "
                                "FROM recon.check_runs ORDER BY started_at")
    assert [(s["id"], s["trigger"], s["engine"]) for s in stored] == [
        (first.run_id, "scheduler", "sql"), (second.run_id, "cli", "sql")]


def test_fast_only_runs_the_per_minute_set(recon):
    run = recon.checks.run(fast_only=True, store=False)
    assert {c.name for c in run.checks} == {d.name for d in recon.checks.catalogue() if d.fast}
    # the ledger checks run per minute in their incremental form; the tamper check only daily
    assert {"ledger_balance", "transaction_balance"} <= {c.name for c in run.checks}
    assert "ledger_tamper" not in {c.name for c in run.checks}


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_json_is_the_design_contract(cli_env, factory):
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "100"), ("user:u", "credit", "99.99")])
    factory.heartbeat("w1")
    proc = sge_recon(["check", "--format", "json"], cli_env)
    assert proc.returncode == 2, proc.stderr
    out = json.loads(proc.stdout)
    assert list(out) == ["run_id", "started_at", "finished_at", "status", "checks"]
    assert out["status"] == "fail" and len(out["checks"]) == 23
    ledger = out["checks"][0]
    assert list(ledger) == ["name", "status", "priority", "failing_rows", "value", "rows",
                            "duration_ms", "error"]
    assert ledger == {**ledger, "name": "ledger_balance", "status": "fail", "priority": "P0",
                      "failing_rows": 1, "value": None, "error": None}
    assert ledger["rows"] == [{"program_id": program["id"], "currency": "USD",
                               "total_debits": "100.000000", "total_credits": "99.990000",
                               "difference": "0.010000"}]
    assert isinstance(ledger["duration_ms"], float)
    checks = {c["name"]: c for c in out["checks"]}
    # stable types: counts integers (never null for a check that ran), measures numbers,
    # statuses words
    assert (checks["queue_depth"]["status"], checks["queue_depth"]["value"],
            checks["queue_depth"]["failing_rows"]) == ("pass", 0, 0)
    assert isinstance(checks["processing_time"]["failing_rows"], int)
    workers = checks["worker_status"]
    assert workers["value"] == "healthy" and workers["failing_rows"] == 0
    assert [r["overall"] for r in workers["rows"]] == ["healthy"]
    assert all("overall_code" not in r for r in workers["rows"])
    for check in out["checks"]:
        if check["status"] == "unavailable":  # not run: no count, and the reason says why
            assert (check["name"], check["failing_rows"]) == ("payout_line_items", None)
            assert "no payout line items" in check["reason"]
            continue
        assert isinstance(check["failing_rows"], int), check["name"]
        assert check["value"] is None or isinstance(check["value"], (int, float, str))


def test_cli_exit_codes_and_table(cli_env, factory):
    factory.heartbeat("w1")
    proc = sge_recon(["check", "--only", "ledger_balance,worker_status"], cli_env)
    assert proc.returncode == 0, proc.stderr
    assert "ledger_balance" in proc.stdout and "PASS" in proc.stdout
    factory.heartbeat("w2", last_seen_at=__import__("tests.factories").factories.ago(minutes=5))
    proc = sge_recon(["check", "--only", "worker_status"], cli_env)
    assert proc.returncode == 1
    assert "WARN" in proc.stdout and "worker_id=w2" in proc.stdout


def test_cli_broken_check_exits_3(cli_env, tmp_path):
    make_catalogue(tmp_path / "cat", BROKEN)
    proc = sge_recon(["check", "--format", "json"], {**cli_env, "CHECKS_DIR": str(tmp_path / "cat")})
    assert proc.returncode == 3
    assert {c["name"]: c["status"] for c in json.loads(proc.stdout)["checks"]}["good_fail"] == "fail"


def test_cli_unknown_check_is_a_clear_error(cli_env):
    proc = sge_recon(["check", "--only", "ledger_balanse"], cli_env)
    assert proc.returncode == 3
    assert proc.stderr.startswith("Error: unknown check(s) ledger_balanse; known checks:")
    assert "Traceback" not in proc.stderr


def test_cli_database_down_is_error_exit_3(cli_env, tmp_path):
    env = {**cli_env, "DATABASE_URL": f"postgresql://postgres@/postgres?host={tmp_path}"}
    proc = sge_recon(["check", "--format", "json"], env)
    assert proc.returncode == 3
    assert proc.stderr.startswith("Error: cannot connect to the database")
    assert proc.stdout == "" and "Traceback" not in proc.stderr


def test_the_cli_and_the_service_do_not_import_great_expectations():
    code = ("import sys, sge_recon.cli.check_cmd, sge_recon.checks, sge_recon.checks.render; "
            "print('great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=project_root())
    assert out.stdout.strip() == "False", out.stderr


def test_cli_lists_the_catalogue_and_rejects_a_bad_one(cli_env, tmp_path):
    proc = sge_recon(["check", "--list"], cli_env)
    assert proc.returncode == 0
    assert "queue_depth" in proc.stdout and "fail when value > 500 (queue_depth_fail)" in proc.stdout
    make_catalogue(tmp_path, {"a": "SELECT 1"}, ENTRY.format(name="a") + "  colour: red\n")
    proc = sge_recon(["check"], {**cli_env, "CHECKS_DIR": str(tmp_path)})
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"Error: {tmp_path / 'checks.yml'}: a: unknown key(s) colour")


def test_latest_results_follow_the_runs_start_not_the_storage_order(recon, factory):
    """A long daily run started at 02:00 and stored at 02:10 is older than a per-minute run
    started (and stored) at 02:05: the newest result of a check is that of the newest run."""
    from datetime import timedelta

    from sge_recon.db import checks as store
    from tests.factories import now

    t = now() - timedelta(hours=3)
    daily = factory.check_run(started_at=t, finished_at=t + timedelta(minutes=10))
    minute = factory.check_run(started_at=t + timedelta(minutes=5),
                               finished_at=t + timedelta(minutes=5, seconds=1))
    factory.check_result(minute["run_id"], "ledger_balance", status="pass",
                         created_at=t + timedelta(minutes=5, seconds=1))
    factory.check_result(daily["run_id"], "ledger_balance", status="fail",
                         created_at=t + timedelta(minutes=10))
    factory.check_result(daily["run_id"], "ledger_tamper", status="pass",
                         created_at=t + timedelta(minutes=10))
    for minutes in range(1, 30):  # older history of both
        old = factory.check_run(started_at=t - timedelta(minutes=minutes))
        factory.check_result(old["run_id"], "ledger_balance", status="warn",
                             created_at=t - timedelta(minutes=minutes))
    latest = {r["name"]: r for r in store.latest_results(recon.db)}
    assert latest["ledger_balance"]["run_id"] == minute["run_id"]
    assert latest["ledger_tamper"]["run_id"] == daily["run_id"]
    assert list(latest) == sorted(latest)


WORK_MEM = {"work_mem_seen": "SELECT current_setting('work_mem') AS work_mem"}


@pytest.mark.parametrize("engine, setting, seen", [
    ("sql", "96MB", "96MB"), ("sql", "2048kB", "2MB"), ("sql", "server", "4MB"),
    ("gx", "96MB", "96MB")])
def test_check_sessions_run_with_check_work_mem(tmp_path, db_url, engine, setting, seen):
    """CHECK_WORK_MEM reaches every check's session, whichever engine runs it (the full run's
    joins and GROUP BYs spill at the server's 4MB); `server` leaves the server's own."""
    make_catalogue(tmp_path, WORK_MEM)
    recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path, CHECK_WORK_MEM=setting))
    result = recon.checks.run(engine=engine, store=False).checks[0]
    assert result.rows == [{"work_mem": seen}]


@pytest.mark.parametrize("bad", ["64 MB", "64mb", "lots", "64MB; DROP", "0", " "])
def test_check_work_mem_is_validated_naming_the_setting(bad):
    with pytest.raises(ConfigError, match="CHECK_WORK_MEM.*PostgreSQL memory size"):
        Settings.load(env={"CHECK_WORK_MEM": bad})


def test_benchmark_raw_queries_run_with_check_work_mem(tmp_path, db_url):
    """`check-bench` times each check's raw query as the suite's baseline: it must run with the
    suite's work_mem, or suite / raw compares a spilling plan with one that fits."""
    from recon_bench.check_bench import run_bench

    make_catalogue(tmp_path, {"work_mem_seen": "SELECT 1 AS one "
                                               "WHERE current_setting('work_mem') = '96MB'"})
    recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path, CHECK_WORK_MEM="96MB"))
    assert recon.checks.check_db.session_settings["work_mem"] == "96MB"
    report = run_bench(recon.checks, gx=False, warmup=False)
    assert report.checks[0].raw_rows == 1  # the raw query saw 96MB
    server = Recon(settings_for(db_url, CHECKS_DIR=tmp_path, CHECK_WORK_MEM="server"))
    assert "work_mem" not in server.checks.check_db.session_settings
