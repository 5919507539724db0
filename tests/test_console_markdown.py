"""Untrusted strings never become Markdown on the console (audit f #4): an id from the address
(a crafted deep link), a platform's last_error, an endpoint URL and the API's answer are shown as
text, so no remote image is fetched and no fake link appears inside the console's own boxes."""

from __future__ import annotations

import re

from .console_support import app
from .test_console_actions import api, console  # noqa: F401 - fixtures

EVIL = "http://evil.example"
HOSTILE = f"![x]({EVIL}/pixel.png) [Session expired: sign in]({EVIL}/phish)\n# Big :red[alarm]"
# an unescaped ![…]( / […]( / heading / directive: what Markdown would turn into something live
LIVE = re.compile(r"(?<!\\)!(?<!\\)\[|(?<!\\)\]\(|^#|(?<!\\):red(?<!\\)\[", re.M)


def shown_markdown(at) -> list[str]:
    """The Markdown source of every text element the page sent (what the browser renders)."""
    out = []
    for kind in ("markdown", "caption", "warning", "error", "success", "info"):
        out += [str(e.value) for e in getattr(at, kind)]
    return out


def open_with(at, page: str, **params):
    at.run()
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_crafted_deep_link_id_is_shown_as_text(console):  # noqa: F811
    for page in ("intents", "webhooks", "payouts", "ledger"):
        param = "program" if page == "ledger" else "id"
        at = open_with(app("ada"), page, **{param: HOSTILE})
        echoed = [m for m in shown_markdown(at) if "evil.example" in m]
        assert echoed, page  # the id is shown (as text)…
        assert not [m for m in echoed if LIVE.search(m)], (page, echoed)  # …never as Markdown
        assert not [m for m in echoed if "\n" in m], echoed


def test_platform_strings_of_a_delivery_are_shown_as_text(console, factory):  # noqa: F811
    program = factory.program()
    endpoint = factory.endpoint(program["id"], url=f"{EVIL}/hook)[x](javascript:alert(1))")
    delivery = factory.delivery(endpoint["id"], status="failed", attempt_count=5,
                                last_error=f"HTTP 500: {HOSTILE}")
    at = open_with(app("ada"), "webhooks", id=delivery["id"])
    echoed = [m for m in shown_markdown(at) if "evil.example" in m]
    assert len(echoed) >= 2  # the line with the URL and the last error
    assert not [m for m in echoed if LIVE.search(m)], echoed
    assert any("Session expired" in m for m in echoed)  # still readable
