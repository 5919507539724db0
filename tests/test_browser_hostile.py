"""The worst of what a platform may hold, in a real browser: a batch id and a currency code
that Markdown would turn into LaTeX, bold and a link, shown by `sge-recon console` in headless
Chromium exactly as stored — in the page, on the action button and in the Pay dialog."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from sge_recon.db import Database

from .console_support import create_accounts
from .factories import PlatformFactory, ago
from .test_console_hostile_data import BATCH_ID, CURRENCY, JOINER, hostile_batch
from .test_browser import CHROMIUM, CHROMIUM_ARGS, console_process, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INTENT_ID = "int $1 and $2 :material/home: _now_"
PROVIDER = "<a href='http://evil.example/x'>alchemy</a> <b>bold</b>"
RLO_BATCH = "batch_\u202e99_tnuocca"  # Chromium draws it as "batch_account_99" when obeyed


@pytest.fixture(scope="module")
def console_url(module_db_url, tmp_path_factory):
    factory = PlatformFactory(Database(module_db_url))
    program, user = hostile_batch(factory)
    factory.intent(program["id"], user["id"], id=INTENT_ID, status="processing",
                   status_changed_at=ago(minutes=90))
    factory.payout_batch(program["id"], id=RLO_BATCH)
    factory.rpc_call(provider=PROVIDER)
    factory.rpc_call(provider="infura")  # two providers: Plotly shows a legend
    create_accounts(module_db_url)
    with console_process(module_db_url, tmp_path_factory.mktemp("console-home")) as url:
        yield url


def visible(text: str) -> str:
    return text.replace(JOINER, "")


def test_the_pay_dialog_and_a_retry_button_read_as_stored_in_chromium(console_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            sign_in(page, f"{console_url}/payouts?id={quote(BATCH_ID)}", "root")
            page.get_by_text("Line items").first.wait_for(timeout=60_000)
            page.get_by_role("button", name="Execute…").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("button", name="Confirm").wait_for(timeout=30_000)
            said = visible(dialog.inner_text())
            assert (f"Pay batch {BATCH_ID}: 1.50 {CURRENCY} to 1 affiliates? This moves money."
                    in said), said
            # no maths, no link, no image made of the id or the currency
            assert dialog.locator(".katex, a, img").count() == 0
            dialog.get_by_role("button", name="Cancel").click()

            page.goto(f"{console_url}/intents?id={quote(INTENT_ID)}",
                      wait_until="domcontentloaded")
            button = page.get_by_role("button", name="Retry intent")
            button.wait_for(timeout=60_000)
            assert visible(button.inner_text()) == f"Retry intent {INTENT_ID}…"
            assert button.locator(".katex, em, [data-testid=stIconMaterial]").count() == 0
        finally:
            browser.close()


def test_a_providers_markup_is_text_in_the_trends_legend_in_chromium(console_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2900})
            sign_in(page, f"{console_url}/trends", "root")
            legend = page.locator(".js-plotly-plot .legend text.legendtext")
            legend.first.wait_for(timeout=60_000)
            assert PROVIDER in [t.text_content() for t in legend.all()]
            assert page.locator(".js-plotly-plot .legend a").count() == 0  # no link made
        finally:
            browser.close()


# Glide's grid draws on a canvas (its accessible <td> holds the href, not the text drawn):
# record every string the page draws.
RECORD_DRAWN = """
window.__drawn = [];
const fill = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    window.__drawn.push(String(text));
    return fill.call(this, text, ...rest);
};
"""


def test_a_batch_link_shows_its_right_to_left_override_and_opens_the_batch_in_chromium(
        console_url):
    """The Pending batches table's link cell draws the id with ⟨U+202E⟩, never the override
    itself (obeyed, Chromium draws "batch_account_99"), and its link opens that batch."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.add_init_script(RECORD_DRAWN)
            sign_in(page, f"{console_url}/payouts", "root")
            page.get_by_text("Pending batches").first.wait_for(timeout=60_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=stDataFrame] td')]"
                ".some(td => td.textContent.includes('batch_'))", timeout=60_000)
            page.wait_for_function("() => window.__drawn.some(t => t.includes('batch_'))",
                                   timeout=60_000)
            drawn = [t for t in page.evaluate("window.__drawn") if "batch_" in t]
            assert "batch_⟨U+202E⟩99_tnuocca" in drawn, drawn
            assert not any("\u202e" in t for t in drawn), drawn
            hrefs = [t for t in page.locator("[data-testid=stDataFrame] td")
                     .all_text_contents() if "batch_" in t]
            assert len(hrefs) == 1 and hrefs[0].startswith("/payouts?id="), hrefs
            page.goto(console_url + hrefs[0], wait_until="domcontentloaded")
            page.get_by_text("Line items").first.wait_for(timeout=60_000)
            body = page.locator("body").inner_text()
            assert "batch_⟨U+202E⟩99_tnuocca" in body
            assert "id=batch_%E2%80%AE99_tnuocca" in page.url  # the stored id, still chosen
        finally:
            browser.close()
