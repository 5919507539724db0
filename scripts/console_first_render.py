"""Time the console's first Overview render in a real browser: how long after `sge-recon console`
answers on its port a fresh visitor sees the Overview fully drawn (its four lights, the last
reconciliation run and the refresh line) in headless Chromium. Each run starts a new console
process (the first page run of a process is the one that pays for imports and cold caches).

    .venv/bin/python scripts/console_first_render.py [--runs 5]

Uses DATABASE_URL (or the embedded database under SGE_RECON_HOME) as `sge-recon console` does.
When console accounts exist, the browser carries a session of the first enabled account (the
`sge_recon_session` cookie, as after a sign-in), so the Overview opens without the form. Needs the
dev dependencies (playwright) and Debian's chromium (`python3 dev.py test` installs both).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
DRAWN = ("() => ['Ledger status', 'Last reconciliation run', 'refreshes every']"
         ".every(t => document.body.innerText.includes(t))")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(pw, env: dict[str, str], token: str | None) -> tuple[float, float]:
    """(seconds until the port answered, seconds from then until the Overview was drawn)."""
    port = free_port()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)  # ready before the console
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
                raise SystemExit(f"the console exited with {proc.returncode}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.01)
        up = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
        page.wait_for_function(DRAWN, timeout=60_000, polling=20)
        return up - started, time.perf_counter() - up
    finally:
        browser.close()
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from sge_recon.config import Settings
    from sge_recon.context import Recon

    recon = Recon(Settings.load())  # keeps an embedded database up while the runs go on
    env = dict(os.environ, DATABASE_URL=recon.db.url)
    enabled = [a for a in recon.accounts.list() if not a.disabled]
    token = recon.accounts.start_session(enabled[0].name) if enabled else None
    drawn = []
    with sync_playwright() as pw:
        for n in range(args.runs):
            up, after = one_run(pw, env, token)
            drawn.append(after)
            print(f"run {n + 1}: port answered after {up:.2f} s; Overview drawn {after:.2f} s "
                  "after that", flush=True)
    if token:
        recon.accounts.end_session(token)
    print(f"first Overview render after the console answers: median {statistics.median(drawn):.2f}"
          f" s, best {min(drawn):.2f} s, worst {max(drawn):.2f} s ({args.runs} runs; load average "
          f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
