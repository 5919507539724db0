"""`python3 dev.py …` on a fresh machine, and again after its install was interrupted.

Each test runs the project's real dev.py in a sandbox folder of its own (a copy of dev.py beside
a one-package project and its uv.lock, so `uv sync --frozen` has nothing to download): the real
venv, the real pip installing the pinned uv, the real uv.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".venv" / "bin" / "uv"
PYPROJECT = """[project]
name = "devpy-sandbox"
version = "0"
requires-python = ">=3.11"
dependencies = []

[tool.uv]
package = false
"""

pytestmark = pytest.mark.slow


def _uv_version_wanted() -> str:
    for line in (ROOT / "dev_commands.py").read_text().splitlines():
        if line.startswith("UV_VERSION = "):
            return line.split('"')[1]
    raise AssertionError("dev_commands.py pins no UV_VERSION")


def _sandbox(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    for name in ("dev.py", "dev_commands.py"):  # dev.py checks the version, then loads the other
        shutil.copy(ROOT / name, tmp / name)
    (tmp / "pyproject.toml").write_text(PYPROJECT)
    subprocess.run([str(UV), "lock", "--offline", "--quiet"], cwd=tmp, check=True)
    return tmp


def _sync(sandbox: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(sandbox / "dev.py"), "sync"], cwd=sandbox,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)


def _uv_runs(sandbox: Path) -> str:
    out = subprocess.run([str(sandbox / ".venv" / "bin" / "uv"), "--version"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A sandbox that `dev.py sync` has installed once."""
    sandbox = _sandbox(tmp_path_factory.mktemp("devpy") / "checkout")
    result = _sync(sandbox)
    assert result.returncode == 0, result.stderr
    return sandbox


def test_ctrl_c_while_the_venv_is_created_then_the_next_run_repairs_it(tmp_path):
    """Ctrl-C (SIGINT to the process group) while venv runs ensurepip leaves .venv/bin/python
    without pip; the next run used to trust that .venv for ever ("No module named pip")."""
    sandbox = _sandbox(tmp_path / "checkout")
    python = sandbox / ".venv" / "bin" / "python"
    proc = subprocess.Popen([sys.executable, str(sandbox / "dev.py"), "sync"], cwd=sandbox,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    # venv copies the interpreter, then makes it executable: wait for the second step, or the
    # signal may land between the two (stop 35's CI: "Permission denied" running the probe).
    while not _runnable(python) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _runnable(python), "dev.py never created an executable .venv/bin/python"
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in err, err
    assert "run the same command again" in err
    assert subprocess.run([str(python), "-m", "pip", "--version"],
                          capture_output=True).returncode != 0, "pip got installed after all"

    again = _sync(sandbox)
    assert again.returncode == 0, again.stderr
    assert ".venv is incomplete" in again.stderr
    assert _uv_runs(sandbox) == _uv_version_wanted()


def test_a_python_copied_but_not_yet_executable_is_created_again(installed):
    """A kill between venv's copy of the interpreter and its chmod leaves a .venv/bin/python
    that cannot be run at all; the next run must make .venv again, not stop on it."""
    python = installed / ".venv" / "bin" / "python"
    copied = python.read_bytes()
    python.unlink()  # a copy of its own: a chmod through a symlink would reach the real Python
    python.write_bytes(copied)
    python.chmod(0o644)

    result = _sync(installed)
    assert result.returncode == 0, result.stderr
    assert ".venv is incomplete" in result.stderr
    assert "Traceback" not in result.stderr
    assert _runnable(python)
    assert _uv_runs(installed) == _uv_version_wanted()


def test_a_truncated_uv_left_by_a_killed_install_is_installed_again(installed):
    """kill -9 while pip copies uv's 40 MB binary leaves a truncated, non-executable
    .venv/bin/uv; the next run used to fail on it with a PermissionError traceback."""
    uv = installed / ".venv" / "bin" / "uv"
    head = uv.read_bytes()[:262_144]
    uv.unlink()
    uv.write_bytes(head)
    uv.chmod(0o644)

    result = _sync(installed)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert _uv_runs(installed) == _uv_version_wanted()


def test_a_uv_of_another_version_is_replaced_by_the_pinned_one(installed):
    """A .venv made when dev.py pinned another uv keeps that uv unless dev.py checks it."""
    uv = installed / ".venv" / "bin" / "uv"
    uv.unlink()
    uv.write_text("#!/bin/sh\necho 'uv 0.1.0 (old)'\n")
    uv.chmod(0o755)

    result = _sync(installed)
    assert result.returncode == 0, result.stderr
    assert _uv_runs(installed) == _uv_version_wanted()


def test_the_demo_runs_in_the_checkout_from_any_working_folder(installed, tmp_path):
    """`python3 /path/to/dev.py demo` typed in another folder used to run the demo there: a
    second .sge-recon/ (a new database, new accounts and keys) and exports/ in that folder."""
    probe = installed / ".venv" / "bin" / "sge-recon"  # what dev.py execs: says where it runs
    probe.write_text(f"#!{sys.executable}\nimport os, sys\nprint(os.getcwd(), *sys.argv[1:])\n")
    probe.chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, str(installed / "dev.py"), "demo", "--clean"],
                            cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(installed), "demo", "--clean"]


def test_sync_works_when_home_is_not_a_folder(installed):
    """HOME=/nonexistent (a service account) or a file: uv could not make ~/.cache/uv and every
    dev.py command stopped ('failed to create directory `/dev/null/.cache/uv`')."""
    env = {**os.environ, "HOME": os.devnull}
    env.pop("UV_CACHE_DIR", None)
    result = subprocess.run([sys.executable, str(installed / "dev.py"), "sync"], cwd=installed,
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
