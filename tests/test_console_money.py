"""The console shows money exactly: never a float, never a dropped cent or a lost micro-unit."""

import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))
import console_kit as kit  # noqa: E402


@pytest.mark.parametrize("value, shown", [
    ("52.2", "52.20"),
    ("774.430000", "774.43"),
    ("0.000001", "0.000001"),
    ("0.004", "0.004"),
    ("1234567.5", "1,234,567.50"),
    ("12345678901234567890123456789012.123456", "12,345,678,901,234,567,890,123,456,789,012.123456"),
    ("-0.01", "-0.01"),
    ("0E-6", "0.00"),
])
def test_exact_money_text(value, shown):
    assert kit.exact(Decimal(value)) == shown


def test_non_money_values_pass_through():
    assert kit.exact(7) == 7 and kit.exact("x") == "x" and kit.exact(None) is None
