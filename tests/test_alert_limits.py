"""Every channel's message fits that service's limits whatever the platform's ids are: a PagerDuty
event is at most 512,000 bytes (Events v2 answers 400 to a larger one, and the P0 page would be
lost), the signed webhook's body at most 256,000 bytes, Slack's and Discord's blocks within
theirs; and a Slack cut never splits an HTML entity. Posted by the real monitor job to the real
local HTTP receiver, which refuses a larger body as the services do."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest

from sge_recon.alerts import hooks
from sge_recon.alerts.channels import slack_payload
from sge_recon.alerts.message import Message
from sge_recon.config import Settings
from sge_recon.context import Recon

from .conftest import settings_for
from .http_receiver import Receiver
from .test_alerts import monitor_only, plant_ledger_imbalance, start_clock

PD, HOOK, SLACK, DISCORD = "/v2/enqueue", "/hooks/sge", "/slack/T0/B0/tok", "/discord/1/tok"
ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32"
SECRET = "whsec-test-secret-0123456789"
CONSOLE = "https://console.example.test"
# legal in a program id, and costly in JSON: quotes, backslashes, controls, emoji (12 bytes each)
HOSTILE = 'q"uote\\back\nnew\tline 🦄💸 <&> '
BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


@pytest.fixture
def receiver():
    r = Receiver(default_status=lambda path: 202 if path == PD else 200)
    r.body_limits = {PD: (512_000, 400), HOOK: (256_000, 413)}
    yield r
    r.close()


def alerting(db_url: str, receiver: Receiver) -> Recon:
    return Recon(settings_for(db_url, PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
                              PAGERDUTY_EVENTS_URL=receiver.base + PD,
                              ALERT_WEBHOOK_URL=receiver.base + HOOK, ALERT_WEBHOOK_SECRET=SECRET,
                              SLACK_WEBHOOK_URL=receiver.base + SLACK,
                              DISCORD_WEBHOOK_URL=receiver.base + DISCORD,
                              SGE_ENVIRONMENT="production", CONSOLE_URL=CONSOLE))


def posted(receiver: Receiver, path: str) -> list[dict]:
    return [r for r in receiver.requests if r["path"] == path]


def test_sixty_programs_with_5000_character_ids_page_within_every_limit(db_url, db, factory,
                                                                        receiver):
    recon = alerting(db_url, receiver)
    clock = start_clock()
    for i in range(60):
        program = (f"{i:04d}-" + HOSTILE * 200)[:5000]
        factory.program(id=program)
        factory.journal(program, [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.75")])
    monitor_only(recon, clock).tick()
    [incident] = recon.incidents.incidents()

    # PagerDuty took the page (the receiver answers 400 over 512,000 bytes, as PagerDuty does)
    [page] = posted(receiver, PD)
    assert page["status"] == 202 and len(page["body"]) <= hooks.PAGERDUTY_MAX_EVENT_BYTES
    event = page["json"]
    assert event["event_action"] == "trigger" and event["dedup_key"] == str(incident["id"])
    assert event["routing_key"] == ROUTING_KEY
    link = f"{CONSOLE}/incidents?id={incident['id']}"
    assert event["links"] == [{"href": link, "text": "Open the incident"}]
    payload = event["payload"]
    assert payload["summary"].startswith(f"[production] P0 incident #{incident['id']}: Ledger")
    assert len(payload["summary"]) <= 1024
    assert payload["severity"] == "critical" and payload["source"] == "sge-recon (production)"
    details = payload["custom_details"]
    assert link in details["truncated"]  # says it was shortened, and where the rest is
    assert details["items_total"] == 60 and details["Money at stake"] == "15.00 USD"
    assert not set(hooks.EVIDENCE_COPIES) & set(details)
    assert db.fetch_all("SELECT status FROM recon.alert_deliveries WHERE channel = 'pagerduty'"
                        ) == [{"status": "sent"}]

    # the signed webhook: within its 256,000 bytes, and the signature covers the body sent
    [hook] = posted(receiver, HOOK)
    assert hook["status"] == 200 and len(hook["body"]) <= hooks.WEBHOOK_MAX_BODY_BYTES
    headers = {k.lower(): v for k, v in hook["headers"].items()}
    assert headers["x-sge-signature"] == "sha256=" + hmac.new(
        SECRET.encode(), headers["x-sge-timestamp"].encode() + b"." + hook["body"],
        hashlib.sha256).hexdigest()
    assert hook["json"]["incident"]["id"] == incident["id"] and hook["json"]["link"] == link
    assert "truncated" in hook["json"]["details"]

    # Slack and Discord within theirs, no entity split by a cut
    [slack] = [r["json"] for r in posted(receiver, SLACK)]
    assert len(slack["text"]) <= 3000 and len(slack["blocks"]) <= 50
    for block in slack["blocks"]:
        texts = [block.get("text", {}).get("text", "")] + [
            f["text"] for f in block.get("fields", [])]
        assert len(texts[0]) <= 3000 and all(len(t) <= 2000 for t in texts[1:])
        assert len(block.get("fields", [])) <= 10
        assert not any(BROKEN_ENTITY.search(t) for t in texts)
    [discord] = [r["json"] for r in posted(receiver, DISCORD)]
    [embed] = discord["embeds"]
    assert len(discord["content"]) <= 2000 and len(embed["title"]) <= 256
    assert len(embed.get("description", "")) <= 4096 and len(embed["fields"]) <= 25
    assert all(1 <= len(f["value"]) <= 1024 and 1 <= len(f["name"]) <= 256
               for f in embed["fields"])
    assert len(embed["title"]) + len(embed.get("description", "")) + len(
        embed["footer"]["text"]) + sum(len(f["name"]) + len(f["value"])
                                       for f in embed["fields"]) <= 6000
    assert all(r["status"] < 300 for r in receiver.requests)


def test_a_normal_page_is_sent_whole(db_url, db, factory, receiver):
    recon = alerting(db_url, receiver)
    clock = start_clock()
    plant_ledger_imbalance(factory, db, clock)
    monitor_only(recon, clock).tick()
    [stored] = db.fetch_all("SELECT payload FROM recon.alert_deliveries "
                            "WHERE channel = 'pagerduty'")
    [page] = posted(receiver, PD)
    assert page["status"] == 202
    assert page["json"] == {"routing_key": ROUTING_KEY, **stored["payload"]}
    details = page["json"]["payload"]["custom_details"]
    assert "truncated" not in details and details["program_id"] == "prog_ledger"
    assert details["evidence_at_open"]["keys"] == ["prog_ledger/USD"]
    event = stored["payload"]
    assert hooks.fit_pagerduty(event, hooks.PAGERDUTY_MAX_EVENT_BYTES) is event
    [hook] = posted(receiver, HOOK)
    assert "truncated" not in hook["json"]["details"]
    assert "evidence_at_open" in hook["json"]["details"]


def _huge_message() -> Message:
    """Details that no bounding of lists and texts makes small: 100,000 keys."""
    return Message("[production] P0 incident #7: Ledger imbalance", [("Where", "x" * 9000)],
                   ["Pause the queue."], f"{CONSOLE}/incidents?id=7", priority="P0",
                   event="open", incident_id=7, kind="ledger_imbalance",
                   environment="production", component="ledger",
                   details={f"k{n}": "v" * 20 for n in range(100_000)})


def test_details_that_cannot_shrink_enough_become_a_note_with_the_link():
    message = _huge_message()
    event = hooks.pagerduty_event(message)
    assert event is not None
    body, _ = hooks.pagerduty_seal(Settings.load(env={"PAGERDUTY_ROUTING_KEY": ROUTING_KEY}), event)
    assert len(body) <= hooks.PAGERDUTY_MAX_EVENT_BYTES
    sent = json.loads(body)
    assert sent["payload"]["custom_details"]["link"] == f"{CONSOLE}/incidents?id=7"
    assert "limit of 512,000 bytes" in sent["payload"]["custom_details"]["note"]
    assert sent["dedup_key"] == "7" and sent["payload"]["severity"] == "critical"
    assert sent["payload"]["summary"] == message.headline and sent["links"]

    body, _ = hooks.webhook_seal(Settings.load(env={"ALERT_WEBHOOK_SECRET": SECRET}),
                                 hooks.webhook_payload(message), now=0)
    assert len(body) <= hooks.WEBHOOK_MAX_BODY_BYTES
    hook = json.loads(body)
    assert hook["details"]["link"] == f"{CONSOLE}/incidents?id=7"
    assert hook["headline"] == message.headline and hook["incident"]["id"] == 7


def test_an_oversized_event_stored_before_the_cap_is_fitted_when_sent():
    message = _huge_message()
    stored = {"event_action": "trigger", "dedup_key": "7", "client_url": message.link,
              "payload": {"summary": message.headline, "source": "sge-recon",
                          "severity": "critical", "custom_details": message.details}}
    body, _ = hooks.pagerduty_seal(Settings.load(env={"PAGERDUTY_ROUTING_KEY": "K" * 900}), stored)
    assert len(body) <= hooks.PAGERDUTY_MAX_EVENT_BYTES
    assert json.loads(body)["payload"]["summary"] == message.headline


def test_slack_cuts_the_raw_text_so_no_entity_is_split():
    message = Message("x" * 2995 + "&<>&<>", [("Where", "y" * 1985 + "&&&&&&&&")],
                      lines=["z" * 2990 + "<<<<<<<"], lines_title="Batches")
    slack = slack_payload(message)
    texts = [slack["text"], slack["blocks"][0]["text"]["text"],
             slack["blocks"][1]["fields"][0]["text"], slack["blocks"][2]["text"]["text"]]
    for text, limit in zip(texts, (3000, 3000, 2000, 3000)):
        assert len(text) <= limit and text.endswith("…")
        assert not BROKEN_ENTITY.search(text), text[-12:]
    assert texts[0] == "x" * 2995 + "…"  # "&amp;" does not fit whole: left out, not split
    assert texts[2] == "*Where*\n" + "y" * 1985 + "&amp;…"  # whole entities, as many as fit
    # short text is only escaped
    assert slack_payload(Message("a & b <c>"))["text"] == "a &amp; b &lt;c&gt;"
