"""Platform ids in the console's link columns: Streamlit's LinkColumn takes the text it shows
from the link itself (its display_text regex, matched on the href and URL-decoded), so an id
with a right-to-left override or a zero-width space was shown obeying it, though every other
cell shows it as ⟨U+202E⟩. The shown text must make those characters visible; the link must
still open the stored id."""

from __future__ import annotations

import json
import re
import unicodedata
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from .console_support import app, console_env, open_page
from .factories import ago
from .platform_helpers import running_api


@pytest.fixture
def console(db_url, monkeypatch, tmp_path):
    with running_api(db_url) as url:
        console_env(monkeypatch, db_url, url, tmp_path)
        yield


def link_cells(at, column_header: str) -> list[tuple[str, str]]:
    """(href, text Streamlit's frontend shows) of every cell of the link column headed
    ``column_header`` on the page. The text is what the frontend computes (DataFrame chunk,
    Streamlit 1.67): ``href.match(new RegExp(display_text, "us"))``, group 1, ``+`` as a
    space, ``decodeURIComponent``; the whole href when the regex does not match."""
    out = []
    for df in at.dataframe:
        config = json.loads(df.proto.columns or "{}")
        for name, col in config.items():
            if col.get("label") != column_header or col.get("type_config", {}).get("type") != "link":
                continue
            pattern = col["type_config"].get("display_text")
            for href in df.value[name]:
                if not href:
                    continue
                m = re.search(pattern, href, re.S) if pattern else None
                text = unquote(m.group(1).replace("+", "%20")) if m and m.group(1) is not None \
                    else href
                out.append((href, text))
    return out


PROGRAM = "prog_\u202e1"
BATCH = "batch_\u202e99_tnuocca"
INTENT = "int_7\u200b"
TXN = "txn_\u2067x\u2069"
DELIVERY = "dlv_\u3164\u00a0x"


# how every other cell and sentence of the console shows them
SHOWN = {PROGRAM: "prog_⟨U+202E⟩1", BATCH: "batch_⟨U+202E⟩99_tnuocca", INTENT: "int_7⟨U+200B⟩",
         TXN: "txn_⟨U+2067⟩x⟨U+2069⟩", DELIVERY: "dlv_⟨U+3164⟩⟨U+00A0⟩x"}


def hostile_platform(factory) -> None:
    program = factory.program(id=PROGRAM)
    factory.payout_batch(program["id"], id=BATCH)
    user = factory.user(program["id"])
    factory.intent(program["id"], user["id"], id=INTENT, amount=Decimal("1.00"),
                   status="processing", status_changed_at=ago(minutes=90))
    factory.journal(program["id"], [("treasury", "debit", "1.00"), ("fees", "credit", "0.50")],
                    transaction_id=TXN)
    endpoint = factory.endpoint(program["id"])
    factory.delivery(endpoint["id"], id=DELIVERY, status="failed", attempt_count=5,
                     last_error="gave up")


def invisible(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text
            if unicodedata.category(c) in ("Cf", "Cc", "Zl", "Zp")
            or (unicodedata.category(c) == "Zs" and c != " ") or c in "\u3164\u115f\u1160"]


# page -> (column header, query parameter, the stored id a cell must open)
EXPECTED = {
    "payouts": [("Batch", "id", BATCH), ("Program", "program", PROGRAM)],
    "intents": [("Intent", "id", INTENT), ("Program", "program", PROGRAM)],
    "ledger": [("Transaction", "transaction", TXN), ("Program", "program", PROGRAM)],
    "webhooks": [("Delivery", "id", DELIVERY)],
}


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_a_link_column_shows_an_ids_hidden_characters_and_opens_the_stored_id(console, factory,
                                                                              page):
    hostile_platform(factory)
    at = open_page(app("root"), page)
    for column, param, stored in EXPECTED[page]:
        cells = link_cells(at, column)
        opened = [parse_qs(urlsplit(href).query)[param][0] for href, _ in cells]
        assert stored in opened, (column, cells)  # the link opens the stored id
        for href, text in cells:
            assert not invisible(text), (column, href, text)  # nothing hidden is obeyed
        shown = dict(zip(opened, (text for _, text in cells)))
        assert shown[stored] == SHOWN[stored], (column, shown)


def test_an_id_with_a_hash_percent_or_plus_is_shown_as_stored_and_opens_it(console, factory):
    """What a fragment and URL-decoding could mangle: '#', '%', '+', '&', spaces."""
    program = factory.program(id="prog #1 %41+b&c=d")
    factory.payout_batch(program["id"], id="batch #1 %41+b&c=d")
    at = open_page(app("root"), "payouts")
    cells = dict((parse_qs(urlsplit(href).query)["id"][0], text)
                 for href, text in link_cells(at, "Batch"))
    assert cells == {"batch #1 %41+b&c=d": "batch #1 %41+b&c=d"}


def test_an_incidents_details_show_an_ids_hidden_characters(console, factory):
    """The incident's details (its evidence as the alerting job stored it: program ids, sample
    rows) are shown as JSON; a right-to-left override in an id there was obeyed too."""
    incident = factory.incident(key=f"{PROGRAM}/USD", details={
        "programs": [PROGRAM], "rows": [{"intent_id": INTENT, "note\u202e": "x"}]})
    at = app("root")
    at.run()
    at.query_params["id"] = str(incident["id"])
    at.switch_page("views/incidents.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.json) == 1, "the details are shown"
    assert json.loads(at.json[0].proto.body) == {
        "programs": ["prog_⟨U+202E⟩1"], "rows": [{"intent_id": "int_7⟨U+200B⟩",
                                                "note⟨U+202E⟩": "x"}]}


def test_a_deliverys_payload_shows_an_ids_hidden_characters(console, factory):
    program = factory.program()
    endpoint = factory.endpoint(program["id"])
    delivery = factory.delivery(endpoint["id"], payload={"intentId": INTENT,
                                                         "batch": {"id": BATCH}})
    at = app("root")
    at.run()
    at.query_params["id"] = delivery["id"]
    at.switch_page("views/webhooks.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [json.loads(j.proto.body) for j in at.json] == [
        {"intentId": "int_7⟨U+200B⟩", "batch": {"id": "batch_⟨U+202E⟩99_tnuocca"}}]
