"""The console's first Overview render in a real browser (issue 18.4: ≤ 2 s after the console
answers): how long after a fresh `sge-recon console` process answers on its port a visitor sees
the Overview fully drawn (its four lights, the last reconciliation run and the refresh line) in
headless Chromium. Each run starts a new console process (the first page run of a process is the
one that pays for imports and cold caches); the browser is up before the console starts, so its
own start is not counted, but loading Streamlit's JavaScript is (a visitor waits for it too).

When console accounts exist, the browser carries a session of the first enabled account (the
`sge_recon_session` cookie, as after a sign-in), so the Overview opens without the form. Needs
playwright (a dev dependency) and Debian's chromium (`python3 dev.py test` installs both); without
them :func:`first_render` says why and measures nothing."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sge_recon.context import Recon

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
# (document.body is null for a moment after the navigation commits)
DRAWN = ("() => document.body !== null && ['Ledger status', 'Last reconciliation run', "
         "'refreshes every'].every(t => document.body.innerText.includes(t))")


@dataclass
class FirstRender:
    drawn_s: list[float] = field(default_factory=list)  # console answered -> Overview drawn
    answered_s: list[float] = field(default_factory=list)  # process start -> port answered
    skipped: str | None = None  # why nothing was measured

    @property
    def median_s(self) -> float:
        return statistics.median(self.drawn_s)


def missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (a dev dependency: `python3 dev.py sync`)"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_run(pw, env: dict[str, str], token: str | None) -> tuple[float, float]:
    """(seconds until the port answered, seconds from then until the Overview was drawn)."""
    port = _free_port()
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    browser = pw.chromium.launch(executable_path=executable, args=ARGS)
    context = browser.new_context()
    if token:
        context.add_cookies([{"name": "sge_recon_session", "value": token,
                              "url": f"http://127.0.0.1:{port}"}])
    page = context.new_page()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "console", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the console exited with {proc.returncode}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.01)
        up = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
        page.wait_for_function(DRAWN, timeout=120_000, polling=20)
        return up - started, time.perf_counter() - up
    finally:
        browser.close()
        proc.terminate()
        proc.wait()


def first_render(recon: "Recon", runs: int = 3,
                 progress=lambda line: None) -> FirstRender:
    """``runs`` fresh console processes against ``recon``'s database, each timed in Chromium."""
    why = missing_browser()
    if why:
        return FirstRender(skipped=why)
    from playwright.sync_api import sync_playwright

    env = dict(os.environ, DATABASE_URL=recon.db.url)
    enabled = [a for a in recon.accounts.list() if not a.disabled]
    token = recon.accounts.start_session(enabled[0].name) if enabled else None
    out = FirstRender()
    try:
        with sync_playwright() as pw:
            for n in range(runs):
                try:
                    up, after = _one_run(pw, env, token)
                except Exception as exc:  # noqa: BLE001 - a browser or console failure, said
                    out.skipped = f"run {n + 1} failed: {str(exc).strip().splitlines()[0]}"
                    out.drawn_s, out.answered_s = [], []
                    break
                out.answered_s.append(up)
                out.drawn_s.append(after)
                progress(f"run {n + 1}: port answered after {up:.2f} s; Overview drawn "
                         f"{after:.2f} s after that")
    finally:
        if token:
            recon.accounts.end_session(token)
    return out
