"""The console in a real browser: `sge-recon console` as a process against a simulated platform
and the real admin API; every page opened in headless Chromium renders its main elements and no
exception. Screenshots land in tests/screenshots/ (git-ignored)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from refplatform.simulate import Simulator
from sge_recon.context import Recon

from .conftest import settings_for
from .console_support import PASSWORD, create_accounts
from .platform_helpers import KEYS, running_api

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# pages whose charts are checked by eye in their screenshot: a viewport tall enough for all of it
TALL_PAGES = {"trends": 2900, "queue": 1800}

# page url path -> what must be on it
PAGES = {
    "overview": ["Ledger status", "Worker status", "Queue depth", "Average processing time",
                 "Stuck intents", "Last reconciliation run"],
    "ledger": ["Balances per program and currency", "Offending transactions", "Correcting entry"],
    "intents": ["Stuck intents", "Or search by id"],
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
    Simulator(recon).run(intents=2_000, seed=7, faults="all")
    recon.checks.run(trigger="test")
    create_accounts(module_db_url)  # ada operator, vic viewer, alice/bob approvers, root admin
    with console_process(module_db_url, tmp_path_factory.mktemp("console-home")) as url:
        yield url


@contextlib.contextmanager
def console_process(db_url: str, home):
    """A real `sge-recon console` process on a free port, beside the reference admin API, with
    the approver keys and nothing of the caller's SGE_/CONSOLE_/PAYOUT_ settings; its URL."""
    with running_api(db_url) as api:
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SGE_", "DATABASE_URL", "CONSOLE_", "PAYOUT_"))}
        env.update(DATABASE_URL=db_url, SGE_ADMIN_API_URL=api, SGE_RECON_HOME=str(home), **KEYS)
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


def sign_in(page, url: str, name: str) -> bool:
    """Open ``url``; sign in through the form when it asks (a browser without a session).
    Returns whether it asked. Either way, waits until the sidebar names who is signed in."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(
        "() => document.body.innerText.includes('Sign out') || "
        "document.querySelector('input[aria-label=\"Username\"]')", timeout=60_000)
    asked = page.get_by_label("Username", exact=True).count() > 0
    if asked:
        page.get_by_label("Username", exact=True).fill(name)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(  # the sidebar names who is signed in
        "name => (document.querySelector('[data-testid=stSidebar]') || {innerText: ''})"
        ".innerText.includes(name + ' · ')", arg=name, timeout=60_000)
    return asked


def wait_for_texts(page, texts: list[str]) -> None:
    page.wait_for_function("texts => texts.every(t => document.body.innerText.includes(t))",
                           arg=texts, timeout=90_000)


def test_every_page_renders_in_chromium_after_signing_in(console_url):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{console_url}/payouts", wait_until="domcontentloaded")
            page.get_by_label("Username", exact=True).wait_for(timeout=60_000)
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            assert "Pending batches" not in page.inner_text("body")  # nothing before sign-in
            page.screenshot(path=str(SCREENSHOTS / "sign-in.png"), full_page=True)
            for n, (path, expected) in enumerate(PAGES.items()):
                # each address loaded afresh (a new Streamlit session): the first asks to sign
                # in and opens that page; later ones keep the sign-in (the session cookie)
                url = f"{console_url}/" + ("" if path == "overview" else path)
                assert sign_in(page, url, "vic") == (n == 0), path
                page.wait_for_selector("h1", timeout=60_000)
                wait_for_texts(page, expected)
                tall = path in TALL_PAGES  # the page scrolls inside Streamlit: show it whole
                if tall:
                    page.set_viewport_size({"width": 1400, "height": TALL_PAGES[path]})
                page.wait_for_timeout(1_500 if tall else 1_000)  # charts finish drawing
                page.screenshot(path=str(SCREENSHOTS / f"{path}.png"), full_page=True)
                if tall:
                    page.set_viewport_size({"width": 1400, "height": 1000})
                body = page.inner_text("body")
                assert page.locator("[data-testid='stException']").count() == 0, path
                assert "Traceback" not in body, (path, body[:2000])
                assert "Page not found" not in body, path
                assert "database is not reachable" not in body, path
                assert page.get_by_label("Username", exact=True).count() == 0, path
        finally:
            browser.close()


def test_two_approvers_approve_an_admin_executes_and_a_chosen_delivery_is_retried(
        console_url, module_db_url):
    """Deep links after sign-in, two approver accounts in their own browsers, the admin
    executes; a delivery picked in the list is the one retried."""
    from playwright.sync_api import sync_playwright

    from sge_recon.db import Database

    db = Database(module_db_url)
    batch = db.fetch_one("SELECT b.id, b.total_amount, p.currency FROM public.payout_batches b "
                         "JOIN public.programs p ON p.id = b.program_id "
                         "WHERE b.status = 'pending_approval' AND b.total_amount = "
                         "(SELECT sum(amount) FROM public.commissions c "
                         " WHERE c.payout_batch_id = b.id) ORDER BY b.id LIMIT 1")
    assert batch, "the simulated platform has a consistent batch waiting for approval"
    delivery = db.fetch_one("SELECT id FROM public.webhook_deliveries WHERE status = 'failed' "
                            "ORDER BY id DESC LIMIT 1")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for n, name in enumerate(("alice", "bob")):
                context = browser.new_context(viewport={"width": 1400, "height": 1100})
                page = context.new_page()
                sign_in(page, f"{console_url}/payouts?id={batch['id']}", name)
                wait_for_texts(page, ["Line items", "Checked: the", batch["currency"]])
                page.get_by_role("button", name="Approve…").click()
                dialog = page.get_by_role("dialog")
                dialog.get_by_text(f"as {name}").first.wait_for(timeout=30_000)
                if n == 0:
                    page.screenshot(path=str(SCREENSHOTS / "approve-dialog.png"), full_page=True)
                dialog.get_by_role("button", name="Confirm").click()
                page.get_by_text("Done (HTTP 200)").first.wait_for(timeout=30_000)
                page.screenshot(path=str(SCREENSHOTS / f"approved-by-{name}.png"),
                                full_page=True)
                context.close()
            assert db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                                (batch["id"],))["status"] == "approved"

            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            sign_in(page, f"{console_url}/payouts?id={batch['id']}", "root")
            wait_for_texts(page, ["Line items", "approved"])
            page.get_by_role("button", name="Execute…").click()
            page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
            page.get_by_text("Done (HTTP 200)").first.wait_for(timeout=30_000)
            wait_for_texts(page, [f"{batch['id']}** · executed".replace("**", "")])
            page.screenshot(path=str(SCREENSHOTS / "executed.png"), full_page=True)

            # a deep link opened in a browser without a session: sign in, land on the delivery
            page = browser.new_page(viewport={"width": 1400, "height": 1100})  # own cookies
            assert sign_in(page, f"{console_url}/webhooks?id={delivery['id']}", "ada")
            wait_for_texts(page, [delivery["id"], "Payload"])
            page.get_by_role("button", name="Retry delivery…").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text(f"delivery {delivery['id']}").first.wait_for(timeout=30_000)
            dialog.get_by_role("button", name="Confirm").click()
            page.get_by_text("Done (HTTP 200)").first.wait_for(timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / "webhook-retried.png"), full_page=True)
        finally:
            browser.close()
    assert db.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                        (batch["id"],))["status"] == "executed"
    log = db.fetch_all("SELECT operator, action, target, result FROM recon.action_log "
                       "ORDER BY id")
    assert [(r["operator"], r["action"], r["target"], r["result"]) for r in log][-4:] == [
        ("alice", "approve_payout_batch", batch["id"], "ok"),
        ("bob", "approve_payout_batch", batch["id"], "ok"),
        ("root", "execute_payout_batch", batch["id"], "ok"),
        ("ada", "retry_webhook", delivery["id"], "ok")]
