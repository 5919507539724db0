"""`sge-recon console` starts whatever HOME is: a service account's HOME may be no folder."""

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
