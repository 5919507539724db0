"""Threshold value objects and the SQL text helpers: pure functions, boundary tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sge_recon.checks import sqltext
from sge_recon.checks.thresholds import parse_thresholds
from sge_recon.errors import CheckDefinitionError

PARAMS = {"queue_depth_warn": 100, "queue_depth_fail": 500,
          "processing_time_warn_seconds": Decimal("5"),
          "processing_time_fail_seconds": Decimal("15"), "webhook_retry_warn_count": 5}


def thresholds(spec, *, has_value=True, counts_rows=True):
    return parse_thresholds(spec, PARAMS, where="checks.yml: t", has_value=has_value,
                            counts_rows=counts_rows)


QUEUE = {"fail": "value > queue_depth_fail", "warn": "value >= queue_depth_warn"}
PROCESSING = {"fail": "value > processing_time_fail_seconds",
              "warn": "value >= processing_time_warn_seconds"}


@pytest.mark.parametrize("value, status", [
    (None, "pass"), (0, "pass"), (99, "pass"), (100, "warn"), (101, "warn"), (499, "warn"),
    (500, "warn"), (501, "fail"), (10**9, "fail")])
def test_queue_depth_table(value, status):
    assert thresholds(QUEUE, counts_rows=False).status(value=value) == status


@pytest.mark.parametrize("value, status", [
    ("0", "pass"), ("4.999999", "pass"), ("5", "warn"), ("5.000001", "warn"), ("15", "warn"),
    ("15.000001", "fail"), ("300", "fail")])
def test_processing_time_table(value, status):
    assert thresholds(PROCESSING, counts_rows=False).status(value=Decimal(value)) == status


@pytest.mark.parametrize("rows, status", [(0, "pass"), (5, "pass"), (6, "warn"), (60, "warn")])
def test_count_table(rows, status):
    assert thresholds({"warn": "failing_rows > webhook_retry_warn_count"},
                      has_value=False).status(failing_rows=rows) == status


def test_fail_is_evaluated_before_warn():
    t = thresholds({"warn": "failing_rows > 0", "fail": "value >= 900"})
    assert t.status(failing_rows=1, value=Decimal(901)) == "fail"
    assert t.status(failing_rows=1, value=Decimal(899)) == "warn"
    assert t.status(failing_rows=0, value=None) == "pass"


def test_summary_is_readable():
    assert thresholds(QUEUE, counts_rows=False).summary() == (
        "fail when value > 500 (queue_depth_fail); warn when value >= 100 (queue_depth_warn)")


@pytest.mark.parametrize("spec, kwargs, message", [
    ({"warn": "failing_rows < 0"}, {}, "never negative"),
    ({"fail": "failing_rows <= -1"}, {}, "never negative"),
    ({"fail": "value > 3"}, {"has_value": False}, "has no value"),
    ({"fail": "failing_rows > 0"}, {"counts_rows": False}, "no failing_rows"),
    ({"fail": "value > 100", "warn": "value > 500"}, {}, "already fails"),
    ({"fail": "value >= 100", "warn": "value > 100"}, {}, "already fails"),
    ({"fail": "value > queue_depth_warn", "warn": "value > queue_depth_fail"}, {},
     "already fails"),
])
def test_thresholds_that_can_never_fire_are_rejected(spec, kwargs, message):
    with pytest.raises(CheckDefinitionError, match=message):
        thresholds(spec, **kwargs)


@pytest.mark.parametrize("spec, message", [
    ({"critical": "value > 1"}, "unknown threshold level"),
    ({"fail": "rows > 1"}, "unknown subject"),
    ({"fail": "value > nope"}, "unknown parameter 'nope'"),
    ({"fail": "value ~ 1"}, "is not '<subject> <op> <bound>'"),
    ({}, "must map fail/warn"),
    # an empty list leaves a check that can never fail: a P0 check with `fail: []` passed
    ({"fail": []}, "names no threshold"),
    ({"fail": "value > 5", "warn": []}, "names no threshold"),
])
def test_bad_threshold_syntax(spec, message):
    with pytest.raises(CheckDefinitionError, match=message):
        thresholds(spec)


def test_warn_above_fail_in_the_other_direction_is_allowed():
    t = thresholds({"fail": "value < 1", "warn": "value < 5"})
    assert [t.status(value=v) for v in (0, 1, 4, 5)] == ["fail", "warn", "warn", "pass"]


# -- SQL text ------------------------------------------------------------------------------------
SQL = """-- a comment with :not_a_param and a ; semicolon
WITH x AS (SELECT '{literal}:%' AS s, 1::numeric AS n /* :also_not */)
SELECT s, n FROM x WHERE n > :queue_depth_warn AND s LIKE 'a:b%' AND $$ :nor_this $$ <> ''
ORDER BY 1;  -- trailing
;
"""


def test_clean_select_strips_trailing_semicolons_and_comments():
    cleaned = sqltext.clean_select(SQL, "t.sql")
    assert cleaned.rstrip().endswith("ORDER BY 1")
    assert sqltext.placeholders(cleaned) == {"queue_depth_warn"}


def test_psycopg_form_binds_placeholders_and_doubles_percent():
    text = sqltext.for_psycopg(sqltext.clean_select(SQL, "t.sql"))
    assert "n > %(queue_depth_warn)s" in text
    assert "'{literal}:%%'" in text and "LIKE 'a:b%%'" in text and "1::numeric" in text


def test_literal_rendering_and_gx_escaping():
    rendered = sqltext.render_literals("SELECT 1 WHERE x > :a AND y < :b AND z = ':a'",
                                       {"a": Decimal("0.01"), "b": -3})
    assert rendered == "SELECT 1 WHERE x > 0.01 AND y < (-3) AND z = ':a'"
    assert sqltext.escape_for_gx("SELECT '{x}', ':a', 1::int") == \
        "SELECT '{{x}}', '\\:a', 1::int"


@pytest.mark.parametrize("bad", ["SELECT 1; SELECT 2", "", "  -- only a comment\n",
                                 "DELETE FROM public.jobs"])
def test_clean_select_rejects_non_queries(bad):
    with pytest.raises(CheckDefinitionError):
        sqltext.clean_select(bad, "t.sql")


@pytest.mark.parametrize("value", [float("nan"), "1; DROP TABLE x", True, Decimal("Infinity")])
def test_only_plain_numbers_are_rendered(value):
    with pytest.raises(CheckDefinitionError):
        sqltext.numeric_literal("p", value)
