"""What `python3 dev.py …` does, once dev.py has checked that this is Python 3.11 or newer.

dev.py itself is written so that any Python parses it (2.7 and 3.0 on), so that on an older one
its "needs Python 3.11+" sentence is what a user sees, not a SyntaxError of a line below; this
module, loaded after that check, is free to use today's Python. Standard library only: it runs
before anything is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
UV_VERSION = "0.13.9"
CHROMIUM = "/usr/bin/chromium"
PROMTOOL = "/usr/bin/promtool"
REDIS_SERVER = "/usr/bin/redis-server"
DUCKDB14_VENV = ROOT / ".venv-duckdb14"
DUCKDB14 = "duckdb>=1.4,<1.5"  # DuckDB 1.4 LTS: the oldest reader audit.duckdb must open in


def say(msg: str) -> None:
    print(f"[dev] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> None:
    result = subprocess.run(cmd, cwd=ROOT, **kw)
    if result.returncode != 0:
        say(f"command failed ({result.returncode}): {' '.join(cmd)}")
        sys.exit(result.returncode)


def sync() -> None:
    if sys.version_info < (3, 11):
        say(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
        sys.exit(2)
    # Each step is checked by what it made, not by a file's presence: an install interrupted
    # (Ctrl-C, a kill, a full disk) leaves .venv/bin/python without pip, or a truncated
    # .venv/bin/uv, and the next run must repair that instead of trusting it for ever.
    if not _venv_usable():
        if VENV.exists():
            say(".venv is incomplete (an interrupted install?): creating it again")
        else:
            say("creating .venv")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    if _uv_version() != UV_VERSION:
        say(f"installing uv {UV_VERSION} into .venv")
        run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--force-reinstall", "--no-deps", f"uv=={UV_VERSION}"])
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV)}
    home = os.environ.get("HOME")
    if home and not os.path.isdir(home) and not os.environ.get("UV_CACHE_DIR"):
        # uv keeps its cache in ~/.cache/uv and stops when HOME is no folder (a service
        # account's HOME=/nonexistent): keep it beside the checkout's .venv instead
        env["UV_CACHE_DIR"] = str(ROOT / ".uv-cache")
    run([str(BIN / "uv"), "sync", "--frozen", "--quiet"], env=env)


def _venv_usable() -> bool:
    """``.venv`` has a Python that runs and a pip that runs (what installs uv into it)."""
    python = BIN / "python"
    if not python.exists():
        return False
    try:
        probe = subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True)
    except OSError:
        return False
    return probe.returncode == 0


def _uv_version() -> str | None:
    """The version of ``.venv/bin/uv`` (``uv 0.13.9 (…)``), or None when it does not run."""
    try:
        probe = subprocess.run([str(BIN / "uv"), "--version"], capture_output=True, text=True)
    except OSError:  # missing, not executable, truncated (exec format error)
        return None
    words = probe.stdout.split()
    return words[1] if probe.returncode == 0 and len(words) > 1 and words[0] == "uv" else None


def ensure_chromium() -> None:
    apt_install("chromium", CHROMIUM, "the browser test")


def ensure_promtool() -> None:
    apt_install("prometheus", PROMTOOL, "the Prometheus rules and /metrics tests")


def ensure_redis() -> None:
    apt_install("redis-server", REDIS_SERVER, "the BullMQ queue tests and `demo --profile sge`")


def ensure_duckdb14() -> Path:
    """``.venv-duckdb14/bin/python`` with DuckDB 1.4 LTS (a reader, not a project dependency)."""
    python = DUCKDB14_VENV / "bin" / "python"
    check = [str(python), "-c", "import duckdb, sys; sys.exit(duckdb.__version__[:4] != '1.4.')"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    say(f"creating {DUCKDB14_VENV.name} with {DUCKDB14} (the auditors' oldest DuckDB)")
    venv.EnvBuilder(with_pip=True, clear=True).create(DUCKDB14_VENV)
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", DUCKDB14])
    return python


def apt_install(package: str, path: str, needed_for: str) -> None:
    """Install Debian's ``package`` (which provides ``path``) when ``path`` is missing."""
    if Path(path).exists():
        return
    if not shutil.which("apt-get"):
        say(f"{path} is missing and apt-get is not available: install {package} so that "
            f"{path} exists, then run the tests again")
        sys.exit(2)
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    say(f"installing Debian's {package} for {needed_for} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(prefix + ["apt-get", "update", "-qq"], env=env)
    run(prefix + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        env=env, stdout=subprocess.DEVNULL)


def main(argv: list[str], usage: str) -> None:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage)
        return
    command, rest = argv[0], argv[1:]
    if command == "sync":
        sync()
    elif command == "demo":
        sync()
        ensure_redis()
        # the checkout's .sge-recon/ (database, accounts, keys), exports/ and sge-recon.toml, from
        # whatever folder `python3 /path/to/dev.py demo` is typed in (not a second database there)
        os.chdir(ROOT)
        os.execv(str(BIN / "sge-recon"), [str(BIN / "sge-recon"), "demo", *rest])
    elif command == "run":
        sync()
        os.execv(str(BIN / "sge-recon"), [str(BIN / "sge-recon"), *rest])
    elif command == "duckdb14":
        print(ensure_duckdb14())
    elif command == "test":
        sync()
        ensure_chromium()
        ensure_promtool()
        ensure_redis()
        ensure_duckdb14()
        os.chdir(ROOT)
        os.execv(str(BIN / "python"), [str(BIN / "python"), "-m", "pytest", *rest])
    else:
        say(f"unknown command {command!r}: use demo, test, sync, run or duckdb14")
        sys.exit(2)


def entry(usage: str) -> None:
    """dev.py's entry point: ``usage`` is its docstring (the help)."""
    try:
        main(sys.argv[1:], usage)
    except KeyboardInterrupt:
        say("interrupted; run the same command again to finish the install")
        sys.exit(130)
    except BrokenPipeError:
        # `python3 dev.py --help | head -3`: the reader has gone, nothing is left to say to it
        # (a BrokenPipeError traceback used to be the last thing printed)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
