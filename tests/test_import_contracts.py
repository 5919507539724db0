"""The house rules enforced by tools, in the test command (issue 12 item 8): the import contracts
of pyproject.toml [tool.importlinter] (CLI -> library -> data access; drivers only in the data
layer; streamlit only under app/; the product never imports the reference platform nor the bench
tooling; the reference platform uses only the product's public helpers), ruff's rule set
([tool.ruff]) and mypy on the library ([tool.mypy]). All run on the source, without a database:
the first two in a few seconds, mypy in about half a minute cold and a few seconds with its cache
(.mypy_cache/ in the checkout, kept between runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess:
    exe = BIN / tool
    assert exe.exists(), f"{exe} is missing: run `python3 dev.py sync` (dev dependency group)"
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_import_contracts_are_kept():
    result = run("lint-imports", "--no-cache")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_ruff_passes():
    result = run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_mypy_passes_on_the_library():
    # the files, the strictness and the untyped third-party modules: pyproject.toml [tool.mypy]
    result = run("mypy")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout
