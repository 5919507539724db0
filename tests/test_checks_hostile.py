"""The check machinery against hostile results: values and columns a check's SELECT may return
(NaN, infinities, 40-digit numbers, bytea, intervals, json holding money, ...) give valid, exact
and storable results, and never crash the run (which lost every other check's result)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from sge_recon.checks.loader import load_catalogue
from sge_recon.checks.params import check_params
from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.errors import CheckDefinitionError

from .conftest import settings_for
from .test_checks_runner import make_catalogue, sge_recon

METRIC = """\
{name}:
  description: test metric {name}
  priority: P2
  owner: tests
  runbook: do something
  kind: metric
  value: max(v)
  thresholds:
    fail: value > 10
"""


def run_catalogue(directory, url, checks: dict[str, str], yml: str | None = None):
    make_catalogue(directory, checks, yml)
    recon = Recon(settings_for(url, CHECKS_DIR=directory))
    run = recon.checks.run()
    return recon, run


# -- values ----------------------------------------------------------------------------------------
VALUES = {
    "m_nan": "SELECT 'NaN'::numeric AS v",
    "m_inf": "SELECT 'Infinity'::numeric AS v",
    "m_minus_inf": "SELECT '-Infinity'::numeric AS v",
    "m_wide_whole": "SELECT 1e40::numeric AS v",
    "m_wide_fraction": "SELECT 1234567890123456789012345678901.5::numeric AS v",
    "m_small": "SELECT 0.000000000000000000000000000000000000001::numeric AS v",
}


def test_non_finite_and_forty_digit_values_are_judged_exactly_and_never_crash(tmp_path,
                                                                             module_db_url):
    yml = "".join(METRIC.format(name=n) for n in VALUES)
    recon, run = run_catalogue(tmp_path, module_db_url, VALUES, yml)
    got = run.by_name()
    for name in ("m_nan", "m_inf", "m_minus_inf"):  # no verdict on a non-number: never a pass
        assert got[name].status == "error" and "not a finite measurement" in got[name].error
    assert (got["m_wide_whole"].status, got["m_wide_whole"].value) == ("fail", Decimal(10) ** 40)
    # exact, not rounded to 28 digits
    assert got["m_wide_fraction"].value == Decimal("1234567890123456789012345678901.5")
    assert got["m_small"].status == "pass"
    assert got["m_small"].value == Decimal("1E-39")
    assert run.exit_code() == 3
    stored = recon.checks.latest().by_name()
    assert stored["m_wide_fraction"].value == Decimal("1234567890123456789012345678901.5")


@pytest.mark.parametrize("if_empty", [".nan", ".inf", "-.inf", "NaN", "Infinity"])
def test_a_non_finite_value_if_empty_is_refused_at_load(tmp_path, if_empty):
    yml = METRIC.format(name="m") + f"  value_if_empty: {if_empty}\n"
    make_catalogue(tmp_path, {"m": "SELECT 1 AS v WHERE false"}, yml)
    with pytest.raises(CheckDefinitionError, match="value_if_empty must be a finite number"):
        load_catalogue(tmp_path, check_params(Settings.load(env={})))


# -- row values ------------------------------------------------------------------------------------
HOSTILE = {
    "bytea_col": r"SELECT '\xdeadbeef'::bytea AS b",
    "interval_time_col": "SELECT interval '1 day 2 hours' AS i, '10:00'::time AS t",
    "inet_range_col": "SELECT '10.0.0.1'::inet AS ip, numrange(1.5, 2.5) AS r",
    "json_money": """SELECT '{"amount": 12345678901234567890.123456789012, "e": 1e400}'::json AS j,
                     '{"amount": 0.1}'::jsonb AS jb, '{"a": "x\\u0000y"}'::json AS nul""",
    "not_numbers": "SELECT 'NaN'::numeric AS n, 'NaN'::float8 AS f, "
                   "'-Infinity'::float8 AS finf, 'NaN'::numeric AS wait_seconds",
    "infinite_times": "SELECT 'infinity'::timestamptz AS t, '-infinity'::date AS d, "
                      "'4713-01-01 BC'::date AS bc",
    "money_fails": "SELECT 'EUR' AS currency, 0.01::numeric(38,6) AS difference",
}


def strict_json(text: str):
    def refuse(word):
        raise ValueError(f"not JSON: {word}")
    return json.loads(text, parse_constant=refuse)


def test_hostile_column_types_print_valid_exact_json_and_are_stored(tmp_path, cli_env):
    make_catalogue(tmp_path, HOSTILE)
    done = sge_recon(["check", "--format", "json"], {**cli_env, "CHECKS_DIR": str(tmp_path)})
    # every check ran and failed (data bad: exit 2); before, the run crashed with a traceback,
    # exit 1 ("warnings only") and nothing stored, the money check's fail with it
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    checks = {c["name"]: c for c in strict_json(done.stdout)["checks"]}
    assert {c["status"] for c in checks.values()} == {"fail"}
    rows = {name: c["rows"][0] for name, c in checks.items()}
    assert rows["bytea_col"] == {"b": r"\xdeadbeef"}
    assert rows["interval_time_col"]["t"] == "10:00:00" and rows["interval_time_col"]["i"]
    assert rows["inet_range_col"] == {"ip": "10.0.0.1", "r": "[1.5, 2.5)"}
    # money nested in json stays exact (it was a float: 1.2345678901234567e+19)
    assert rows["json_money"]["j"]["amount"] == "12345678901234567890.123456789012"
    assert rows["json_money"]["jb"] == {"amount": "0.1"}
    assert rows["json_money"]["nul"] == {"a": "x\ufffdy"}
    assert rows["not_numbers"] == {"n": "NaN", "f": "NaN", "finf": "-Infinity",
                                   "wait_seconds": "NaN"}
    assert rows["infinite_times"] == {"t": "infinity", "d": "-infinity", "bc": "4713-01-01 BC"}
    assert rows["money_fails"] == {"currency": "EUR", "difference": "0.010000"}

    recon = Recon(settings_for(cli_env["DATABASE_URL"], CHECKS_DIR=tmp_path))
    stored = recon.checks.latest().by_name()
    assert set(stored) == set(HOSTILE)
    assert stored["money_fails"].rows == [{"currency": "EUR", "difference": Decimal("0.010000")}]
    assert stored["json_money"].rows[0]["j"]["amount"] == "12345678901234567890.123456789012"


def test_the_table_shows_hostile_values_as_text(tmp_path, cli_env):
    make_catalogue(tmp_path, HOSTILE)
    done = sge_recon(["check", "--no-store"], {**cli_env, "CHECKS_DIR": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert r"b=\xdeadbeef" in done.stdout and "t=infinity" in done.stdout
    assert re.search(r"Overall: FAIL \(7 fail", done.stdout)


# -- check files -----------------------------------------------------------------------------------
def test_a_bom_and_escape_strings_are_read_as_postgresql_reads_them(tmp_path, module_db_url):
    checks = {
        # E'…' with \' inside: the ';' and ':name' are in the string, the placeholder outside
        "escape_string": r"SELECT E'it\'s; :queue_depth_warn \\' AS t, :queue_depth_warn AS n",
        "bom": "SELECT 'EUR' AS currency",
        "not_an_escape": "SELECT 'x' AS type, 'it''s' AS e",  # a word ending in e before '
    }
    make_catalogue(tmp_path, checks)
    (tmp_path / "bom.sql").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "bom.sql").read_bytes())
    recon = Recon(settings_for(module_db_url, CHECKS_DIR=tmp_path, QUEUE_DEPTH_WARN=7))
    got = recon.checks.run(store=False).by_name()
    assert {n: (c.status, c.error) for n, c in got.items()} == {
        "escape_string": ("fail", None), "bom": ("fail", None), "not_an_escape": ("fail", None)}
    assert got["escape_string"].rows == [{"t": "it's; :queue_depth_warn \\", "n": 7}]
    assert got["bom"].rows == [{"currency": "EUR"}]


def test_repeated_column_names_keep_every_value(tmp_path, module_db_url):
    checks = {
        # a join's two ids: the sample showed one `id` only, the other silently dropped
        "joined": "SELECT e.id, c.id, c.amount FROM (SELECT 7 AS id) e, "
                  "(SELECT 9 AS id, 1.50::numeric AS amount) c",
        "reserved": "SELECT 5 AS __sge_failing_rows, 'x' AS __sge_value",
        "totalled": "SELECT 'EUR' AS currency, 2.5 AS amount, 1 AS x, 2 AS x, "
                    "'t' AS __sge_totals",
    }
    yml = "".join(f"{n}:\n  description: t\n  priority: P2\n  owner: t\n  runbook: r\n"
                  "  kind: rows\n  totals:\n    money: sum(amount) by currency\n  thresholds:\n"
                  "    fail: failing_rows > 0\n" if n == "totalled" else
                  f"{n}:\n  description: t\n  priority: P2\n  owner: t\n  runbook: r\n"
                  "  kind: rows\n  thresholds:\n    fail: failing_rows > 0\n" for n in checks)
    recon, run = run_catalogue(tmp_path, module_db_url, checks, yml)
    got = run.by_name()
    assert got["reserved"].failing_rows == 1
    assert got["reserved"].rows == [{"__sge_failing_rows_2": 5, "__sge_value_2": "x"}]
    assert got["joined"].rows == [{"id": 7, "id_2": 9, "amount": Decimal("1.50")}]
    assert got["totalled"].rows == [{"currency": "EUR", "amount": Decimal("2.5"), "x": 1,
                                     "x_2": 2, "__sge_totals_2": "t"}]
    assert got["totalled"].totals("money")["EUR"].sum == Decimal("2.5")
    stored = recon.checks.latest().by_name()
    assert stored["joined"].rows == [{"id": 7, "id_2": 9, "amount": Decimal("1.50")}]


def test_wide_cells_are_cut_so_a_run_stays_bounded(tmp_path, cli_env):
    checks = {
        # a platform that stored a receiver's 5 MB error page as last_error
        "wide": "SELECT i AS id, repeat('x', 5000000) AS last_error, "
                "decode(repeat('ab', 300000), 'hex') AS b, "
                "(SELECT jsonb_agg(g) FROM generate_series(1, 100000) g) AS j, "
                "'short' AS note FROM generate_series(1, 5) i",
    }
    make_catalogue(tmp_path, checks)
    done = sge_recon(["check", "--format", "json"], {**cli_env, "CHECKS_DIR": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert len(done.stdout) < 200_000  # was 25 MB: 5 rows of a 5 MB text
    (check,) = strict_json(done.stdout)["checks"]
    assert check["failing_rows"] == 5 and len(check["rows"]) == 5
    row = check["rows"][0]
    assert row["note"] == "short" and row["id"] == 1
    assert row["last_error"] == "x" * 10_000 + "… [4990000 more characters not kept]"
    assert row["b"].startswith(r"\xabab") and row["b"].endswith("[590002 more characters not kept]")
    assert row["j"].startswith("[1, 2, 3") and row["j"].endswith("more characters not kept]")
    stored = Database(cli_env["DATABASE_URL"]).fetch_one(
        "SELECT pg_column_size(rows) AS size FROM recon.check_results WHERE name = 'wide'")
    assert stored["size"] < 200_000


def test_a_check_cannot_change_the_session_of_the_checks_after_it(tmp_path, module_db_url):
    checks = {
        "a_sets": "SELECT set_config('TimeZone', 'Pacific/Kiritimati', false) AS tz, "
                  "set_config('search_path', 'pg_catalog', false) AS path",
        "b_reads": "SELECT current_setting('TimeZone') AS tz, "
                   "current_setting('search_path') AS path",
    }
    make_catalogue(tmp_path, checks)
    recon = Recon(settings_for(module_db_url, CHECKS_DIR=tmp_path, CHECK_SESSIONS=1))
    fresh = Database(module_db_url).fetch_one(
        "SELECT current_setting('TimeZone') AS tz, current_setting('search_path') AS path")
    got = recon.checks.run(store=False).by_name()
    assert got["a_sets"].rows == [{"tz": "Pacific/Kiritimati", "path": "pg_catalog"}]
    # the same session, as a new one: a's session-wide set_config was rolled back with it
    assert got["b_reads"].rows == [fresh]


@pytest.mark.slow  # imports Great Expectations (~5 s)
def test_the_gx_engine_stores_non_finite_floats_too(tmp_path, cli_env):
    checks = {"floats": """SELECT '{"e": 1e400}'::json AS j, 'NaN'::float8 AS f""",
              "money_fails": HOSTILE["money_fails"]}
    make_catalogue(tmp_path, checks)
    done = sge_recon(["check", "--engine", "gx", "--format", "json"],
                     {**cli_env, "CHECKS_DIR": str(tmp_path)})
    # GX's result (stored as the details) held Infinity: storing the run crashed, exit 1
    assert done.returncode == 2, done.stderr
    checks_out = {c["name"]: c for c in strict_json(done.stdout)["checks"]}
    assert checks_out["floats"]["rows"] == [{"j": {"e": "Infinity"}, "f": "NaN"}]
    recon = Recon(settings_for(cli_env["DATABASE_URL"], CHECKS_DIR=tmp_path))
    assert {c.name: c.status for c in recon.checks.latest().checks} == {
        "floats": "fail", "money_fails": "fail"}


def test_totals_keep_every_group_null_and_empty_apart(tmp_path, module_db_url):
    checks = {"ledger_off": "SELECT * FROM (VALUES (NULL::text, -5.00::numeric), ('', 7.00), "
                     "('EUR', 1.00), ('EUR', -2.00)) v(currency, difference)"}
    yml = ("ledger_off:\n  description: t\n  priority: P0\n  owner: t\n  runbook: r\n  kind: rows\n"
           "  totals:\n    off_by: sum(abs(difference)) by currency\n"
           "  thresholds:\n    fail: failing_rows > 0\n")
    recon, run = run_catalogue(tmp_path, module_db_url, checks, yml)
    (result,) = run.checks
    totals = {k: (t.count, t.sum) for k, t in result.totals("off_by").items()}
    # the NULL and '' groups were both keyed '': one of them (7.00 here) was silently dropped,
    # understating the money at stake the alerts and /metrics read
    assert totals == {"(null)": (1, Decimal("5.00")), "": (1, Decimal("7.00")),
                      "EUR": (2, Decimal("3.00"))}
    assert sum(c for c, _ in totals.values()) == result.failing_rows == 4
    stored = recon.checks.latest().checks[0].totals("off_by")
    assert {k: t.sum for k, t in stored.items()} == {k: s for k, (_, s) in totals.items()}


@pytest.mark.parametrize("name", ["off", "yes", "null"])
def test_a_check_name_yaml_reads_as_a_boolean_says_so(tmp_path, name):
    make_catalogue(tmp_path, {name: "SELECT 1 WHERE false"})
    # it said "no entry for off.sql" beside an entry named off
    with pytest.raises(CheckDefinitionError, match="quote the name"):
        load_catalogue(tmp_path, check_params(Settings.load(env={})))


def test_an_error_quoting_a_huge_value_stays_bounded(tmp_path, cli_env):
    make_catalogue(tmp_path, {"bad_cast": "SELECT repeat('x', 3000000)::int AS v"})
    done = sge_recon(["check", "--format", "json"], {**cli_env, "CHECKS_DIR": str(tmp_path)})
    assert done.returncode == 3, done.stderr
    (check,) = strict_json(done.stdout)["checks"]
    # PostgreSQL's message quotes the 3 MB value: it was printed, and stored twice
    assert check["error"].startswith("the check's SQL failed: invalid input syntax")
    assert check["error"].endswith("more characters not kept]") and len(check["error"]) < 2100
    stored = Database(cli_env["DATABASE_URL"]).fetch_one(
        "SELECT length(r.error) AS result, length(c.error) AS run FROM recon.check_results r "
        "JOIN recon.check_runs c USING (run_id) WHERE r.name = 'bad_cast'")
    assert stored["result"] < 2100 and stored["run"] < 2100
