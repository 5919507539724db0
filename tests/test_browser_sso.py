"""Single sign-on in a real browser: `sge-recon console` as a process configured (OIDC_* settings
only) against a real OpenID Connect provider started here (oidc-provider-mock: discovery, client
registration, authorization code flow, signed ID tokens, end-session), driven in headless
Chromium through the provider's own sign-in page. A linked identity lands on the Overview with its
account's role; an unknown identity is refused in words; signing out ends both sessions."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from refplatform.simulate import Simulator
from sge_recon.accounts import AccountService
from sge_recon.context import Recon
from sge_recon.db import Database

from .conftest import settings_for
from .platform_helpers import KEYS, running_api
from .test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, free_port, wait_for_port, \
    wait_for_texts

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROVIDER_NAME = "Example SSO"
CLIENT_SECRET_SENTINEL = "client-secret-that-must-never-be-printed"


@pytest.fixture(scope="module")
def provider():
    """A real OIDC provider on localhost that knows only the console's registered client."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(require_client_registration=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def sso_console(module_db_url, provider, tmp_path_factory):
    recon = Recon(settings_for(module_db_url))
    Simulator(recon).run(intents=1_000, seed=11)
    recon.checks.run(trigger="test")
    accounts = AccountService(Database(module_db_url))
    accounts.add("eve", "operator", None, sso_identity="eve@example.com")
    accounts.add("vic", "viewer", "a long enough secret")  # local accounts keep working
    with httpx.Client(base_url=provider, timeout=10) as idp:
        # people at the provider (sub -> claims); mallory has no console account
        for sub, email in (("u-eve", "eve@example.com"), ("u-mallory", "mallory@example.com")):
            idp.put(f"/users/{sub}", json={"email": email, "email_verified": True,
                                           "name": sub}).raise_for_status()
        port = free_port()
        registered = idp.post("/oauth2/clients", json={
            "redirect_uris": [f"http://127.0.0.1:{port}/oauth2callback"]})
        registered.raise_for_status()
        client = registered.json()
    home = tmp_path_factory.mktemp("sso-home")
    secret_file = home / "client-secret"
    secret_file.write_text(client["client_secret"])
    with running_api(module_db_url) as api:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SGE_", "DATABASE_URL", "CONSOLE_", "PAYOUT_", "OIDC_"))}
        env.update(DATABASE_URL=module_db_url, SGE_ADMIN_API_URL=api, SGE_RECON_HOME=str(home),
                   OIDC_SERVER_METADATA_URL=f"{provider}/.well-known/openid-configuration",
                   OIDC_CLIENT_ID=client["client_id"],
                   OIDC_CLIENT_SECRET_FILE=str(secret_file),  # a secret from a file
                   OIDC_PROVIDER_NAME=PROVIDER_NAME, **KEYS)
        proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "console", "--port",
                                 str(port)], env=env, cwd=home, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_port(port, proc)
            yield {"url": f"http://127.0.0.1:{port}", "proc": proc, "home": home,
                   "client_secret": client["client_secret"]}
        finally:
            proc.terminate()
            try:
                output, _ = proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
            assert client["client_secret"] not in (output or ""), "the client secret was logged"


def sign_in_at_provider(page, console_url: str, sub: str) -> None:
    page.goto(console_url + "/", wait_until="domcontentloaded")
    button = page.get_by_role("button", name=f"Sign in with {PROVIDER_NAME}")
    button.wait_for(timeout=60_000)
    page.get_by_label("Username", exact=True).wait_for(timeout=30_000)  # local accounts too
    button.click()
    page.wait_for_url("**/oauth2/authorize**", timeout=30_000)  # the provider's own page
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{console_url}/**", timeout=30_000)


def test_sign_in_through_the_provider_maps_the_identity_to_its_role(sso_console,
                                                                      module_db_url):
    from playwright.sync_api import sync_playwright

    url = sso_console["url"]
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url + "/", wait_until="domcontentloaded")
            page.get_by_role("button", name=f"Sign in with {PROVIDER_NAME}").wait_for(
                timeout=60_000)
            assert "Ledger status" not in page.inner_text("body")  # nothing before sign-in
            page.screenshot(path=str(SCREENSHOTS / "sso-sign-in.png"), full_page=True)

            sign_in_at_provider(page, url, "u-eve")
            wait_for_texts(page, ["Ledger status", "Worker status", "eve · operator",
                                  f"Signed in with {PROVIDER_NAME} as eve@example.com"])
            page.screenshot(path=str(SCREENSHOTS / "sso-overview.png"), full_page=True)
            body = page.inner_text("body")
            assert page.locator("[data-testid='stException']").count() == 0
            assert "Traceback" not in body

            # a new tab of the same browser stays signed in (Streamlit's identity cookie)
            other = context.new_page()
            other.goto(url + "/incidents", wait_until="domcontentloaded")
            wait_for_texts(other, ["Incidents", "eve · operator"])
            other.close()

            # sign out: the console and the provider's session end; the sign-in page is back
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url("**/oauth2/end_session**", timeout=30_000)
            page.get_by_role("button", name="End session").click()
            page.get_by_role("button", name=f"Sign in with {PROVIDER_NAME}").wait_for(
                timeout=60_000)
            assert "eve · operator" not in page.inner_text("body")
        finally:
            browser.close()


def test_an_identity_without_an_account_is_refused_in_words(sso_console, module_db_url):
    from playwright.sync_api import sync_playwright

    url = sso_console["url"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            sign_in_at_provider(page, url, "u-mallory")
            wait_for_texts(page, [f"{PROVIDER_NAME} signed you in as 'mallory@example.com'",
                                  "no console account is linked to that identity",
                                  "sge-recon users link-sso NAME mallory@example.com"])
            page.get_by_role("button", name=f"Sign out of {PROVIDER_NAME}").wait_for()
            page.screenshot(path=str(SCREENSHOTS / "sso-refused.png"), full_page=True)
            body = page.inner_text("body")
            assert "Ledger status" not in body and "Traceback" not in body
            assert page.locator("[data-testid='stException']").count() == 0
        finally:
            browser.close()
    db = Database(module_db_url)
    rows = db.fetch_all("SELECT username, ok, reason FROM recon.sign_in_attempts "
                        "WHERE username LIKE 'sso:%%' ORDER BY id")
    assert ("sso:eve@example.com", True, None) in [(r["username"], r["ok"], r["reason"])
                                                   for r in rows]
    assert rows[-1]["username"] == "sso:mallory@example.com" and not rows[-1]["ok"] \
        and rows[-1]["reason"] == "sso_unknown"
    secrets_file = sso_console["home"] / "console-auth-secrets.toml"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"


def test_an_unverified_email_and_a_changed_link_are_refused_in_a_real_browser(sso_console,
                                                                               module_db_url,
                                                                               provider):
    """The provider's own ID token, through Streamlit's st.user: an email_verified sent as the
    string "false" (truthy, and not False) does not sign in as the account linked to that
    email; and an SSO sign-in ends at the next click once its account's link changes."""
    from playwright.sync_api import sync_playwright

    url = sso_console["url"]
    with httpx.Client(base_url=provider, timeout=10) as idp:
        idp.put("/users/u-liar", json={"email": "eve@example.com", "email_verified": "false",
                                       "name": "liar"}).raise_for_status()
    accounts = AccountService(Database(module_db_url))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            sign_in_at_provider(page, url, "u-liar")
            wait_for_texts(page, ["the email eve@example.com is not verified"])
            body = page.inner_text("body")
            assert "eve · operator" not in body and "Ledger status" not in body

            page = browser.new_page(viewport={"width": 1400, "height": 1000})  # a fresh browser
            sign_in_at_provider(page, url, "u-eve")
            wait_for_texts(page, ["Ledger status", "eve · operator"])
            accounts.link_sso("eve", "eve.new@example.com")  # eve@example.com is no longer eve
            try:
                page.get_by_role("link", name="Incidents").first.click()  # the next click
                wait_for_texts(page, ["no console account is linked to that identity"])
                # the run ends, the previous run's sidebar goes: nobody is signed in
                page.wait_for_function("() => !document.body.innerText.includes("
                                       "'eve · operator')", timeout=90_000)
                assert "Ledger status" not in page.inner_text("body")
            finally:
                accounts.link_sso("eve", "eve@example.com")
        finally:
            browser.close()
