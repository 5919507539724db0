"""The console in a real browser: `sge-recon console` as a process against a simulated platform
and the real admin API; every page opened in headless Chromium renders its main elements and no
exception. Screenshots land in tests/screenshots/ (git-ignored)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sge_recon.context import Recon

from .conftest import settings_for
from .platform_helpers import KEYS, running_api

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

# page url path -> what must be on it
PAGES = {
    "overview": ["Ledger status", "Worker status", "Queue depth", "Average processing time",
                 "Stuck intents", "Last reconciliation run"],
    "ledger": ["Balances per program and currency", "Offending transactions", "Correcting entry"],
    "intents": ["Stuck intents", "Search by id"],
    "payouts": ["Pending batches", "Recent batches"],
    "webhooks": ["Failing deliveries", "Endpoint health"],
    "queue": ["Waiting", "Workers"],
    "trends": ["Processing time", "Queue depth by hour and weekday", "RPC providers",
               "Commission spot-check"],
    "slos": ["Availability", "Ledger balanced", "error budget left"],
    "runbook": ["Morning checklist", "Weekly deep dive", "Monthly audit", "Incident guide"],
    "incidents": ["Incidents", "Status"],
    "exports": ["Audit exports", "Export now", "Console action log"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the console exited with {proc.returncode}:\n"
                                 f"{proc.stdout.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the console did not start listening")


@pytest.fixture(scope="module")
def console_url(module_db_url, tmp_path_factory):
    recon = Recon(settings_for(module_db_url))
    recon.simulate(intents=2_000, seed=7, faults="all")
    recon.checks.run(trigger="test")
    home = tmp_path_factory.mktemp("console-home")
    with running_api(module_db_url) as api:
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SGE_", "DATABASE_URL", "CONSOLE_", "PAYOUT_"))}
        env.update(DATABASE_URL=module_db_url, SGE_ADMIN_API_URL=api, SGE_RECON_HOME=str(home),
                   ADMIN_API_KEY=KEYS["ADMIN_API_KEY"])
        proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "console", "--port",
                                 str(port)], env=env, cwd=home, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_every_page_renders_in_chromium(console_url):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, expected in PAGES.items():
                url = f"{console_url}/" + ("" if path == "overview" else path)  # default page: /
                page.goto(url, wait_until="domcontentloaded")
                page.wait_for_selector("h1", timeout=60_000)
                # every expected text shown (whichever element holds it), and no longer running
                page.wait_for_function(
                    "texts => texts.every(t => document.body.innerText.includes(t))",
                    arg=expected, timeout=90_000)
                page.wait_for_timeout(1_000)  # let charts and tables finish drawing
                page.screenshot(path=str(SCREENSHOTS / f"{path}.png"), full_page=True)
                body = page.inner_text("body")
                assert page.locator("[data-testid='stException']").count() == 0, path
                assert "Traceback" not in body, (path, body[:2000])
                assert "Page not found" not in body, path
                assert "database is not reachable" not in body, path
        finally:
            browser.close()


def test_an_action_confirmed_in_the_browser_dialog_reaches_the_api(console_url, module_db_url):
    from playwright.sync_api import sync_playwright

    from sge_recon.db import Database

    db = Database(module_db_url)
    db.execute("UPDATE public.queue_control SET paused = false")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{console_url}/queue", wait_until="domcontentloaded")
            operator = page.get_by_placeholder("your name")
            operator.fill("Ada")
            operator.press("Enter")
            page.get_by_role("button", name="Pause queue…").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Stop the workers from taking new jobs").wait_for(timeout=30_000)
            dialog.get_by_role("button", name="Confirm").click()
            page.get_by_text("workers stop taking new jobs", exact=False).first.wait_for(
                timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / "queue-paused.png"), full_page=True)
        finally:
            browser.close()
    assert db.fetch_one("SELECT paused FROM public.queue_control")["paused"] is True
    row = db.fetch_one("SELECT operator, action, result, status_code FROM recon.action_log "
                       "ORDER BY id DESC LIMIT 1")
    assert (row["operator"], row["action"], row["result"], row["status_code"]) == \
        ("Ada", "pause_queue", "ok", 200)
