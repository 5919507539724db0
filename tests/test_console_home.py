"""`sge-recon console` as a process: it starts whatever HOME is (a service account's HOME may be no
folder), and its Streamlit child never outlives it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except OSError as exc:
        return int(getattr(exc, "code", 0) or 0)


def test_the_console_starts_when_home_is_not_a_folder(cli_env, tmp_path):
    """HOME=/dev/null used to stop Streamlit with NotADirectoryError ('/dev/null/.streamlit/
    secrets.toml'), and the demo with it ('the demo's console exited with code 3')."""
    port = _free_port()
    env = {**cli_env, "HOME": os.devnull}
    console = subprocess.Popen([sys.executable, "-m", "sge_recon", "console", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while _status(f"http://127.0.0.1:{port}/") != 200:
            assert console.poll() is None, console.communicate()[0]
            assert time.monotonic() < deadline, "the console never answered"
            time.sleep(0.5)
        console.send_signal(signal.SIGTERM)
        out, _ = console.communicate(timeout=30)
    finally:
        if console.poll() is None:
            console.kill()
    assert f"HOME ({os.devnull}) is not a folder" in out
    assert "Traceback" not in out


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_streamlit_dies_with_the_console_command_that_started_it(cli_env):
    """`sge-recon console` killed with -9 (as the demo's stop ends one slow to stop) left its
    Streamlit child running, holding the port, with nobody to stop it."""
    port = _free_port()
    console = subprocess.Popen([sys.executable, "-m", "sge_recon", "console", "--port", str(port)],
                               env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    streamlit: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while _status(f"http://127.0.0.1:{port}/") != 200:
            assert console.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        streamlit = _children(console.pid)
        assert len(streamlit) == 1
        console.kill()
        console.wait(timeout=10)
        deadline = time.monotonic() + 20
        while _alive(streamlit[0]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(streamlit[0]), "Streamlit outlived the console command"
    finally:
        if console.poll() is None:
            console.kill()
        for pid in streamlit:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
