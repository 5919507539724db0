"""A demo calls running only what it started (audit "small", item 6).

Two demos started at the same instant on the same ports both find the ports free; the second's
console then fails to bind, yet its readiness check connected to the first demo's console and it
listed its own console as running. The services here are real child processes started the way
the demo starts them (Demo._start), and the "first demo" is a real listener on 127.0.0.1."""

from __future__ import annotations

import socket
import sys
import time

from refplatform.demo import Demo, DemoOptions, Service

from .conftest import settings_for

# a console that cannot bind its port (taken by the other demo) says so and exits, as Streamlit
FAILS_TO_BIND = ("import socket, sys, time; time.sleep(0.3); s = socket.socket(); "
                 "s.bind(('127.0.0.1', int(sys.argv[1])))")
LISTENS = ("import socket, sys, time; s = socket.socket(); "
           "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(20)")


def _demo(url, tmp_path, code: str, port: int) -> tuple[Demo, list[str]]:
    said: list[str] = []
    demo = Demo(settings_for(url, SGE_RECON_HOME=str(tmp_path / "home")),
                DemoOptions(console_port=port), set(), echo=said.append)
    console = Service("console", [sys.executable, "-c", code, str(port)],
                      f"http://127.0.0.1:{port}", port)
    demo.services = [console]
    demo._start(console, {})
    return demo, said


def _console_line(said: list[str]) -> str:
    return next(line for line in said if line.strip().startswith("console"))


def test_a_console_answered_by_another_demo_is_not_listed_as_running(module_db_url, tmp_path):
    first = socket.socket()  # the first demo's console, already listening
    first.bind(("127.0.0.1", 0))
    first.listen()
    port = first.getsockname()[1]
    demo, said = _demo(module_db_url, tmp_path, FAILS_TO_BIND, port)
    try:
        demo._wait_ready(timeout=10)
        demo._print_addresses({})
    finally:
        demo.stop()
        first.close()
    line = _console_line(said)
    assert "running" not in line and "EXITED" in line, line


def test_a_console_that_listens_itself_is_running(module_db_url, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo, said = _demo(module_db_url, tmp_path, LISTENS, port)
    started = time.monotonic()
    try:
        demo._wait_ready(timeout=10)
        demo._print_addresses({})
    finally:
        demo.stop()
    assert time.monotonic() - started < 8
    assert "running" in _console_line(said), said
