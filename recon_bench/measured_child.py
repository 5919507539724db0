"""Run a command in a child process and measure its wall time and its OWN peak RSS.

Why a launcher: Linux carries a process's peak RSS over ``exec`` (the kernel keeps the larger of
the old and the new address space's high-water mark in the child's ``ru_maxrss``), so a child
spawned straight from a large benchmark process reports the benchmark's own size: a 1.1 GB
bench that has just run DuckDB made a 258 MB export read as 1,173 MB. A small launcher (this
module, run as ``python -m recon_bench.measured_child``) is started first; the command is ITS
child, whose peak starts from the launcher's ~15 MB, and the launcher hands back wait4's figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from sge_recon.errors import UsageError


def run_child(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Run ``cmd``; its wall seconds, its peak RSS in MB (wait4's ru_maxrss, measured by a small
    launcher) and its stdout. Raises :class:`UsageError` with the last line of its stderr when it
    fails."""
    clock = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json") as figures:
        launcher = [sys.executable, "-m", "recon_bench.measured_child", figures.name, "--", *cmd]
        code = subprocess.run(launcher, env=env, stdout=out, stderr=err).returncode
        wall = time.perf_counter() - clock
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        measured = json.loads(figures.read() or b"{}")
    if code != 0 or "maxrss_kb" not in measured:
        raise UsageError(f"{' '.join(cmd[2:5])} failed with exit code {code}: "
                         f"{stderr.strip().splitlines()[-1] if stderr.strip() else 'no output'}")
    return wall, measured["maxrss_kb"] / 1024, stdout


def _launch(figures_path: str, cmd: list[str]) -> int:
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(figures_path, "w") as figures:
        json.dump({"code": code, "maxrss_kb": usage.ru_maxrss}, figures)
    return code


if __name__ == "__main__":
    figures_path, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        raise SystemExit("usage: python -m recon_bench.measured_child FIGURES.json -- COMMAND …")
    raise SystemExit(_launch(figures_path, command))
