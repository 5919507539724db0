"""The check machinery against hostile results: values and columns a check's SELECT may return
(NaN, infinities, 40-digit numbers, bytea, intervals, json holding money, ...) give valid, exact
and storable results, and never crash the run (which lost every other check's result)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sge_recon.checks.loader import load_catalogue
from sge_recon.checks.params import check_params
from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.errors import CheckDefinitionError

from .conftest import settings_for
from .test_checks_runner import make_catalogue

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
