"""`python3 dev.py …` on a Python older than 3.11 says so (audit "small", item 1).

dev.py was written in today's Python (annotations, f-strings, `from __future__ import
annotations`): Python 2.7 and 3.6 stopped at a SyntaxError before its own "Python 3.11 or newer
is needed" check could speak. dev.py is now written in a syntax every Python parses and loads
dev_commands.py after the check. Proved three ways: its syntax tree uses nothing Python 2.7 or
3.4 lacks, lib2to3's Python 2 grammar parses it, and the real file is run by every older Python
found on this machine (pyenv's 2.7 and 3.6 here) and by this one with an older version claimed.
"""

from __future__ import annotations

import ast
import glob
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "dev.py"
NEEDED = "[dev] Python 3.11 or newer is needed, this is "

# syntax that Python 2.7 (or 3.0-3.5) cannot parse
NEWER_NODES = (ast.JoinedStr, ast.FormattedValue, ast.AnnAssign, ast.AsyncFunctionDef,
               ast.AsyncFor, ast.AsyncWith, ast.Await, ast.NamedExpr, ast.Nonlocal, ast.YieldFrom,
               ast.Starred, ast.MatMult)


def _newer_syntax(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", "?")
        if isinstance(node, NEWER_NODES):
            found.append(f"line {line}: {type(node).__name__}")
        if isinstance(node, ast.arguments) and (node.posonlyargs or node.kwonlyargs):
            found.append(f"line {line}: keyword-only or positional-only parameters")
        if isinstance(node, ast.arg) and node.annotation is not None:
            found.append(f"line {line}: annotation of {node.arg}")
        if isinstance(node, ast.FunctionDef) and node.returns is not None:
            found.append(f"line {line}: return annotation of {node.name}")
        if isinstance(node, ast.Raise) and node.cause is not None:
            found.append(f"line {line}: raise … from")
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            found.append(f"line {line}: from __future__ import (2.7 knows only some)")
    return found


def test_dev_py_uses_only_syntax_every_python_parses():
    source = DEV.read_text(encoding="utf-8")
    source.encode("ascii")  # Python 2 refuses a non-ASCII file without a coding line
    assert _newer_syntax(source) == []
    ast.parse(source, feature_version=(3, 4))  # the oldest grammar ast still checks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lib2to3 is deprecated, its Python 2 grammar is not
        try:
            from lib2to3 import pygram, pytree
            from lib2to3.pgen2 import driver
        except ImportError:  # Python 3.13 removed it: the two proofs above and the runs remain
            return
        driver.Driver(pygram.python_grammar, convert=pytree.convert).parse_string(source)


def _older_pythons() -> list[str]:
    found = glob.glob("/root/.pyenv/versions/[23].*/bin/python") + glob.glob("/usr/bin/python2*")
    return [p for p in found if "/3.1" not in p or "/3.10" in p]  # 2.x and 3.0-3.10


def test_an_older_python_gets_the_sentence_not_a_syntax_error(tmp_path):
    # this Python claiming an older version runs the real file's check...
    claim = ("import runpy, sys; sys.version_info = (3, 6, 15, 'final', 0); "
             "sys.version = '3.6.15 (claimed)'; sys.argv = [sys.argv[1], 'sync']; "
             "runpy.run_path(sys.argv[0], run_name='__main__')")
    runs = [[sys.executable, "-c", claim, str(DEV)]]
    # ...and so does every real older Python on this machine
    runs += [[python, str(DEV), "sync"] for python in _older_pythons()]
    for argv in runs:
        result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (argv, result.stderr)
        assert result.stderr.startswith(NEEDED), (argv, result.stderr)
        assert "SyntaxError" not in result.stderr and "Traceback" not in result.stderr


def test_dev_py_still_runs_its_commands_on_this_python(tmp_path):
    """Typed in another folder too: dev_commands.py is found beside dev.py."""
    shown = subprocess.run([sys.executable, str(DEV), "--help"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "python3 dev.py demo" in shown.stdout, shown.stderr
    wrong = subprocess.run([sys.executable, str(DEV), "dmeo"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2
    assert wrong.stderr == "[dev] unknown command 'dmeo': use demo, test, sync, run or duckdb14\n"


def test_help_into_a_pipe_whose_reader_left_is_no_traceback(tmp_path):
    """`python3 dev.py --help | head -3`: when head has gone before the help is written, dev.py
    printed a BrokenPipeError traceback. A pipe whose read end is closed makes it certain."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, str(DEV), "--help"], cwd=tmp_path,
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")
