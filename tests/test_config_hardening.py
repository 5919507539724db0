"""Configuration that cannot knock the product over: checks.yml is read with a safe loader that
refuses anchors/aliases (an alias bomb), non-text keys and oversized files; timeouts are bounded;
LEDGER_TOLERANCE must be positive. Bad input is `Error: ...` with exit 3, never a traceback."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest

from sge_recon.checks.loader import MAX_CATALOGUE_BYTES
from sge_recon.config import Settings, project_root
from sge_recon.errors import CheckDefinitionError, ConfigError

from .test_checks_runner import ENTRY, load, make_catalogue

ALIAS_BOMB = """\
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize("yml, message", [
    (ALIAS_BOMB, "anchors and aliases are refused"),
    (ENTRY.format(name="a").replace("  owner: tests\n", "  owner: &o tests\n"), "anchor &o"),
    (ENTRY.format(name="a") + "  timeout_seconds: 3000000\n", "from 1 to 3600"),
    (ENTRY.format(name="a") + "  timeout_seconds: 0\n", "from 1 to 3600"),
    (ENTRY.format(name="a") + "  timeout_seconds: 2.5\n", "from 1 to 3600"),
    ("? [a, b]\n: x\n", "a key must be plain text"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "checks.yml"),
])
def test_hostile_catalogues_are_refused_with_a_sentence(tmp_path, yml, message):
    make_catalogue(tmp_path, {"a": "SELECT 1"}, yml)
    started = time.monotonic()
    with pytest.raises(CheckDefinitionError, match=re.escape(message)) as err:
        load(tmp_path)
    assert time.monotonic() - started < 5  # refused before expanding anything
    assert "checks.yml" in str(err.value)


def test_an_oversized_catalogue_is_refused_unread(tmp_path):
    make_catalogue(tmp_path, {"a": "SELECT 1"}, ENTRY.format(name="a") +
                   "#" * (MAX_CATALOGUE_BYTES + 1) + "\n")
    with pytest.raises(CheckDefinitionError, match="larger than"):
        load(tmp_path)


def test_the_largest_timeout_loads(tmp_path):
    make_catalogue(tmp_path, {"a": "SELECT 1"},
                   ENTRY.format(name="a") + "  timeout_seconds: 3600\n")
    assert load(tmp_path)[0].timeout_seconds == 3600


@pytest.mark.parametrize("value", ["0", "-0.01", "0.000"])
def test_ledger_tolerance_must_be_positive(value):
    with pytest.raises(ConfigError, match=r"^LEDGER_TOLERANCE: must be greater than 0"):
        Settings.load(env={"LEDGER_TOLERANCE": value})


@pytest.mark.parametrize("value", ["1.000001", "2", "1e400"])
def test_ledger_tolerance_above_one_unit_is_refused(value):
    """1e400 passed every imbalance a ledger can hold: a tolerance is for rounding dust."""
    with pytest.raises(ConfigError, match=r"^LEDGER_TOLERANCE: must be at most 1 \(one whole "
                                          r"currency unit\)"):
        Settings.load(env={"LEDGER_TOLERANCE": value})
    assert Settings.load(env={"LEDGER_TOLERANCE": "1"}).LEDGER_TOLERANCE == 1


@pytest.mark.parametrize("yml", [ALIAS_BOMB, ": bad: [\n", "? [a]\n: x\n"])
def test_the_cli_says_error_and_exits_3_on_a_bad_catalogue(cli_env, tmp_path, yml):
    folder = tmp_path / "checks"
    shutil.copytree(project_root() / "checks", folder)
    (folder / "checks.yml").write_text(yml)
    cli_env["CHECKS_DIR"] = str(folder)
    proc = subprocess.run([sys.executable, "-m", "sge_recon", "check"], env=cli_env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr
