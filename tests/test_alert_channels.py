"""PagerDuty Events API v2 and the signed-JSON webhook against a real local HTTP receiver, and
alert texts a person can act on (environment, where, how much per currency, ids, deep link)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import jsonschema
import pytest

from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.errors import ConfigError

from .conftest import settings_for
from .http_receiver import Receiver
from .test_alerts import (SLACK, monitor_only, plant_ledger_imbalance, plant_webhook_exhausted,
                          start_clock)

PD_PATH, HOOK_PATH = "/v2/enqueue", "/hooks/sge"
ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32"
WEBHOOK_SECRET = "whsec-test-secret-0123456789"
CONSOLE = "https://console.example.test"

# The documented Events API v2 event (developer.pagerduty.com, "Send an Alert Event"):
# trigger needs payload{summary, source, severity}; resolve needs routing_key, action, dedup_key.
_PD_COMMON = {"routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
              "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255}}
PD_TRIGGER = {
    "type": "object", "additionalProperties": False,
    "required": ["routing_key", "event_action", "dedup_key", "payload"],
    "properties": {
        **_PD_COMMON, "event_action": {"const": "trigger"},
        "client": {"type": "string"}, "client_url": {"type": "string"},
        "links": {"type": "array", "items": {
            "type": "object", "required": ["href"], "additionalProperties": False,
            "properties": {"href": {"type": "string"}, "text": {"type": "string"}}}},
        "images": {"type": "array"},
        "payload": {
            "type": "object", "additionalProperties": False,
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string"}, "component": {"type": "string"},
                "group": {"type": "string"}, "class": {"type": "string"},
                "custom_details": {"type": "object"}}}}}
PD_RESOLVE = {
    "type": "object", "additionalProperties": False,
    "required": ["routing_key", "event_action", "dedup_key"],
    "properties": {**_PD_COMMON, "event_action": {"const": "resolve"}}}


@pytest.fixture
def receiver():
    r = Receiver(default_status=lambda path: 202 if path == PD_PATH else 200)
    yield r
    r.close()


def events(receiver: Receiver, path: str) -> list[dict]:
    return [r for r in receiver.requests if r["path"] == path]


def test_pagerduty_triggers_once_and_resolves_with_the_incident_id(db_url, db, factory, receiver):
    recon = Recon(settings_for(db_url, PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
                               PAGERDUTY_EVENTS_URL=receiver.base + PD_PATH,
                               SGE_ENVIRONMENT="production", CONSOLE_URL=CONSOLE,
                               WORKER_DOWN_SECONDS=86400))
    factory.heartbeat("worker-1", last_seen_at=datetime.now(timezone.utc))  # workers are fine
    clock = start_clock()
    sched = monitor_only(recon, clock)
    fix = plant_ledger_imbalance(factory, db, clock)
    sched.tick()
    [incident] = recon.incidents.incidents()
    [trigger] = [r["json"] for r in events(receiver, PD_PATH)]
    jsonschema.validate(trigger, PD_TRIGGER)
    assert trigger["routing_key"] == ROUTING_KEY and trigger["dedup_key"] == str(incident["id"])
    payload = trigger["payload"]
    assert payload["severity"] == "critical" and payload["class"] == "ledger_imbalance"
    assert payload["summary"].startswith(f"[production] P0 incident #{incident['id']}: Ledger")
    assert payload["source"] == "sge-recon (production)" and payload["group"] == "production"
    assert datetime.fromisoformat(payload["timestamp"]) == clock.now()
    assert payload["custom_details"]["Money at stake"] == "0.25 USD"
    assert payload["custom_details"]["program_id"] == "prog_ledger"
    assert trigger["links"] == [{"href": f"{CONSOLE}/incidents?id={incident['id']}",
                                 "text": "Open the incident"}]
    # the routing key is a secret: added at send time, never stored
    stored = db.fetch_all("SELECT payload::text AS p FROM recon.alert_deliveries")
    assert stored and all(ROUTING_KEY not in r["p"] for r in stored)

    clock.advance(hours=5)  # a reminder is due for chat channels; PagerDuty is not re-paged
    sched.tick()
    assert len(events(receiver, PD_PATH)) == 1

    fix()
    clock.advance(minutes=1)
    sched.tick()
    [_, resolve] = [r["json"] for r in events(receiver, PD_PATH)]
    jsonschema.validate(resolve, PD_RESOLVE)
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve",
                       "dedup_key": str(incident["id"])}


def test_pagerduty_failing_an_event_is_retried_and_never_logs_the_key(db_url, db, factory,
                                                                       receiver, caplog):
    # a 5xx is retried; a 400 (an invalid event) is permanent: test_alert_delivery.py
    receiver.fail_next[PD_PATH] = 1
    receiver.fail_status = 503
    recon = Recon(settings_for(db_url, PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
                               PAGERDUTY_EVENTS_URL=receiver.base + PD_PATH))
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_ledger_imbalance(factory, db, clock)
    sched.tick()
    clock.advance(minutes=2)
    sched.tick()
    statuses = [r["status"] for r in events(receiver, PD_PATH)]
    assert statuses == [503, 202]
    assert ROUTING_KEY not in caplog.text
    errors = db.fetch_all("SELECT last_error FROM recon.alert_deliveries")
    assert all(ROUTING_KEY not in (r["last_error"] or "") for r in errors)


def test_the_webhook_gets_signed_json_with_the_ids_involved(db_url, db, factory, receiver):
    recon = Recon(settings_for(db_url, ALERT_WEBHOOK_URL=receiver.base + HOOK_PATH,
                               ALERT_WEBHOOK_SECRET=WEBHOOK_SECRET, SGE_ENVIRONMENT="staging",
                               CONSOLE_URL=CONSOLE))
    clock = start_clock()
    plant_webhook_exhausted(factory, db, clock)
    monitor_only(recon, clock).tick()
    [request] = events(receiver, HOOK_PATH)
    headers = {k.lower(): v for k, v in request["headers"].items()}
    stamp = headers["x-sge-timestamp"]
    expected = hmac.new(WEBHOOK_SECRET.encode(), stamp.encode() + b"." + request["body"],
                        hashlib.sha256).hexdigest()
    assert headers["x-sge-signature"] == f"sha256={expected}"
    message = json.loads(request["body"])
    [incident] = recon.incidents.incidents()
    assert message["environment"] == "staging" and message["event"] == "open"
    assert message["incident"] == {"id": incident["id"], "kind": "webhook_exhausted",
                                   "priority": "P3"}
    assert message["link"] == f"{CONSOLE}/incidents?id={incident['id']}"
    [delivery] = db.fetch_all("SELECT id FROM public.webhook_deliveries")
    assert message["details"]["ids"] == [delivery["id"]]
    assert {"name": "Deliveries", "value": str(delivery["id"])} in message["fields"]
    assert WEBHOOK_SECRET not in request["body"].decode()


def test_a_webhook_without_its_secret_is_a_configuration_error():
    with pytest.raises(ConfigError, match="ALERT_WEBHOOK_SECRET"):
        Settings.load(env={"ALERT_WEBHOOK_URL": "https://hooks.example.test/x"})


def test_stuck_intents_alert_names_environment_ids_and_money_per_currency(db_url, db, factory,
                                                                          receiver):
    recon = Recon(settings_for(db_url, SLACK_WEBHOOK_URL=receiver.base + SLACK,
                               SGE_ENVIRONMENT="production", CONSOLE_URL=CONSOLE))
    clock = start_clock()
    usd = factory.program(id="prog_usd", currency="USD")
    eur = factory.program(id="prog_eur", currency="EUR")
    ids = []
    for n, (program, amount) in enumerate([(usd, "10.00")] * 5 + [(eur, "7.50")] * 3):
        u = factory.user(program["id"])
        i = factory.intent(program["id"], u["id"], status="processing", amount=Decimal(amount),
                           currency=program["currency"],
                           status_changed_at=clock.now() - timedelta(minutes=60 - n))
        ids.append(i["id"])
    monitor_only(recon, clock).tick()
    [slack] = receiver.delivered(SLACK)
    [incident] = recon.incidents.incidents()
    assert slack["text"].startswith(f"[production] P1 incident #{incident['id']}: 8 intents")
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1]
              for f in slack["blocks"][1]["fields"]}
    assert fields["*Environment*"] == "production"
    assert fields["*Money at stake*"] == "22.50 EUR, 50.00 USD"  # never added across currencies
    assert fields["*Intents*"] == ", ".join(ids[:5]) + " and 3 more"  # the oldest first
    assert fields["*Where*"] == "program prog_usd"
    assert incident["money_at_stake"] is None  # two currencies: no single figure
    assert f"<{CONSOLE}/incidents?id={incident['id']}|" in json.dumps(slack)


EVIL = "acme <!channel> @everyone @here <@123> & <https://evil.example/login|Open the incident>"


def test_platform_text_cannot_ping_or_plant_links_in_slack_or_discord(db_url, db, factory,
                                                                       receiver):
    recon = Recon(settings_for(db_url, SLACK_WEBHOOK_URL=receiver.base + SLACK,
                               DISCORD_WEBHOOK_URL=receiver.base + "/discord/1/tok"))
    clock = start_clock()
    factory.program(id=EVIL)
    factory.journal(EVIL, [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.75")])
    monitor_only(recon, clock).tick()
    [slack] = receiver.delivered(SLACK)
    [discord] = receiver.delivered("/discord/1/tok")

    texts = [slack["text"]] + [json.dumps(b) for b in slack["blocks"][:-1]]
    assert all("<!channel>" not in t and "<https://evil" not in t and "<@123>" not in t
               for t in texts)
    assert "&lt;!channel&gt;" in slack["text"] and "&amp;" in slack["text"]
    link = slack["blocks"][-1]["elements"][0]["text"]  # our own console link, left a link
    assert link.startswith("<http://") and link.endswith("|Open the incident>")
    assert "evil" not in link

    assert discord["allowed_mentions"] == {"parse": []}
    shown = json.dumps(discord, ensure_ascii=False)
    assert "@everyone" not in shown and "@here" not in shown
    assert "@\u200beveryone" in discord["content"]


LINK = "acme [Open the incident](https://evil.example/login) ||spoiler|| # heading"
# what Discord would render: a masked link, a spoiler (neither preceded by an escaping backslash)
MASKED_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")
SPOILER = re.compile(r"(?<!\\)\|(?<!\\)\|")


def test_platform_text_cannot_plant_a_masked_link_or_spoiler_in_discord(db_url, db, factory,
                                                                        receiver):
    recon = Recon(settings_for(db_url, DISCORD_WEBHOOK_URL=receiver.base + "/discord/1/tok"))
    clock = start_clock()
    factory.program(id=LINK)
    factory.journal(LINK, [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.75")])
    monitor_only(recon, clock).tick()
    [discord] = receiver.delivered("/discord/1/tok")
    [embed] = discord["embeds"]
    texts = [discord["content"], embed["title"], embed.get("description", "")] + [
        f[k] for f in embed["fields"] for k in ("name", "value")]
    assert any("evil.example" in t for t in texts)  # the id is shown ...
    for text in texts:  # ... as itself: no masked link that hides the URL, no spoiler
        assert not MASKED_LINK.search(text) and not SPOILER.search(text), text
    assert "\\[Open the incident\\](https://evil.example/login)" in discord["content"]


def paged_on_pagerduty(db_url, db, factory, receiver):
    """A ledger imbalance paged to PagerDuty (the receiver), with ada an operator: the Recon,
    clock, monitor scheduler, the fix of the imbalance and its incident."""
    from .test_console_actions import acting_as

    recon = Recon(settings_for(db_url, PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
                               PAGERDUTY_EVENTS_URL=receiver.base + PD_PATH,
                               WORKER_DOWN_SECONDS=86400))
    factory.heartbeat("worker-1", last_seen_at=datetime.now(timezone.utc))
    acting_as(db_url, ada="operator")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    fix = plant_ledger_imbalance(factory, db, clock)
    sched.tick()
    [incident] = recon.incidents.incidents()
    return recon, clock, sched, fix, incident


@pytest.mark.parametrize("how", ["acknowledge", "accept"])
def test_an_incident_acknowledged_or_accepted_in_the_console_is_acknowledged_on_pagerduty(
        db_url, db, factory, receiver, how):
    recon, clock, sched, fix, incident = paged_on_pagerduty(db_url, db, factory, receiver)
    actions = recon.console.actions
    done = (actions.acknowledge_incident("ada", incident["id"]) if how == "acknowledge" else
            actions.accept_incident("ada", incident["id"], "known: correction awaiting sign-off",
                                    clock.now()))
    assert done.ok, done.message
    for _ in range(3):  # once, not every minute
        clock.advance(minutes=1)
        sched.tick()
    fix()
    clock.advance(minutes=10)
    sched.tick()
    sent = [r["json"] for r in events(receiver, PD_PATH)]
    assert [e["event_action"] for e in sent] == ["trigger", "acknowledge", "resolve"]
    jsonschema.validate(sent[1], {**PD_RESOLVE, "properties": {
        **PD_RESOLVE["properties"], "event_action": {"const": "acknowledge"}}})
    assert sent[1]["dedup_key"] == str(incident["id"])


def pagerduty_does(sent: list[dict]) -> tuple[list[str], dict[str, str]]:
    """What PagerDuty makes of these events, as its Events API v2 documents it: a trigger opens
    an alert (and notifies) unless one is open under its dedup_key, which takes it into its log
    instead; "while an incident is acknowledged, it won't generate any additional notifications,
    even if it receives new trigger events"; a trigger after a resolve opens a new one. The keys
    that notified, in order, and the alerts left open (key: state)."""
    notified: list[str] = []
    open_alerts: dict[str, str] = {}
    for event in sent:
        key, action = event["dedup_key"], event["event_action"]
        if action == "trigger" and key not in open_alerts:
            open_alerts[key] = "triggered"
            notified.append(key)
        elif action == "acknowledge" and key in open_alerts:
            open_alerts[key] = "acknowledged"
        elif action == "resolve":
            open_alerts.pop(key, None)
    return notified, open_alerts


def test_an_acknowledged_incident_that_gets_worse_notifies_on_pagerduty_again(db_url, db, factory,
                                                                            receiver):
    """Reopened and paged again (alerts/spread.py), but a trigger with the acknowledged alert's
    dedup_key notifies nobody on PagerDuty: the page that says "worse" was silent there. Each
    round now pages under its own key, and the acknowledged one is resolved (superseded)."""
    recon, clock, sched, fix, incident = paged_on_pagerduty(db_url, db, factory, receiver)
    first, worse = str(incident["id"]), f"{incident['id']}:reopened:1"

    def minute() -> None:
        clock.advance(minutes=1)
        sched.tick()

    assert recon.console.actions.acknowledge_incident("ada", incident["id"]).ok
    minute()
    factory.program(id="prog_b")  # a second program's imbalance joins the grouped incident
    factory.journal("prog_b", [("treasury", "debit", "1000000.00"), ("user:u2", "credit", "1.00")])
    minute()
    minute()  # paged once, not every minute
    assert pagerduty_does([r["json"] for r in events(receiver, PD_PATH)]) == (
        [first, worse], {worse: "triggered"})

    assert recon.console.actions.acknowledge_incident("ada", incident["id"]).ok  # round 2's
    minute()
    minute()
    sent = [r["json"] for r in events(receiver, PD_PATH)]
    assert pagerduty_does(sent) == ([first, worse], {worse: "acknowledged"})
    fix()
    factory.journal("prog_b", [("user:u2", "credit", "999999.00")])
    clock.advance(minutes=10)
    sched.tick()
    sent = [r["json"] for r in events(receiver, PD_PATH)]
    assert pagerduty_does(sent) == ([first, worse], {})
    assert [(e["event_action"], e["dedup_key"]) for e in sent] == [
        ("trigger", first), ("acknowledge", first), ("trigger", worse), ("resolve", first),
        ("acknowledge", worse), ("resolve", worse)]
    for event in sent:
        jsonschema.validate(event, PD_TRIGGER if event["event_action"] == "trigger" else {
            **PD_RESOLVE, "properties": {**PD_RESOLVE["properties"], "event_action": {
                "const": event["event_action"]}}})
    assert "Reopened, worse since acknowledged/accepted" in sent[2]["payload"]["summary"]


def test_an_acknowledged_incident_that_gets_worse_while_silenced_pages_when_the_silence_ends(
        db_url, db, factory, receiver):
    """Worse while a silence covers it: nobody is paged during the silence, but the reopened
    incident is paged once it ends (PagerDuty's next round, the acknowledged alert superseded),
    as an incident opened during a silence is. PagerDuty must not be left holding only the
    acknowledged alert of the fault as it was (never notifying again) for a worse one."""
    recon, clock, sched, fix, incident = paged_on_pagerduty(db_url, db, factory, receiver)
    first, worse = str(incident["id"]), f"{incident['id']}:reopened:1"
    assert recon.console.actions.acknowledge_incident("ada", incident["id"]).ok
    clock.advance(minutes=1)
    sched.tick()
    done = recon.console.actions.add_silence(
        "ada", kind="ledger_imbalance", program_id=None, reason="ledger migration",
        owner="platform on-call", starts_at=clock.now(), ends_at=clock.now() + timedelta(
            minutes=30))
    assert done.ok, done.message
    factory.program(id="prog_b")  # worse, inside the silence
    factory.journal("prog_b", [("treasury", "debit", "1000000.00"), ("user:u2", "credit", "1.00")])
    clock.advance(minutes=1)
    sched.tick()
    assert pagerduty_does([r["json"] for r in events(receiver, PD_PATH)]) == (
        [first], {first: "acknowledged"})  # silenced: nobody paged yet
    [now_open] = recon.incidents.incidents()
    assert now_open["status"] == "open"

    clock.advance(minutes=30)  # the silence is over, the worse fault is still there
    sched.tick()
    clock.advance(minutes=1)
    sched.tick()
    sent = [r["json"] for r in events(receiver, PD_PATH)]
    assert pagerduty_does(sent) == ([first, worse], {worse: "triggered"})
    assert "Reopened, worse since acknowledged/accepted" in sent[2]["payload"]["summary"]


def test_a_reopen_acknowledged_during_the_silence_is_not_paged_when_it_ends(
        db_url, db, factory, receiver):
    """Worse inside a silence, then acknowledged again (somebody took on the worse fault): the
    page the silence held back is not sent when it ends."""
    recon, clock, sched, fix, incident = paged_on_pagerduty(db_url, db, factory, receiver)
    assert recon.console.actions.acknowledge_incident("ada", incident["id"]).ok
    clock.advance(minutes=1)
    sched.tick()
    assert recon.console.actions.add_silence(
        "ada", kind="ledger_imbalance", program_id=None, reason="ledger migration",
        owner="platform on-call", starts_at=clock.now(),
        ends_at=clock.now() + timedelta(minutes=30)).ok
    factory.program(id="prog_b")
    factory.journal("prog_b", [("treasury", "debit", "1000000.00"), ("user:u2", "credit", "1.00")])
    clock.advance(minutes=1)
    sched.tick()
    assert recon.incidents.incidents()[0]["status"] == "open"
    assert recon.console.actions.acknowledge_incident("ada", incident["id"]).ok
    clock.advance(minutes=31)
    sched.tick()
    sent = [r["json"] for r in events(receiver, PD_PATH)]
    assert [e["event_action"] for e in sent] == ["trigger", "acknowledge"]
    assert recon.incidents.incidents()[0]["status"] == "acknowledged"


def test_an_acknowledged_fault_that_clears_in_part_and_comes_back_is_not_worse(
        db_url, db, factory, receiver):
    """Acknowledging covers the fault as it was then (alerts/spread.py): prog_b's imbalance,
    seen and acknowledged, fixed for a while and back at the same amount is no news. Compared
    with the last evaluation instead, its return "reopened" the incident and paged the on-call
    again for what they had already taken on (and again on every flap)."""
    recon, clock, sched, fix, incident = paged_on_pagerduty(db_url, db, factory, receiver)
    factory.program(id="prog_b")
    factory.journal("prog_b", [("treasury", "debit", "1000000.00"), ("user:u2", "credit", "1.00")])
    clock.advance(minutes=1)
    sched.tick()  # joins the open (not yet acknowledged) incident: no news to page
    assert recon.console.actions.acknowledge_incident("ada", incident["id"]).ok
    clock.advance(minutes=1)
    sched.tick()
    factory.journal("prog_b", [("user:u2", "credit", "999999.00")])  # prog_b fixed for a while
    clock.advance(minutes=1)
    sched.tick()
    factory.journal("prog_b", [("treasury", "debit", "999999.00")])  # back, as acknowledged
    clock.advance(minutes=1)
    sched.tick()
    sent = [r["json"] for r in events(receiver, PD_PATH)]
    assert [e["event_action"] for e in sent] == ["trigger", "acknowledge"]
    assert recon.incidents.incidents()[0]["status"] == "acknowledged"

    factory.journal("prog_b", [("treasury", "debit", "5.00")])  # more than acknowledged: news
    clock.advance(minutes=1)
    sched.tick()
    assert recon.incidents.incidents()[0]["status"] == "open"
    assert [r["json"]["event_action"] for r in events(receiver, PD_PATH)[2:]] == [
        "trigger", "resolve"]


def test_a_reopen_page_given_up_keeps_the_acknowledged_alert_open_until_resolution(
        db_url, db, factory, receiver):
    """PagerDuty down for a day while an acknowledged incident got worse: the new round's
    trigger is given up. Its supersede (resolving the acknowledged alert) must not go out once
    PagerDuty is back, or an open incident has no alert there at all; that alert is resolved
    with the incident instead."""
    recon, clock, sched, fix, incident = paged_on_pagerduty(db_url, db, factory, receiver)
    first = str(incident["id"])
    assert recon.console.actions.acknowledge_incident("ada", incident["id"]).ok
    clock.advance(minutes=1)
    sched.tick()
    receiver.codes[PD_PATH] = 503  # PagerDuty down
    factory.program(id="prog_b")
    factory.journal("prog_b", [("treasury", "debit", "1000000.00"), ("user:u2", "credit", "1.00")])
    clock.advance(minutes=1)
    sched.tick()
    clock.advance(hours=25)  # still down a day later: the reopen trigger is given up
    sched.tick()
    receiver.codes[PD_PATH] = 202  # back
    for _ in range(2):
        clock.advance(minutes=1)
        sched.tick()

    def delivered() -> list[dict]:
        return [r["json"] for r in events(receiver, PD_PATH) if r["status"] == 202]

    assert recon.incidents.incidents()[0]["status"] == "open"
    assert pagerduty_does(delivered()) == ([first], {first: "acknowledged"})
    fix()
    factory.journal("prog_b", [("user:u2", "credit", "999999.00")])
    clock.advance(minutes=10)
    sched.tick()
    assert recon.incidents.incidents()[0]["status"] == "resolved"
    assert pagerduty_does(delivered()) == ([first], {})


def test_a_page_pagerduty_refused_is_triggered_again_at_the_reminder_once_it_answers(
        db_url, db, factory, receiver):
    """PagerDuty refused the P0's trigger (a 400: a wrong routing key, since corrected; or 24 h
    of outage): the message is given up, and before, nothing ever triggered again — reminders
    do not page — so the on-call was never paged for an incident open for days. Now the
    reminder re-sends the trigger (same dedup_key) while the incident's page is lost."""
    receiver.codes[PD_PATH] = 400
    recon = Recon(settings_for(db_url, PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
                               PAGERDUTY_EVENTS_URL=receiver.base + PD_PATH,
                               WORKER_DOWN_SECONDS=86400))
    factory.heartbeat("worker-1", last_seen_at=datetime.now(timezone.utc))
    clock = start_clock()
    sched = monitor_only(recon, clock)
    fix = plant_ledger_imbalance(factory, db, clock)
    sched.tick()
    [incident] = recon.incidents.incidents()
    assert [r["status"] for r in events(receiver, PD_PATH)] == [400]  # given up at once
    receiver.codes[PD_PATH] = 202  # the key is corrected
    clock.advance(hours=5)  # the reminder is due
    sched.tick()
    sent = [r for r in events(receiver, PD_PATH) if r["status"] == 202]
    assert [(r["json"]["event_action"], r["json"]["dedup_key"]) for r in sent] == [
        ("trigger", str(incident["id"]))]
    jsonschema.validate(sent[0]["json"], PD_TRIGGER)
    clock.advance(hours=5)  # paged now: the next reminder does not page again
    sched.tick()
    assert len([r for r in events(receiver, PD_PATH) if r["status"] == 202]) == 1
    fix()
    clock.advance(minutes=10)
    sched.tick()
    clock.advance(minutes=10)
    sched.tick()
    assert events(receiver, PD_PATH)[-1]["json"] == {
        "routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": str(incident["id"])}
